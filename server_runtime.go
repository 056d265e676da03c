package main

import (
	"crypto/hkdf"
	"crypto/sha256"
	"path/filepath"
	"time"

	"loginsign/internal/kv"
	"loginsign/internal/store"
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

// kvOptions are the embedded store's file and limits and the Redis pool size.
func (c RuntimeConfig) kvOptions(dataDir string) kv.Options {
	return kv.Options{Path: filepath.Join(dataDir, "kv.aof"), MaxKeys: c.KVMaxKeys, MaxBytes: c.KVMaxBytes, PoolSize: c.RedisPoolSize}
}

// sizePool applies LOGINSIGN_DB_MAX_OPEN_CONNS and LOGINSIGN_DB_MAX_IDLE_CONNS.
func (c RuntimeConfig) sizePool(db *store.DB) {
	if c.DBMaxOpenConns > 0 {
		db.SQL.SetMaxOpenConns(c.DBMaxOpenConns)
		if c.DBMaxIdleConns == 0 {
			db.SQL.SetMaxIdleConns(c.DBMaxOpenConns)
		}
	}
	if c.DBMaxIdleConns > 0 {
		db.SQL.SetMaxIdleConns(c.DBMaxIdleConns)
	}
}
