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

// PeekLimit is Peek of peekKey and LimitN of key in one round trip (one MULTI … EXEC): the
// two limits of an authenticated call (the caller's failure budget, untouched, and the
// quota, counted) for the price of one. The hit on key is counted even when peekKey's limit
// is spent.
func (s *Store) PeekLimit(ctx context.Context, peekKey string, peekLimit int, key string, n, limit int, window time.Duration) (peekOK bool, peekRetry time.Duration, ok bool, retryAfter time.Duration, err error) {
	pk, k := "rl:"+peekKey, "rl:"+key
	pipe := s.TxPipeline()
	get := pipe.Get(ctx, pk)
	pttl := pipe.PTTL(ctx, pk)
	incr := pipe.IncrBy(ctx, k, int64(n))
	pipe.ExpireNX(ctx, k, window)
	ttl := pipe.PTTL(ctx, k)
	cmds, err := pipe.Exec(ctx)
	if err != nil && !errors.Is(err, redis.Nil) {
		return false, 0, false, 0, fmt.Errorf("rate limit: %w", err)
	}
	for _, c := range cmds {
		if e := c.Err(); e != nil && !errors.Is(e, redis.Nil) {
			return false, 0, false, 0, fmt.Errorf("rate limit: %w", e)
		}
	}
	peekOK, ok = true, true
	if v, _ := get.Int64(); v >= int64(peekLimit) {
		peekOK, peekRetry = false, max(pttl.Val(), time.Second)
	}
	if incr.Val() > int64(limit) {
		ok, retryAfter = false, ttl.Val()
		if retryAfter <= 0 {
			retryAfter = window
		}
	}
	return peekOK, peekRetry, ok, retryAfter, nil
}
