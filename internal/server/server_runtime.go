package server

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
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

// deriveKey derives the key of one purpose (label) from the server secret, so every instance
// sharing LOGINSIGN_SECRET derives the same: the refresh-rotation key ("loginsign refresh
// rotation": the same successor tokens), the recovery-code key, the mail log's digest key.
func deriveKey(secret []byte, label string) []byte {
	k, err := hkdf.Key(sha256.New, secret, nil, label, 32)
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

// warmConns is how many PostgreSQL connections serve opens before it takes requests: 16, or
// the pool's bound when that is lower.
func (c RuntimeConfig) warmConns() int {
	n := 16
	for _, bound := range []int{c.DBMaxOpenConns, c.DBMaxIdleConns} {
		if bound > 0 {
			n = min(n, bound)
		}
	}
	return n
}

// shutdown stops srv gracefully: /readyz answers 503 at once, keep-alive connections are
// closed after their current request, and after cfg.Runtime.ShutdownDrain (time for load
// balancers to notice) the listener closes and in-flight requests get until
// cfg.ShutdownTimeout to finish. A shutdown that runs out of time closes the remaining
// connections, logs, and still returns nil: the process exits 0.
func (s *Server) shutdown(srv *http.Server, cfg *Config) error {
	s.draining.Store(true)
	srv.SetKeepAlivesEnabled(false)
	s.log.Info("shutting down: /readyz answers 503; draining", "drain", cfg.Runtime.ShutdownDrain, "timeout", cfg.ShutdownTimeout)
	time.Sleep(cfg.Runtime.ShutdownDrain)
	ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		s.log.Warn("shutdown timed out; closing the remaining connections", "timeout", cfg.ShutdownTimeout, "err", err)
		srv.Close()
	}
	s.log.Info("stopped")
	return nil
}

// serveDebug serves net/http/pprof on addr (LOGINSIGN_DEBUG_ADDR); the returned function
// stops it.
func serveDebug(addr string, log *slog.Logger) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("debug listener %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	log.Warn("pprof debug listener is on; keep it on loopback", "addr", ln.Addr().String())
	return func() { srv.Close() }, nil
}
