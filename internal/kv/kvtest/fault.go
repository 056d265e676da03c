package kvtest

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"loginsign/internal/kv"
)

// ErrInjected is the error a Fault answers for the commands it fails: a network error, as a
// connection lost is (apperr.DependencyDown takes it for an outage, 503).
var ErrInjected error = &net.OpError{Op: "write", Net: "tcp", Err: errors.New("kvtest: connection lost (injected)")}

// Fault is a go-redis hook that fails the commands a test arms it for, as a connection lost
// just before they were sent: a command sent alone fails, and a pipeline or transaction that
// holds one fails whole, nothing of it applied. Add it with store.AddHook on a store from
// Real: on the embedded store Transact and GetEach are in-process calls that no hook sees.
// Safe for concurrent use.
type Fault struct {
	mu      sync.Mutex
	name    string // lower case, "" for any command
	prefix  string // of the command's first key, "" for any
	left    int    // failures still to inject; < 0: every matching command
	matched int
}

// Arm makes the next n commands named name (lower case, e.g. "del"; "" for any) whose first
// key starts with prefix fail; n < 0 fails every one until Disarm.
func (f *Fault) Arm(name, prefix string, n int) {
	f.mu.Lock()
	f.name, f.prefix, f.left, f.matched = name, prefix, n, 0
	f.mu.Unlock()
}

// Disarm lets every command through again.
func (f *Fault) Disarm() { f.Arm("", "", 0) }

// Injected is how many commands failed since the last Arm.
func (f *Fault) Injected() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.matched
}

// fails reports whether cmd is to fail, counting it.
func (f *Fault) fails(cmd redis.Cmder) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.left == 0 || (f.name != "" && cmd.Name() != f.name) {
		return false
	}
	if f.prefix != "" {
		args := cmd.Args()
		if len(args) < 2 {
			return false
		}
		var k string
		switch a := args[1].(type) {
		case string:
			k = a
		case *string: // Transact and GetEach on a Redis server send their arguments so (kv.argRefs)
			k = *a
		}
		if !strings.HasPrefix(k, f.prefix) {
			return false
		}
	}
	if f.left > 0 {
		f.left--
	}
	f.matched++
	return true
}

func (f *Fault) DialHook(next redis.DialHook) redis.DialHook { return next }

func (f *Fault) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if f.fails(cmd) {
			cmd.SetErr(ErrInjected)
			return ErrInjected
		}
		return next(ctx, cmd)
	}
}

func (f *Fault) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, c := range cmds {
			if f.fails(c) {
				for _, c := range cmds {
					c.SetErr(ErrInjected)
				}
				return ErrInjected
			}
		}
		return next(ctx, cmds)
	}
}

// InjectFaults adds a Fault to s and returns it, disarmed; the test is skipped when s is the
// embedded store (LOGINSIGN_TEST_REDIS_URL unset), whose in-process calls no hook sees.
func InjectFaults(t testing.TB, s *kv.Store) *Fault {
	t.Helper()
	if s.Embedded {
		t.Skip(EnvRedis + " is not set: injecting faults needs a real Redis")
	}
	f := &Fault{}
	s.AddHook(f)
	return f
}
