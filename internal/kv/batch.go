package kv

import (
	"context"
	"errors"

	"github.com/redis/go-redis/v9"

	"loginsign/internal/groupcommit"
)

// batches sends the concurrent calls of Transact and GetEach to a Redis server together
// (package groupcommit, as the refresh rotations are written): the first caller sends every
// call queued meanwhile in one pipeline, a transaction still its own MULTI … EXEC (atomic,
// and apart from the others), and hands on to the first caller still waiting. A burst of
// requests is then one write and one read on one connection instead of one each, on both
// sides. A lone call goes at once: nothing waits for company.
//
// Not on a cluster, where a call's keys decide its node.
type batches struct {
	q groupcommit.Queue[*batchCall]
}

// BatchStats is what the batches of Redis calls have done so far, for the metrics; nil when
// the calls are not batched (the embedded store, a cluster).
func (s *Store) BatchStats() *groupcommit.Stats {
	if s.batches == nil {
		return nil
	}
	return &s.batches.q.Stats
}

// batchCall is one call waiting in batches: cmds, as one transaction when multi.
type batchCall struct {
	cmds  [][]string
	multi bool
	out   []any
	err   error
}

// maxBatch bounds the calls of one pipeline.
const maxBatch = 64

// do runs cmds in a batch, as one MULTI … EXEC when multi, and returns their replies in
// Transact's forms; an error reply fails the call.
func (b *batches) do(ctx context.Context, c redis.UniversalClient, cmds [][]string, multi bool) ([]any, error) {
	call := &batchCall{cmds: cmds, multi: multi}
	// The batch is not this caller's alone: it outlives a client that went away (go-redis's
	// read and write timeouts bound it).
	b.q.Do(call, maxBatch, func(batch []*batchCall) { sendBatch(context.WithoutCancel(ctx), c, batch) }, nil, nil)
	return call.out, call.err
}

// sendBatch sends batch in one pipeline and gives each call its replies, or the error of
// its commands (an error reply, or the connection's).
func sendBatch(ctx context.Context, c redis.UniversalClient, batch []*batchCall) {
	pipe := c.Pipeline()
	sent := make([][]*redis.Cmd, len(batch)) // a transaction's EXEC, or a call's commands
	for i, call := range batch {
		if call.multi {
			pipe.Do(ctx, "multi")
		}
		for _, cmd := range call.cmds {
			sent[i] = append(sent[i], pipe.Do(ctx, argRefs(cmd)...))
		}
		if call.multi {
			sent[i] = []*redis.Cmd{pipe.Do(ctx, "exec")}
		}
	}
	pipe.Exec(ctx) // every command's outcome is read from it below
	for i, call := range batch {
		if call.multi {
			call.out, call.err = execReplies(sent[i][0], len(call.cmds))
		} else {
			call.out, call.err = replies(sent[i])
		}
	}
}

// replies are the replies of cmds, or the first error among them.
func replies(cmds []*redis.Cmd) ([]any, error) {
	out := make([]any, len(cmds))
	for i, c := range cmds {
		v, err := c.Result()
		if err != nil && err != redis.Nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// execReplies reads the reply of an EXEC of n commands into Transact's forms.
func execReplies(exec *redis.Cmd, n int) ([]any, error) {
	v, err := exec.Result()
	if err != nil {
		return nil, err // the connection's error, or EXECABORT: a command was refused when queued
	}
	replies, ok := v.([]any)
	if !ok || len(replies) != n {
		return nil, errors.New("redis: EXEC answered no reply per command")
	}
	for _, r := range replies {
		if e, ok := r.(redis.Error); ok {
			return nil, e
		}
	}
	return replies, nil
}

// args are cmd as go-redis takes a command.
func args(cmd []string) []any {
	a := make([]any, len(cmd))
	for i, s := range cmd {
		a[i] = s
	}
	return a
}

// argRefs are cmd as go-redis takes a command, each argument a pointer to cmd's string:
// go-redis writes a *string as the string, and names the command from it, and a pointer
// goes into an interface without the allocation a string takes (one per argument, 8 % of
// a refresh grant's allocations on Redis). cmd must stay as it is until the command is
// sent. Not on a cluster, whose routing reads keys as strings only.
func argRefs(cmd []string) []any {
	a := make([]any, len(cmd))
	for i := range cmd {
		a[i] = &cmd[i]
	}
	return a
}
