package main

import (
	"crypto/hkdf"
	"crypto/sha256"
	"time"
)

// refreshGrace maps LOGINSIGN_REFRESH_GRACE to oauth.Config.RefreshGrace (0 there means the
// default, so "off" is negative).
func refreshGrace(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// rotationKey derives the refresh-rotation key from the server secret, so every instance
// sharing LOGINSIGN_SECRET derives the same successor tokens.
func rotationKey(secret []byte) []byte {
	k, err := hkdf.Key(sha256.New, secret, nil, "loginsign refresh rotation", 32)
	if err != nil {
		panic(err) // only for an impossible key length
	}
	return k
}
