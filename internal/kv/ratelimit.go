package kv

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// CounterPrefix starts the keys of rate-limit counters (and of other counters that enforce a
// limit, such as the tries at a sign-in code). The embedded store never evicts them for room
// (embedded.Options.Keep): a flood of other writes must not reset a limit. Since anyone can
// have new ones written, they take at most half of the store (embedded.Options.Capped): past
// that a new counter is refused (OOM, 503) rather than pushing out sessions.
const CounterPrefix = "rl:"

// RevokedPrefix starts the keys of the markers of revoked token families (package oauth):
// present, a marker refuses a token written for its family after the revocation. The
// embedded store never evicts them for room either: they expire sooner than much that
// anonymous requests write (a sign-in link's day-long record), so a flood of those at the
// bound would push a marker out, and a token of a revoked family written meanwhile would live.
// Only revocations write them.
const RevokedPrefix = "frv:"

// UsedLinkPrefix starts the keys that remember an old sign-in link's address for its error
// page (package oauth), a day long. The embedded store evicts them before any other key
// (embedded.Options.EvictFirst): anyone can have them written (one per sign-in mail asked
// for), and under the volatile-ttl order a day-long one would outlive every session idle for a
// while, so a flood of them would push out sessions while they stayed.
const UsedLinkPrefix = "mlx:"

// Limit counts one hit of key in a fixed window and reports whether it is within limit. When
// it is not, retryAfter is the time until the window ends. The counter lives in Redis, so every
// instance shares it.
func (s *Store) Limit(ctx context.Context, key string, limit int, window time.Duration) (ok bool, retryAfter time.Duration, err error) {
	return s.LimitN(ctx, key, 1, limit, window)
}

// LimitN is Limit counting n hits at once (a weighted cost, such as a GraphQL operation's
// complexity).
func (s *Store) LimitN(ctx context.Context, key string, n, limit int, window time.Duration) (ok bool, retryAfter time.Duration, err error) {
	return s.limitCounter(ctx, key, int64(n), -1, limit, window)
}

// LimitField is Limit of key's field (0 or 1): a counter that holds the hits of two limits of
// the same window, field 0's in its low 32 bits and field 1's above them, so that two limits
// that count the same subjects keep one key per subject, not two. The window starts with the
// first hit of either. Field 0 past 2^32 hits carries into field 1 (which then counts one hit
// more, never fewer), and field 1 takes at most 2^31 hits: give field 1 to the limit whose
// hits another limit bounds.
func (s *Store) LimitField(ctx context.Context, key string, field, limit int, window time.Duration) (ok bool, retryAfter time.Duration, err error) {
	field = min(max(field, 0), 1)
	return s.limitCounter(ctx, key, 1<<(32*field), field, limit, window)
}

// limitCounter counts add on key's counter and checks against limit the whole count (field
// -1) or the field's 32 bits (LimitField).
func (s *Store) limitCounter(ctx context.Context, key string, add int64, field, limit int, window time.Duration) (ok bool, retryAfter time.Duration, err error) {
	r, err := s.Transact(ctx, countCmds(CounterPrefix+key, add, window)...)
	if err != nil {
		return false, 0, fmt.Errorf("rate limit: %w", err)
	}
	if field >= 0 {
		n, _ := r[0].(int64)
		r[0] = n >> (32 * field) & (1<<32 - 1)
	}
	ok, retryAfter = counted(r, limit, window)
	return ok, retryAfter, nil
}

// Unlimit takes back n hits of key that LimitN counted for an operation that then failed. It
// cannot tell a counter whose window ended meanwhile from one still running: a new window then
// starts at -n, allowing n hits more than limit, once, for an operation that failed just as
// its window ended.
func (s *Store) Unlimit(ctx context.Context, key string, n int, window time.Duration) error {
	k := CounterPrefix + key
	ms := strconv.FormatInt(max(window.Milliseconds(), 1), 10)
	if _, err := s.Transact(ctx, []string{"INCRBY", k, strconv.Itoa(-n)}, []string{"PEXPIRE", k, ms, "NX"}); err != nil {
		return fmt.Errorf("rate limit: %w", err)
	}
	return nil
}

// Peek reports, without counting a hit, whether key has already used up limit in its
// current window, and if so how long until the window ends.
func (s *Store) Peek(ctx context.Context, key string, limit int) (ok bool, retryAfter time.Duration, err error) {
	r, err := s.Transact(ctx, peekCmds(CounterPrefix+key)...)
	if err != nil {
		return false, 0, fmt.Errorf("rate limit: %w", err)
	}
	ok, retryAfter = peeked(r, limit)
	return ok, retryAfter, nil
}

// PeekEach is Peek of each of keys against the limit at the same index, in one round trip:
// ok is false when any of them has used up its limit, retryAfter then the longest wait.
func (s *Store) PeekEach(ctx context.Context, keys []string, limits []int) (ok bool, retryAfter time.Duration, err error) {
	var cmds [][]string
	for _, k := range keys {
		cmds = append(cmds, PeekCmds(k)...)
	}
	r, err := s.Transact(ctx, cmds...)
	if err != nil {
		return false, 0, fmt.Errorf("rate limit: %w", err)
	}
	ok = true
	for i, limit := range limits {
		if kOK, retry := ReadPeek(r[2*i:], limit); !kOK {
			ok, retryAfter = false, max(retryAfter, retry)
		}
	}
	return ok, retryAfter, nil
}

// PeekCmds are Peek of key as commands for Transact; ReadPeek reads their replies.
func PeekCmds(key string) [][]string { return peekCmds(CounterPrefix + key) }

// ReadPeek reads the replies of PeekCmds (the first two of r): Peek's answer.
func ReadPeek(r []any, limit int) (ok bool, retryAfter time.Duration) { return peeked(r[:2], limit) }

// PeekLimitCmds are Peek of peekKey and LimitN of key as commands for Transact: the two
// limits of an authenticated call (the caller's failure budget, untouched, and the quota,
// counted), to run in a round trip of the caller's own, ahead of its commands. The hit on key
// is counted even when peekKey's limit is spent. ReadPeekLimit reads their replies.
func PeekLimitCmds(peekKey, key string, n int, window time.Duration) [][]string {
	return append(peekCmds(CounterPrefix+peekKey), countCmds(CounterPrefix+key, int64(n), window)...)
}

// ReadPeekLimit reads the replies of PeekLimitCmds (the first len of them of a Transact):
// Peek's answer for the peeked key, LimitN's for the counted one.
func ReadPeekLimit(r []any, peekLimit, limit int, window time.Duration) (peekOK bool, peekRetry time.Duration, ok bool, retryAfter time.Duration) {
	peekOK, peekRetry = peeked(r[:2], peekLimit)
	ok, retryAfter = counted(r[2:5], limit, window)
	return peekOK, peekRetry, ok, retryAfter
}

// The limits are Transact calls, so that the embedded store runs them in process, without
// the protocol (on Redis they are the same MULTI … EXEC as before).

// countCmds counts n hits of the counter k, whose window starts with its first hit.
func countCmds(k string, n int64, window time.Duration) [][]string {
	ms := strconv.FormatInt(max(window.Milliseconds(), 1), 10)
	return [][]string{{"INCRBY", k, strconv.FormatInt(n, 10)}, {"PEXPIRE", k, ms, "NX"}, {"PTTL", k}}
}

// counted reads countCmds' replies: whether the count is within limit, and if not the
// time left in the window.
func counted(r []any, limit int, window time.Duration) (ok bool, retryAfter time.Duration) {
	if n, _ := r[0].(int64); n <= int64(limit) {
		return true, 0
	}
	if ms, _ := r[2].(int64); ms > 0 {
		return false, time.Duration(ms) * time.Millisecond
	}
	return false, window
}

// peekCmds read the counter k and its time left.
func peekCmds(k string) [][]string {
	return [][]string{{"GET", k}, {"PTTL", k}}
}

// peeked reads peekCmds' replies: whether the counter is below limit, and if not the time
// left in its window (at least a second).
func peeked(r []any, limit int) (ok bool, retryAfter time.Duration) {
	v, _ := r[0].(string)
	if n, _ := strconv.ParseInt(v, 10, 64); n < int64(limit) {
		return true, 0
	}
	ms, _ := r[1].(int64)
	return false, max(time.Duration(ms)*time.Millisecond, time.Second)
}
