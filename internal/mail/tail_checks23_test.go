package mail

import (
	"testing"
	"time"
)

// TestOneSlowMailDoesNotMakeEveryRehearsalWaitLong (review23): a rehearsal waits out the
// moving average of how long a sent mail's end of conversation takes. One mail the relay took
// a minute to accept (the first after a start sets the average wholly) made every withheld
// invitation's request wait most of that minute, and a few such mails kept it there. Each
// mail counts at most maxTail.
func TestOneSlowMailDoesNotMakeEveryRehearsalWaitLong(t *testing.T) {
	s := &smtpSender{}
	s.noteTail(time.Minute)
	if s.tail > maxTail {
		t.Errorf("after a first mail that took a minute, a rehearsal waits %v, want at most %v", s.tail, maxTail)
	}
	s = &smtpSender{}
	for range 20 {
		s.noteTail(200 * time.Millisecond)
	}
	for range 3 {
		s.noteTail(time.Minute)
	}
	if s.tail > maxTail {
		t.Errorf("after three mails that took a minute among quick ones, a rehearsal waits %v, want at most %v", s.tail, maxTail)
	}
	s = &smtpSender{}
	s.noteTail(800 * time.Millisecond)
	if s.tail != 800*time.Millisecond {
		t.Errorf("a relay that takes 800 ms: the average is %v", s.tail)
	}
}
