package seal

import (
	"bytes"
	"testing"
)

func TestSealRoundTripAndTamper(t *testing.T) {
	t.Parallel()
	s, err := New([]byte("0123456789abcdef0123456789abcdef"), "test")
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("whsec_secret")
	a, b := s.Seal(msg), s.Seal(msg)
	if bytes.Equal(a, b) || bytes.Contains(a, msg) {
		t.Fatal("sealing is deterministic or leaks the plaintext")
	}
	if got, err := s.Open(a); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	a[len(a)-1] ^= 1
	if _, err := s.Open(a); err == nil {
		t.Fatal("tampered ciphertext opened")
	}
	other, _ := New([]byte("0123456789abcdef0123456789abcdef"), "other purpose")
	if _, err := other.Open(b); err == nil {
		t.Fatal("a key for another purpose opened it")
	}
	if _, err := New([]byte("short"), "x"); err == nil {
		t.Fatal("short secret accepted")
	}
}
