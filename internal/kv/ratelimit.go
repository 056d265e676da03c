package kv

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Limit counts one hit of key in a fixed window and reports whether it is within limit. When
// it is not, retryAfter is the time until the window ends. The counter lives in Redis, so every
// instance shares it.
func (s *Store) Limit(ctx context.Context, key string, limit int, window time.Duration) (ok bool, retryAfter time.Duration, err error) {
	return s.LimitN(ctx, key, 1, limit, window)
}

// LimitN is Limit counting n hits at once (a weighted cost, such as a GraphQL operation's
// complexity).
func (s *Store) LimitN(ctx context.Context, key string, n, limit int, window time.Duration) (ok bool, retryAfter time.Duration, err error) {
	k := "rl:" + key
	pipe := s.TxPipeline()
	incr := pipe.IncrBy(ctx, k, int64(n))
	pipe.ExpireNX(ctx, k, window)
	ttl := pipe.PTTL(ctx, k)
	if _, err := pipe.Exec(ctx); err != nil {
		return false, 0, fmt.Errorf("rate limit: %w", err)
	}
	if incr.Val() <= int64(limit) {
		return true, 0, nil
	}
	retryAfter = ttl.Val()
	if retryAfter <= 0 {
		retryAfter = window
	}
	return false, retryAfter, nil
}

// Peek reports, without counting a hit, whether key has already used up limit in its
// current window, and if so how long until the window ends.
func (s *Store) Peek(ctx context.Context, key string, limit int) (ok bool, retryAfter time.Duration, err error) {
	k := "rl:" + key
	pipe := s.Pipeline()
	get := pipe.Get(ctx, k)
	ttl := pipe.PTTL(ctx, k)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return false, 0, fmt.Errorf("rate limit: %w", err)
	}
	n, _ := get.Int64()
	if n < int64(limit) {
		return true, 0, nil
	}
	return false, max(ttl.Val(), time.Second), nil
}
