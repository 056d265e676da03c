package identity

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// CreatedAt returns when the session named by hash started (its sign-in time, the auth_time
// of OpenID Connect), or the zero time when it does not exist.
func (s *Sessions) CreatedAt(ctx context.Context, hash string) (time.Time, error) {
	v, err := s.kv.HGet(ctx, sessionKey(hash), "created").Result()
	if err != nil {
		if errors.Is(err, redis.Nil) {
			return time.Time{}, nil
		}
		return time.Time{}, fmt.Errorf("reading session: %w", err)
	}
	ms, _ := strconv.ParseInt(v, 10, 64)
	return time.UnixMilli(ms).UTC(), nil
}
