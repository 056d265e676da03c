package store_test

import (
	"strings"
	"testing"
	"time"

	"entgo.io/contrib/entgql"

	"loginsign/internal/apperr"
	"loginsign/internal/store"
)

// A cursor text of up to 512 characters is read; a longer one, though well formed, is not
// one this server gave out.
func TestCursorTextsLongerThan512AreRefused(t *testing.T) {
	t.Parallel()
	ofLength := func(n int) string {
		t.Helper()
		for l := 1; l < 600; l++ {
			if text := store.CursorText(&store.Cursor{ID: strings.Repeat("x", l), Value: "v"}); len(text) == n {
				return text
			}
		}
		t.Fatalf("no cursor text of %d characters", n)
		return ""
	}
	if c, err := store.ParseCursor(ofLength(512), "bad cursor"); err != nil || c == nil {
		t.Errorf("a cursor of 512 characters: %v, %v; want it read", c, err)
	}
	for _, n := range []int{514, 520, 611} {
		if _, err := store.ParseCursor(ofLength(n), "bad cursor"); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("a cursor of %d characters: %v, want Invalid", n, err)
		}
	}
}

// A well-formed cursor whose value no column holds (a map, a list inside the list) is refused.
func TestCursorsHoldingNoColumnsValuesAreRefused(t *testing.T) {
	t.Parallel()
	for name, value := range map[string]any{
		"map":         map[string]any{"a": 1},
		"nested list": []any{"a", []any{1}},
	} {
		text := store.CursorText(&store.Cursor{ID: "01HZXYZ", Value: value})
		if _, err := store.ParseCursor(text, "bad cursor"); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("%s: ParseCursor = %v, want Invalid", name, err)
		}
	}
	text := store.CursorText(&store.Cursor{ID: "01HZXYZ", Value: []any{"a", int64(3), nil, true}})
	if _, err := store.ParseCursor(text, "bad cursor"); err != nil {
		t.Errorf("a list of column values: %v", err)
	}
}

// The next cursor is the end cursor of a page that has a next page, and none otherwise.
func TestNextCursorOnlyWhenThereIsANextPage(t *testing.T) {
	t.Parallel()
	end := &store.Cursor{ID: "01HZXYZ", Value: "v"}
	if got := store.NextCursor(entgql.PageInfo[string]{HasNextPage: true, EndCursor: end}); got == nil || *got != store.CursorText(end) {
		t.Errorf("next page: %v, want the end cursor's text", got)
	}
	if got := store.NextCursor(entgql.PageInfo[string]{HasNextPage: false, EndCursor: end}); got != nil {
		t.Errorf("last page: %q, want none", *got)
	}
	if got := store.NextCursor(entgql.PageInfo[string]{HasNextPage: true}); got != nil {
		t.Errorf("no end cursor: %q, want none", *got)
	}
}

// CheckCursors takes the cursors a list of the given ordering gives out, and refuses others.
func TestCheckCursorsTakesOnlyTheListsOwnCursors(t *testing.T) {
	t.Parallel()
	now := time.Now()
	time1 := []store.CursorValue{store.TimeValue}
	for _, tc := range []struct {
		name   string
		multi  bool
		kinds  []store.CursorValue
		cursor *store.Cursor
		ok     bool
	}{
		{"no cursor", false, time1, nil, true},
		{"a cursor without values, by id alone", false, time1, &store.Cursor{ID: "a"}, true},
		{"a time for a time", false, time1, &store.Cursor{ID: "a", Value: now}, true},
		{"a time for a nullable time", false, []store.CursorValue{store.NullableTimeValue}, &store.Cursor{ID: "a", Value: now}, true},
		{"no id", false, time1, &store.Cursor{Value: now}, false},
		{"a text for a time", false, time1, &store.Cursor{ID: "a", Value: "2026-05-01"}, false},
		{"an integer for an integer", false, []store.CursorValue{store.IntValue}, &store.Cursor{ID: "a", Value: int64(3)}, true},
		{"a fraction for an integer", false, []store.CursorValue{store.IntValue}, &store.Cursor{ID: "a", Value: 1.5}, false},
		{"a boolean for an integer", false, []store.CursorValue{store.IntValue}, &store.Cursor{ID: "a", Value: true}, false},
		{"one value for a list of fields", true, []store.CursorValue{store.StringValue}, &store.Cursor{ID: "a", Value: "x"}, false},
		{"a list for one field", false, []store.CursorValue{store.StringValue}, &store.Cursor{ID: "a", Value: []any{"x"}}, false},
		{"values of the fields", true, []store.CursorValue{store.NullableTimeValue, store.StringValue, store.IDValue},
			&store.Cursor{ID: "a", Value: []any{nil, "x", "id1"}}, true},
		{"the id left out (nil)", true, []store.CursorValue{store.StringValue, store.IDValue},
			&store.Cursor{ID: "a", Value: []any{"x", nil}}, true},
		{"fewer values than fields", true, []store.CursorValue{store.TimeValue, store.IDValue},
			&store.Cursor{ID: "a", Value: []any{now}}, false},
		{"more values than fields", true, []store.CursorValue{store.TimeValue},
			&store.Cursor{ID: "a", Value: []any{now, "id1"}}, false},
		{"a wrong first value", true, []store.CursorValue{store.TimeValue, store.IDValue},
			&store.Cursor{ID: "a", Value: []any{"x", "id1"}}, false},
		{"nil for a time that is never NULL", true, []store.CursorValue{store.TimeValue, store.IDValue},
			&store.Cursor{ID: "a", Value: []any{nil, "id1"}}, false},
	} {
		err := store.CheckCursors(tc.multi, tc.kinds, nil, tc.cursor)
		if tc.ok && err != nil {
			t.Errorf("%s: refused: %v", tc.name, err)
		}
		if !tc.ok && !apperr.Is(err, apperr.Invalid) {
			t.Errorf("%s: %v, want Invalid", tc.name, err)
		}
	}
	good := &store.Cursor{ID: "a", Value: now}
	if err := store.CheckCursors(false, time1, good, &store.Cursor{ID: "b", Value: "x"}); !apperr.Is(err, apperr.Invalid) {
		t.Errorf("a good cursor and a bad one: %v, want Invalid", err)
	}
}
