// Package kv opens the Redis behind REDIS_URL: a real server (standalone, Sentinel or Cluster,
// through go-redis UniversalClient) in production, or an in-process Redis-protocol server when
// the URL is empty, so the same code path runs embedded.
package kv

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// Store is an open Redis client and, when embedded, the server behind it.
type Store struct {
	redis.UniversalClient
	Embedded bool
	stop     func()
}

// Open connects to rawURL, or starts an embedded server when rawURL is empty.
//
// URL forms: redis://[user:pass@]host:port[/db], rediss://… (TLS),
// redis-sentinel://[user:pass@]host:port[,host:port…]/MASTER[/db] and
// redis-cluster://[user:pass@]host:port[,host:port…].
func Open(ctx context.Context, rawURL string) (*Store, error) {
	if rawURL == "" {
		return openEmbedded()
	}
	opts, err := parse(rawURL)
	if err != nil {
		return nil, err
	}
	c := redis.NewUniversalClient(opts)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := c.Ping(pctx).Err(); err != nil {
		c.Close()
		return nil, fmt.Errorf("connecting to redis: %w", err)
	}
	return &Store{UniversalClient: c, stop: func() {}}, nil
}

func parse(rawURL string) (*redis.UniversalOptions, error) {
	switch {
	case strings.HasPrefix(rawURL, "redis://"), strings.HasPrefix(rawURL, "rediss://"):
		o, err := redis.ParseURL(rawURL)
		if err != nil {
			return nil, fmt.Errorf("REDIS_URL: %w", err)
		}
		return &redis.UniversalOptions{
			Addrs: []string{o.Addr}, Username: o.Username, Password: o.Password,
			DB: o.DB, TLSConfig: o.TLSConfig,
		}, nil
	case strings.HasPrefix(rawURL, "redis-sentinel://"), strings.HasPrefix(rawURL, "redis-cluster://"):
		u, err := url.Parse(rawURL)
		if err != nil {
			return nil, fmt.Errorf("REDIS_URL: %w", err)
		}
		o := &redis.UniversalOptions{Addrs: strings.Split(u.Host, ",")}
		if u.User != nil {
			o.Username = u.User.Username()
			o.Password, _ = u.User.Password()
		}
		if u.Scheme == "redis-sentinel" {
			parts := strings.Split(strings.Trim(u.Path, "/"), "/")
			if parts[0] == "" {
				return nil, fmt.Errorf("REDIS_URL: redis-sentinel:// needs the master name as its path")
			}
			o.MasterName = parts[0]
			if len(parts) > 1 {
				fmt.Sscanf(parts[1], "%d", &o.DB)
			}
		} else {
			o.IsClusterMode = true
		}
		return o, nil
	default:
		return nil, fmt.Errorf("REDIS_URL %q: want redis://, rediss://, redis-sentinel:// or redis-cluster://", rawURL)
	}
}

// openEmbedded starts an in-process Redis-protocol server on loopback. Its data lives in
// memory only: a restart logs everyone out and voids in-flight codes, nothing durable is lost.
func openEmbedded() (*Store, error) {
	mr := miniredis.NewMiniRedis()
	if err := mr.StartAddr("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("starting embedded redis: %w", err)
	}
	// The embedded server does not expire keys by the wall clock on its own; advance it.
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		last := time.Now()
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				mr.SetTime(now)
				mr.FastForward(now.Sub(last))
				last = now
			}
		}
	}()
	c := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{mr.Addr()}})
	return &Store{UniversalClient: c, Embedded: true, stop: func() { close(done); mr.Close() }}, nil
}

// Close closes the client and stops an embedded server.
func (s *Store) Close() error {
	err := s.UniversalClient.Close()
	s.stop()
	return err
}
