package kv

import (
	"context"
	"fmt"
	"time"
)

// Limit counts one hit of key in a fixed window and reports whether it is within limit. When
// it is not, retryAfter is the time until the window ends. The counter lives in Redis, so every
// instance shares it.
func (s *Store) Limit(ctx context.Context, key string, limit int, window time.Duration) (ok bool, retryAfter time.Duration, err error) {
	k := "rl:" + key
	pipe := s.TxPipeline()
	incr := pipe.Incr(ctx, k)
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
