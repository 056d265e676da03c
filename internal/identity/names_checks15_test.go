package identity_test

import (
	"context"
	"strings"
	"testing"

	"loginsign/internal/apperr"
	"loginsign/internal/identity"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/store/storetest"
)

// An account created with a name (the CLI's `users create --name`) took the name trimmed and
// at most 200 bytes, and nothing else was checked: a right-to-left override, a newline, a NUL
// or bytes that are not UTF-8 went into the account and from there into every app's id_token
// and userinfo `name` and every developer list, which the dashboard's rule (profile.CleanName)
// keeps out. And 200 bytes is 66 CJK characters, where the profile allows 200 characters. The
// name must follow the profile's rule: refused with invalid_name and no account created, or
// kept as CleanName keeps it.
func TestAnAccountCreatedWithANameFollowsTheProfilesNameRule(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	ctx := context.Background()
	s := identity.New(db, kvtest.Embedded(t), nil, identity.SessionConfig{})
	for i, name := range []string{"\u202enimda", "Ann\nExample", "Ann\x00", "\xff\xfe", "\u200b", "\u2800"} {
		email := "bad" + string(rune('a'+i)) + "@example.com"
		u, err := s.CreateUser(ctx, email, name)
		if apperr.CodeOf(err) != apperr.Invalid || !strings.Contains(err.Error(), "invalid_name") {
			got := ""
			if u != nil {
				got = u.Name
			}
			t.Errorf("CreateUser with the name %q: %v (kept %q), want invalid_name", name, err, got)
		}
		if n := db.User.Query().CountX(ctx); n != 0 {
			t.Fatalf("%d accounts after refused names, want none", n)
		}
	}
	long := strings.Repeat("店", 200)
	u, err := s.CreateUser(ctx, "shop@example.com", "  "+long+"  ")
	if err != nil {
		t.Fatalf("CreateUser with a name of 200 CJK characters: %v, want it kept (the profile's limit)", err)
	}
	if u.Name != long {
		t.Errorf("name kept as %q, want it trimmed", u.Name)
	}
	composed := "Rene\u0301" // e + combining acute: kept in NFC, as the profile keeps it
	if u, err := s.CreateUser(ctx, "rene@example.com", composed); err != nil {
		t.Errorf("CreateUser(%q): %v, want it kept", composed, err)
	} else if u.Name != "René" {
		t.Errorf("CreateUser(%q) kept %+q, want the name in NFC", composed, u.Name)
	}
}
