package seal

import (
	"bytes"
	"strings"
	"testing"
)

// A server secret of 15 bytes is refused, one of 16 accepted: the documented floor is exact.
func TestNewRefusesASecretOneByteShortOfSixteen(t *testing.T) {
	t.Parallel()
	if _, err := New([]byte(strings.Repeat("k", 15)), "x"); err == nil {
		t.Error("New with a 15-byte secret = nil error, want it refused")
	}
	if _, err := New([]byte(strings.Repeat("k", 16)), "x"); err != nil {
		t.Errorf("New with a 16-byte secret: %v, want it accepted", err)
	}
}

// The whole secret keys the sealer: two secrets that share their first 16 (or 31) bytes and
// differ after them cannot open each other's sealed values.
func TestEveryByteOfTheSecretKeysTheSealer(t *testing.T) {
	t.Parallel()
	base := "0123456789abcdef0123456789abcde"
	a, err := New([]byte(base+"1"), "test")
	if err != nil {
		t.Fatal(err)
	}
	b, err := New([]byte(base+"2"), "test")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := b.Open(a.Seal([]byte("whsec_x"))); err == nil {
		t.Fatalf("a sealer of another secret opened it: %q", got)
	}
}

// Open refuses input shorter than a nonce, and a ciphertext cut anywhere, with an error and
// without panicking; an empty plaintext round-trips.
func TestOpenRefusesTruncatedInput(t *testing.T) {
	t.Parallel()
	s, err := New([]byte("0123456789abcdef0123456789abcdef"), "test")
	if err != nil {
		t.Fatal(err)
	}
	sealed := s.Seal([]byte("signing key"))
	for _, n := range []int{0, 1, 11, 12, 13, len(sealed) - 1} {
		func() {
			defer func() {
				if v := recover(); v != nil {
					t.Errorf("Open of the first %d bytes panicked: %v", n, v)
				}
			}()
			if got, err := s.Open(sealed[:n]); err == nil {
				t.Errorf("Open of the first %d of %d bytes = %q, nil; want an error", n, len(sealed), got)
			}
		}()
	}
	// A flipped bit in the nonce is refused too.
	tampered := bytes.Clone(sealed)
	tampered[0] ^= 1
	if _, err := s.Open(tampered); err == nil {
		t.Error("Open with a changed nonce = nil error, want refused")
	}
	if got, err := s.Open(s.Seal(nil)); err != nil || len(got) != 0 {
		t.Errorf("Open(Seal(nil)) = %q, %v; want empty, nil", got, err)
	}
}
