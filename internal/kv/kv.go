// Package kv opens the Redis behind REDIS_URL: a real server (standalone, Sentinel or Cluster,
// through go-redis UniversalClient) in production, or the embedded store (package embedded,
// reached over the Redis protocol on in-memory connections) when the URL is empty, so the
// same code path runs embedded.
package kv

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"loginsign/internal/kv/embedded"
)

// Store is an open Redis client and, when embedded, the server behind it.
type Store struct {
	redis.UniversalClient
	Embedded bool
	// Engine is the embedded store, when Embedded.
	Engine *embedded.Store
	stop   func() error
	closed sync.Once
	// down is set by Close: GetEach's in-process path then fails as the client does.
	down atomic.Bool
	err  error
	// batches sends the calls of Transact and GetEach on a Redis server that is not a
	// cluster.
	batches *batches
}

// Options tune Open. Zero fields take the defaults of go-redis and package embedded.
type Options struct {
	// Path is the embedded store's log (sessions survive a restart); empty: memory only.
	Path string
	// MaxKeys and MaxBytes bound the embedded store.
	MaxKeys  int
	MaxBytes int64
	// PoolSize is the client's connection pool size.
	PoolSize int
	// Now is the embedded store's clock (its TTLs); default time.Now. Tests move it to expire
	// keys without waiting (kvtest.EmbeddedClock), as miniredis's FastForward does.
	Now func() time.Time
	// Log receives the embedded store's log failures; default slog.Default().
	Log *slog.Logger
}

// Open connects to rawURL, or starts an embedded store (in memory only) when rawURL is empty.
func Open(ctx context.Context, rawURL string) (*Store, error) {
	return OpenWith(ctx, rawURL, Options{})
}

// OpenWith connects to rawURL, or starts an embedded store when rawURL is empty.
//
// URL forms: redis://[user:pass@]host:port[/db], rediss://… (TLS),
// redis-sentinel://[user:pass@]host:port[,host:port…]/MASTER[/db] and
// redis-cluster://[user:pass@]host:port[,host:port…].
func OpenWith(ctx context.Context, rawURL string, o Options) (*Store, error) {
	if rawURL == "" {
		return openEmbedded(o)
	}
	opts, err := parse(rawURL)
	if err != nil {
		return nil, err
	}
	opts.PoolSize = o.PoolSize
	c := redis.NewUniversalClient(opts)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := c.Ping(pctx).Err(); err != nil {
		c.Close()
		return nil, fmt.Errorf("connecting to redis: %w", err)
	}
	st := &Store{UniversalClient: c, stop: func() error { return nil }}
	if _, cluster := c.(*redis.ClusterClient); !cluster {
		st.batches = &batches{}
	}
	return st, nil
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

// openEmbedded starts the embedded store (package embedded) and a go-redis client that
// reaches it over in-memory connections: no port, no password to leak.
func openEmbedded(opts Options) (*Store, error) {
	eng, err := embedded.Open(embedded.Options{Path: opts.Path, MaxKeys: opts.MaxKeys, MaxBytes: opts.MaxBytes, Now: opts.Now,
		Keep: []string{CounterPrefix, RevokedPrefix}, Capped: []string{CounterPrefix}, EvictFirst: []string{UsedLinkPrefix}, Log: opts.Log})
	if err != nil {
		return nil, err
	}
	srv := embedded.Serve(eng)
	c := redis.NewClient(&redis.Options{Addr: "embedded", Dialer: srv.Dial, Protocol: 2, DisableIdentity: true,
		// No retries: the store is in the process, so a refusal (TRYAGAIN while its log cannot
		// be written) would only come back the same, three times slower.
		PoolSize: opts.PoolSize, MinIdleConns: 2, MaxRetries: -1})
	return &Store{UniversalClient: c, Embedded: true, Engine: eng, stop: func() error {
		srv.Close()
		return eng.Close()
	}}, nil
}

// GetEach reads keys in one round trip and returns their values in order, nil for a
// missing key or a key holding another type (as MGET has it). On the embedded store it is
// one in-process call, without the protocol; on a Redis server one MGET, in a pipeline with
// the calls made meanwhile (batches), or, on a cluster (where the keys may live on different
// nodes), a pipeline of GETs.
func (s *Store) GetEach(ctx context.Context, keys ...string) ([][]byte, error) {
	out := make([][]byte, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	if s.Embedded {
		if s.down.Load() {
			return nil, redis.ErrClosed
		}
		cmds := make([][]string, len(keys))
		for i, k := range keys {
			cmds[i] = []string{"GET", k}
		}
		for i, r := range s.Engine.DoAll(engineArgs(cmds)) {
			if v, ok := r.([]byte); ok { // a key of another type reads as missing, as in MGET
				out[i] = append([]byte{}, v...)
			}
		}
		return out, nil
	}
	if _, cluster := s.UniversalClient.(*redis.ClusterClient); cluster {
		pipe := s.Pipeline()
		cmds := make([]*redis.StringCmd, len(keys))
		for i, k := range keys {
			cmds[i] = pipe.Get(ctx, k)
		}
		if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
			if _, reply := err.(redis.Error); !reply { // a reply (WRONGTYPE) is one key's
				return nil, err
			}
		}
		for i, c := range cmds {
			if b, err := c.Bytes(); err == nil {
				out[i] = b
			}
		}
		return out, nil
	}
	r, err := s.batches.do(ctx, s.UniversalClient, [][]string{append([]string{"MGET"}, keys...)}, false)
	if err != nil {
		return nil, err
	}
	vals, _ := r[0].([]any)
	for i, v := range vals {
		if v, ok := v.(string); ok {
			out[i] = []byte(v)
		}
	}
	return out, nil
}

// Transact runs cmds (each a command name and its arguments) atomically, as MULTI … EXEC,
// in one round trip, and returns their replies in order: a bulk or status reply as a
// string, an integer as int64, a nil reply as nil, an array as []any. A command that fails
// (an error reply) fails the call. On the embedded store it is one in-process call, without
// the protocol; on a Redis server it shares a pipeline with the calls made meanwhile
// (batches); on a cluster it is a transaction pipeline, which go-redis splits by slot.
func (s *Store) Transact(ctx context.Context, cmds ...[]string) ([]any, error) {
	out := make([]any, len(cmds))
	if s.Embedded {
		if s.down.Load() {
			return nil, redis.ErrClosed
		}
		for i, r := range s.Engine.DoAll(engineArgs(cmds)) {
			v, err := embeddedReply(r)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	}
	if s.batches != nil {
		return s.batches.do(ctx, s.UniversalClient, cmds, true)
	}
	pipe := s.TxPipeline()
	results := make([]*redis.Cmd, len(cmds))
	for i, c := range cmds {
		results[i] = pipe.Do(ctx, args(c)...)
	}
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return nil, err
	}
	return replies(results)
}

// engineArgs are cmds as the embedded store takes them, in three allocations whatever their
// number: the store keeps no argument (it copies what it stores) and changes none.
func engineArgs(cmds [][]string) [][][]byte {
	var n, size int
	for _, c := range cmds {
		n += len(c)
		for _, a := range c {
			size += len(a)
		}
	}
	out, flat, buf := make([][][]byte, len(cmds)), make([][]byte, n), make([]byte, 0, size)
	for i, c := range cmds {
		out[i], flat = flat[:len(c):len(c)], flat[len(c):]
		for j, a := range c {
			buf = append(buf, a...)
			out[i][j] = buf[len(buf)-len(a) : len(buf) : len(buf)]
		}
	}
	return out
}

// embeddedReply converts a reply of the embedded store into what go-redis makes of the same
// reply on the wire (Transact's forms); an error reply is returned as a redis.Error.
func embeddedReply(r any) (any, error) {
	switch v := r.(type) {
	case []byte:
		return string(v), nil
	case error:
		return nil, redisError(v.Error())
	case []any:
		arr := make([]any, len(v))
		for i, e := range v {
			x, err := embeddedReply(e)
			if err != nil {
				x = err
			}
			arr[i] = x
		}
		return arr, nil
	case fmt.Stringer: // a status (+OK)
		return v.String(), nil
	default: // int64, nil
		return v, nil
	}
}

// redisError is an error reply, as go-redis reports one (it satisfies redis.Error).
type redisError string

func (e redisError) Error() string { return string(e) }

// RedisError marks the error as a reply of the server.
func (e redisError) RedisError() {}

// Close closes the client and stops an embedded server. For the embedded store, an error
// means writes answered OK may be missing from its log (the embedded store logs it too).
func (s *Store) Close() error {
	s.closed.Do(func() {
		s.down.Store(true)
		s.err = errors.Join(s.UniversalClient.Close(), s.stop())
	})
	return s.err
}
