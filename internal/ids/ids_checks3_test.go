package ids_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"loginsign/internal/ids"
)

// New is the prefix and 24 base32 characters (120 bits), different on every call.
func TestNewIsTwentyFourRandomCharacters(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 50 {
		id := ids.New(ids.User)
		rest, ok := strings.CutPrefix(id, ids.User)
		if !ok || len(rest) != 24 || !ids.Valid(ids.User, id) {
			t.Fatalf("New(%q) = %q, want the prefix and 24 base32 characters", ids.User, id)
		}
		if seen[id] {
			t.Fatalf("New returned %q twice", id)
		}
		seen[id] = true
	}
}

// Secret is the prefix and 32 random bytes in unpadded base64url, different on every call.
func TestSecretIsThirtyTwoRandomBytes(t *testing.T) {
	t.Parallel()
	a, b := ids.Secret("ml_"), ids.Secret("ml_")
	if a == b {
		t.Fatalf("Secret returned %q twice", a)
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(a, "ml_"))
	if !strings.HasPrefix(a, "ml_") || err != nil || len(raw) != 32 {
		t.Fatalf("Secret = %q (%d bytes, %v), want ml_ and 32 bytes of base64url", a, len(raw), err)
	}
	if raw2, _ := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(b, "ml_")); string(raw) == string(raw2) {
		t.Fatal("two secrets carry the same bytes")
	}
}

// RandomLower returns exactly n characters of [a-z0-9]; RandomFrom only characters of its
// alphabet.
func TestRandomLowerLengthAndAlphabet(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, 6, 63, 64, 65, 200} {
		s := ids.RandomLower(n)
		if len(s) != n || strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
			t.Errorf("RandomLower(%d) = %q (%d characters), want %d of [a-z0-9]", n, s, len(s), n)
		}
	}
	if s := ids.RandomFrom("xy", 100); len(s) != 100 || strings.Trim(s, "xy") != "" || !strings.Contains(s, "x") || !strings.Contains(s, "y") {
		t.Errorf("RandomFrom(\"xy\", 100) = %q", s)
	}
}

// Equal is equality: same length but other bytes, or a prefix, is not equal.
func TestEqualComparesTheBytes(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		a, b string
		want bool
	}{
		{"secret", "secret", true},
		{"", "", true},
		{"secret", "secreT", false},
		{"secret", "secre", false},
		{"abc", "xyz", false},
	} {
		if got := ids.Equal(tt.a, tt.b); got != tt.want {
			t.Errorf("Equal(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

// MAC is HMAC-SHA256 under its key (RFC 4231 test case 2) and Hash is SHA-256.
func TestMACAndHashKnownAnswers(t *testing.T) {
	t.Parallel()
	if got, want := ids.MAC([]byte("Jefe"), "what do ya want for nothing?"), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"; got != want {
		t.Errorf("MAC = %s, want %s", got, want)
	}
	if ids.MAC([]byte("key one"), "m") == ids.MAC([]byte("key two"), "m") {
		t.Error("MAC is the same under two keys")
	}
	if got, want := ids.Hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"; got != want {
		t.Errorf("Hash(abc) = %s, want %s", got, want)
	}
}

// Kind is the prefix including its underscore, "" without one.
func TestKindIncludesTheUnderscore(t *testing.T) {
	t.Parallel()
	for id, want := range map[string]string{ids.New(ids.User): ids.User, "app_x": "app_", "none": "", "_x": "_"} {
		if got := ids.Kind(id); got != want {
			t.Errorf("Kind(%q) = %q, want %q", id, got, want)
		}
	}
}
