package kv

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/redis/go-redis/v9"
)

// txBatches sends concurrent Transact calls to a Redis server together (group commit, as the
// refresh rotations are written): the first caller sends every transaction queued meanwhile
// in one pipeline, each still its own MULTI … EXEC (atomic, and apart from the others), and
// hands on to the first caller still waiting. A burst of token-endpoint requests is then one
// write and one read on one connection instead of one each, on both sides. A lone call goes
// at once: nothing waits for company.
//
// Not on a cluster, where a transaction's keys decide its node (go-redis's TxPipeline splits
// it by slot there).
type txBatches struct {
	mu      sync.Mutex
	pending []*txCall
	running bool
}

// txCall is one Transact call waiting in txBatches.
type txCall struct {
	cmds [][]string
	out  []any
	err  error
	done chan struct{} // closed when out or err is set
	lead chan struct{} // closed when this call's goroutine is to send the next batch
}

// maxTxBatch bounds the transactions of one pipeline.
const maxTxBatch = 64

// transact runs cmds as one MULTI … EXEC in a batch.
func (b *txBatches) transact(ctx context.Context, c redis.UniversalClient, cmds [][]string) ([]any, error) {
	call := &txCall{cmds: cmds, done: make(chan struct{}), lead: make(chan struct{})}
	b.mu.Lock()
	b.pending = append(b.pending, call)
	lead := !b.running
	b.running = true
	b.mu.Unlock()
	if !lead {
		select {
		case <-call.done:
			return call.out, call.err
		case <-call.lead:
		}
	}
	for {
		b.mu.Lock()
		n := min(len(b.pending), maxTxBatch)
		batch := slices.Clone(b.pending[:n])
		b.pending = b.pending[n:]
		b.mu.Unlock()
		// The batch is not this caller's alone: it outlives a client that went away (go-redis's
		// read and write timeouts bound it).
		sendTxBatch(context.WithoutCancel(ctx), c, batch)
		select {
		case <-call.done:
		default:
			continue
		}
		b.mu.Lock()
		if len(b.pending) > 0 {
			close(b.pending[0].lead)
		} else {
			b.running = false
		}
		b.mu.Unlock()
		return call.out, call.err
	}
}

// sendTxBatch sends batch in one pipeline and gives each call its replies: Transact's forms,
// or the error of its transaction (an error reply of one of its commands, or the connection's).
func sendTxBatch(ctx context.Context, c redis.UniversalClient, batch []*txCall) {
	pipe := c.Pipeline()
	execs := make([]*redis.Cmd, len(batch))
	for i, call := range batch {
		pipe.Do(ctx, "multi")
		for _, cmd := range call.cmds {
			pipe.Do(ctx, args(cmd)...)
		}
		execs[i] = pipe.Do(ctx, "exec")
	}
	pipe.Exec(ctx) // every command's outcome is read from it below
	for i, call := range batch {
		call.out, call.err = execReplies(execs[i], len(call.cmds))
		close(call.done)
	}
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
