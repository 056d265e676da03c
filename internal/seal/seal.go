// Package seal encrypts the few secrets LoginSign must be able to read back (webhook signing
// secrets, signing keys) with AES-256-GCM under a key derived from LOGINSIGN_SECRET.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// Sealer seals and opens byte strings.
type Sealer struct{ aead cipher.AEAD }

// New derives the sealing key for purpose from the server secret.
func New(serverSecret []byte, purpose string) (*Sealer, error) {
	if len(serverSecret) < 16 {
		return nil, errors.New("seal: server secret shorter than 16 bytes")
	}
	key, err := hkdf.Key(sha256.New, serverSecret, nil, "loginsign seal "+purpose, 32)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plaintext; the nonce is prepended.
func (s *Sealer) Seal(plaintext []byte) []byte {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plaintext)+s.aead.Overhead())
	rand.Read(nonce)
	return s.aead.Seal(nonce, nonce, plaintext, nil)
}

// Open decrypts what Seal returned.
func (s *Sealer) Open(sealed []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("seal: ciphertext too short")
	}
	out, err := s.aead.Open(nil, sealed[:n], sealed[n:], nil)
	if err != nil {
		return nil, errors.New("seal: cannot open (was LOGINSIGN_SECRET changed?)")
	}
	return out, nil
}
