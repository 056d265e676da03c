package embedded

import (
	"fmt"
	"testing"
	"time"
)

// A deadline or a counter past what int64 holds is refused as Redis refuses it, and changes
// nothing. Before, it wrapped around: SET … EX 9223372036854775807 answered OK and the key was
// gone at once, EXPIRE with as many seconds deleted the key, and INCRBY went from the largest
// number to the smallest (found by FuzzCommands, testdata/fuzz/FuzzCommands/0ae686c12543c81e).
func TestDeadlinesAndCountersPastInt64AreRefused(t *testing.T) {
	s := mustOpen(t, Options{Now: func() time.Time { return fuzzNow }, SweepEvery: time.Hour})
	const max, min = "9223372036854775807", "-9223372036854775808"
	for _, tc := range []struct {
		cmd  []string
		want string
	}{
		{[]string{"SET", "k", "new", "EX", max}, "ERR invalid expire time in 'set' command"},
		{[]string{"SET", "k", "new", "EX", "9223372036854775"}, "ERR invalid expire time in 'set' command"},
		{[]string{"SET", "k", "new", "PX", max}, "ERR invalid expire time in 'set' command"},
		{[]string{"EXPIRE", "k", max}, "ERR invalid expire time in 'expire' command"},
		{[]string{"EXPIRE", "k", min}, "ERR invalid expire time in 'expire' command"},
		{[]string{"PEXPIRE", "k", max}, "ERR invalid expire time in 'pexpire' command"},
		{[]string{"INCRBY", "n", "1"}, "ERR increment or decrement would overflow"},
		{[]string{"INCRBY", "m", min}, "ERR increment or decrement would overflow"},
	} {
		do(s, "SET", "k", "old")
		do(s, "SET", "n", max)
		do(s, "SET", "m", "-1")
		if got := fmt.Sprint(do(s, tc.cmd...)); got != tc.want {
			t.Errorf("%q answered %s, want %s", tc.cmd, got, tc.want)
		}
		for k, v := range map[string]string{"k": "old", "n": max, "m": "-1"} {
			if got, _ := do(s, "GET", k).([]byte); string(got) != v || do(s, "PTTL", k) != any(int64(-1)) {
				t.Errorf("after %q, %s holds %q with PTTL %v, want %q with none", tc.cmd, k, got, do(s, "PTTL", k), v)
			}
		}
	}
	if got := do(s, "PEXPIRE", "k", min); got != any(int64(1)) || do(s, "EXISTS", "k") != any(int64(0)) {
		t.Errorf("PEXPIRE k %s answered %v, want 1 and k deleted (a deadline in the past)", min, got)
	}
}
