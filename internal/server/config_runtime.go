package server

import (
	"flag"
	"fmt"
	"net"
	"strconv"
	"time"
)

// RuntimeConfig is how the server holds up: the refresh grace window, the embedded store's
// limits, pool sizes, timeouts, shutdown and the debug listener. Every field has an
// environment variable and a flag of `loginsign serve`.
type RuntimeConfig struct {
	// RefreshGrace is how long a just-rotated refresh token may be presented again by the same
	// client and get the same new token pair (LOGINSIGN_REFRESH_GRACE, default 5s; 0 turns it
	// off: every second use revokes the family).
	RefreshGrace time.Duration
	// SyncRotations makes the refresh rotations commit synchronously on PostgreSQL
	// (LOGINSIGN_ROTATION_COMMIT=sync; default async: README, "On PostgreSQL the rotations
	// commit asynchronously").
	SyncRotations bool
	// KVMaxKeys and KVMaxBytes bound the embedded store (LOGINSIGN_KV_MAX_KEYS, default
	// 2000000; LOGINSIGN_KV_MAX_BYTES, default 512 MiB). Over either, the keys expiring
	// soonest are evicted.
	KVMaxKeys  int
	KVMaxBytes int64
	// DBMaxOpenConns and DBMaxIdleConns size the SQL pool (LOGINSIGN_DB_MAX_OPEN_CONNS,
	// LOGINSIGN_DB_MAX_IDLE_CONNS; defaults: SQLite 8 and 8, PostgreSQL 32 and 32). Idle
	// connections equal to open ones keep the pool from reopening under load.
	DBMaxOpenConns, DBMaxIdleConns int
	// RedisPoolSize is go-redis's pool size (LOGINSIGN_REDIS_POOL_SIZE, default 10 per CPU).
	RedisPoolSize int
	// BodyIdleTimeout is the longest wait for the next bytes of a request body
	// (LOGINSIGN_BODY_IDLE_TIMEOUT, default 15s); the whole request still has 60s.
	BodyIdleTimeout time.Duration
	// ShutdownDrain is how long /readyz answers 503 before the listener closes, so that load
	// balancers stop sending (LOGINSIGN_SHUTDOWN_DRAIN, default 5s; 0 in dev mode).
	ShutdownDrain time.Duration
	// DebugAddr is the listen address of net/http/pprof (LOGINSIGN_DEBUG_ADDR; empty, the
	// default: off). Bind it to loopback: it has no authentication.
	DebugAddr string
}

// flags registers the runtime flags on fs; the returned function validates them after
// fs.Parse (dev picks the dev defaults).
func (c *RuntimeConfig) flags(fs *flag.FlagSet, env func(k, def string) string) func(dev bool) error {
	var grace, commit, keys, bytes, open, idle, pool, body, drain string
	fs.StringVar(&grace, "refresh-grace", env("LOGINSIGN_REFRESH_GRACE", "5s"), "retry window of a rotated refresh token; 0: off (LOGINSIGN_REFRESH_GRACE)")
	fs.StringVar(&commit, "rotation-commit", env("LOGINSIGN_ROTATION_COMMIT", "async"), "PostgreSQL: refresh rotations commit async or sync (LOGINSIGN_ROTATION_COMMIT)")
	fs.StringVar(&keys, "kv-max-keys", env("LOGINSIGN_KV_MAX_KEYS", "2000000"), "embedded store: most keys (LOGINSIGN_KV_MAX_KEYS)")
	fs.StringVar(&bytes, "kv-max-bytes", env("LOGINSIGN_KV_MAX_BYTES", strconv.Itoa(512<<20)), "embedded store: most bytes (LOGINSIGN_KV_MAX_BYTES)")
	fs.StringVar(&open, "db-max-open-conns", env("LOGINSIGN_DB_MAX_OPEN_CONNS", "0"), "SQL pool size; 0: default (LOGINSIGN_DB_MAX_OPEN_CONNS)")
	fs.StringVar(&idle, "db-max-idle-conns", env("LOGINSIGN_DB_MAX_IDLE_CONNS", "0"), "idle SQL connections kept; 0: default (LOGINSIGN_DB_MAX_IDLE_CONNS)")
	fs.StringVar(&pool, "redis-pool-size", env("LOGINSIGN_REDIS_POOL_SIZE", "0"), "Redis pool size; 0: default (LOGINSIGN_REDIS_POOL_SIZE)")
	fs.StringVar(&body, "body-idle-timeout", env("LOGINSIGN_BODY_IDLE_TIMEOUT", "15s"), "longest wait between body bytes (LOGINSIGN_BODY_IDLE_TIMEOUT)")
	fs.StringVar(&drain, "shutdown-drain", env("LOGINSIGN_SHUTDOWN_DRAIN", ""), "/readyz 503 before closing; default 5s, 0 in dev (LOGINSIGN_SHUTDOWN_DRAIN)")
	fs.StringVar(&c.DebugAddr, "debug-addr", env("LOGINSIGN_DEBUG_ADDR", ""), "pprof listen address; empty: off (LOGINSIGN_DEBUG_ADDR)")
	return func(dev bool) error {
		dur := func(name, v string, d *time.Duration) error {
			x, err := time.ParseDuration(v)
			if err != nil || x < 0 {
				return fmt.Errorf("%s %q: want a duration such as 5s", name, v)
			}
			*d = x
			return nil
		}
		num := func(name, v string, n *int64) error {
			x, err := strconv.ParseInt(v, 10, 64)
			if err != nil || x < 0 {
				return fmt.Errorf("%s %q: want a number ≥ 0", name, v)
			}
			*n = x
			return nil
		}
		if drain == "" {
			drain = "5s"
			if dev {
				drain = "0s"
			}
		}
		var k, o, i, p int64
		for _, err := range []error{
			dur("LOGINSIGN_REFRESH_GRACE", grace, &c.RefreshGrace),
			dur("LOGINSIGN_BODY_IDLE_TIMEOUT", body, &c.BodyIdleTimeout),
			dur("LOGINSIGN_SHUTDOWN_DRAIN", drain, &c.ShutdownDrain),
			num("LOGINSIGN_KV_MAX_KEYS", keys, &k),
			num("LOGINSIGN_KV_MAX_BYTES", bytes, &c.KVMaxBytes),
			num("LOGINSIGN_DB_MAX_OPEN_CONNS", open, &o),
			num("LOGINSIGN_DB_MAX_IDLE_CONNS", idle, &i),
			num("LOGINSIGN_REDIS_POOL_SIZE", pool, &p),
		} {
			if err != nil {
				return err
			}
		}
		c.KVMaxKeys, c.DBMaxOpenConns, c.DBMaxIdleConns, c.RedisPoolSize = int(k), int(o), int(i), int(p)
		switch commit {
		case "async", "sync":
			c.SyncRotations = commit == "sync"
		default:
			return fmt.Errorf("LOGINSIGN_ROTATION_COMMIT %q: want async or sync", commit)
		}
		if c.BodyIdleTimeout == 0 {
			return fmt.Errorf("LOGINSIGN_BODY_IDLE_TIMEOUT must be more than 0")
		}
		if c.DebugAddr != "" {
			if _, _, err := net.SplitHostPort(c.DebugAddr); err != nil {
				return fmt.Errorf("LOGINSIGN_DEBUG_ADDR %q: want host:port such as 127.0.0.1:6060", c.DebugAddr)
			}
		}
		return nil
	}
}
