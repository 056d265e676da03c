package logx

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// TestRedactionLeavesIdentifiersAndPlainWordsAlone: ids (usr_…, app_…, msg_…), paths,
// words with "ls" in them and short values that only look like a prefix pass as they are;
// a token loses its secret and keeps its kind.
func TestRedactionLeavesIdentifiersAndPlainWordsAlone(t *testing.T) {
	for in, want := range map[string]string{
		"usr_abcdefghijklmnopqrstuvwx app_abcdefghijklmnopqrstuvwx":      "usr_abcdefghijklmnopqrstuvwx app_abcdefghijklmnopqrstuvwx",
		"/api/developer/applications/app_abcdefghijklmnopqrstuvwx/users": "/api/developer/applications/app_abcdefghijklmnopqrstuvwx/users",
		"false details tools_x": "false details tools_x",
		"lsml_short":            "lsml_short",
		"token lsml_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde end":                "token lsml_••• end",
		"the cookie ses_AbCdEfGhIjKlMnOpQrStUvWxYz":                                 "the cookie ses_•••",
		"550 <ann@example.com> unknown":                                             "550 <•••@example.com> unknown",
		"next=%2Flogin%2Fmagic%3Ftoken%3Dlsml_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789": "next=%2Flogin%2Fmagic%3Ftoken%3Dlsml_•••",
		"xlsml_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789":                                "xlsml_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestTheHandlerKeepsLevelsNumbersAndGroups: what the handler does not redact reaches the
// next handler as it was (level filtering, numbers, durations, nested groups' keys).
func TestTheHandlerKeepsLevelsNumbersAndGroups(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(Handler(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})))
	log.Debug("hidden", "to", "ann@example.com")
	log.WithGroup("req").Info("request", "status", 200, slog.Group("who", "email", "ann@example.com"))
	out := buf.String()
	if strings.Contains(out, "hidden") || strings.Contains(out, "ann@") {
		t.Errorf("log = %s", out)
	}
	if !strings.Contains(out, `"req":{"status":200,"who":{"email":"•••@example.com"}}`) {
		t.Errorf("log = %s, want the group, the number and the redacted address in place", out)
	}
}
