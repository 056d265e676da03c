package embedded

import (
	"fmt"
	"testing"
)

// TestUsageShowsTheCountersFillingTheirHalf: Usage reports the store's keys against MaxKeys
// and the counters' against their half, so an operator sees the counters' half filling before
// new counters are refused (at Capped 1): 10 sessions and 25 counters of 100 keys are 0.35 and
// 0.5; the counters' half full is 1 and the next new counter is refused.
func TestUsageShowsTheCountersFillingTheirHalf(t *testing.T) {
	t.Parallel()
	s := mustOpen(t, Options{MaxKeys: 100, Keep: []string{"rl:"}, Capped: []string{"rl:"}})
	if u := s.Usage(); u.Store != 0 || u.Capped != 0 {
		t.Fatalf("empty store: %+v", u)
	}
	for i := range 10 {
		do(s, "SET", fmt.Sprint("sess:", i), "x", "EX", "60")
	}
	counter := func(i int) any {
		return do(s, "INCRBY", fmt.Sprintf("rl:signin:%d", i), "1")
	}
	for i := range 25 {
		counter(i)
	}
	if u := s.Usage(); u.Store != 0.35 || u.Capped != 0.5 {
		t.Fatalf("10 sessions and 25 counters of 100 keys: %+v, want Store 0.35 and Capped 0.5", u)
	}
	for i := 25; i < 50; i++ {
		counter(i)
	}
	if u := s.Usage(); u.Capped != 1 {
		t.Fatalf("50 counters of their half of 100 keys: %+v, want Capped 1", u)
	}
	if r := counter(50); r != any(ErrKeptFull) {
		t.Fatalf("a counter past their half: %v", r)
	}
}
