package store_test

import (
	"strings"
	"testing"

	"loginsign/internal/apperr"
	"loginsign/internal/store"
)

// A cursor's text reads back as the same cursor; text no list gave out is a 400 with the
// caller's message, and no text is no cursor.
func TestCursorText(t *testing.T) {
	t.Parallel()
	c := &store.Cursor{ID: "01HZXYZ", Value: "2026-05-01T00:00:00Z"}
	text := store.CursorText(c)
	if text == "" || strings.ContainsAny(text, `"`) {
		t.Fatalf("text %q", text)
	}
	back, err := store.ParseCursor(text, "bad cursor")
	if err != nil || back.ID != c.ID || back.Value != c.Value {
		t.Fatalf("ParseCursor(%q) = %+v, %v", text, back, err)
	}
	if store.CursorText(nil) != "" {
		t.Error("nil cursor has text")
	}
	if c, err := store.ParseCursor("", "bad cursor"); c != nil || err != nil {
		t.Errorf(`ParseCursor("") = %v, %v`, c, err)
	}
	// A cursor whose id or value is text no column holds (a NUL, bytes that are not UTF-8).
	noText := []string{store.CursorText(&store.Cursor{ID: "app_\x00"}), store.CursorText(&store.Cursor{ID: "app_\xff"}),
		store.CursorText(&store.Cursor{ID: "app_x", Value: []any{"a\x00"}})}
	for _, bad := range append([]string{"not a cursor!", "%%%", strings.Repeat("A", 600)}, noText...) {
		_, err := store.ParseCursor(bad, "bad cursor")
		if !apperr.Is(err, apperr.Invalid) || !strings.Contains(err.Error(), "bad cursor") {
			t.Errorf("ParseCursor(%.20q) = %v, want Invalid with the message", bad, err)
		}
	}
}
