package relay_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// lockedBuffer is a log destination the relay's sessions may write to concurrently.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestLogNamesConnectionsNotAddresses: a forward, a reply through the reverse alias and a
// forward the next hop refuses (echoing the person's address) are each logged by the relay
// and by the mail package with the connection's id, and no line names the person's real
// address, their alias, the reverse alias, the external sender or the subject. Together those
// would tie the person's real address to the alias, and so to the app.
func TestLogNamesConnectionsNotAddresses(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		var log lockedBuffer
		f := newFixture(t, db, fixtureOptions{logger: slog.New(slog.NewJSONHandler(&log, nil))})
		header, body := message(alias, randomBytes(100))
		if err := send(f.addr, "bounce@acme.test", []string{alias}, append(append(header, "\r\n"...), body...)); err != nil {
			t.Fatalf("forward: %v", err)
		}
		forwarded := parseHeader(t, f.out.Next(t, 5*time.Second).Data)
		replyTo, _ := forwarded.AddressList("Reply-To")
		reverse := replyTo[0].Address
		reply := []byte("From: <" + person + ">\r\nTo: <" + reverse + ">\r\nSubject: Re: Your invoice\r\n\r\nThanks!\r\n")
		if err := send(f.addr, person, []string{reverse}, reply); err != nil {
			t.Fatalf("reply: %v", err)
		}
		if e := f.out.Next(t, 5*time.Second); e.To[0] != original {
			t.Fatalf("the reply went to %v, want %s", e.To, original)
		}
		f.out.FailNext(&smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "<" + person + ">: User unknown"})
		if err := send(f.addr, "bounce@acme.test", []string{alias}, append(append(header, "\r\n"...), body...)); smtpCode(err) != "554 5.0.0" {
			t.Fatalf("forward refused by the next hop: %v, want 554 5.0.0", err)
		}

		got := log.String()
		token := strings.TrimPrefix(strings.Split(reverse, "@")[0], "r-")
		for _, secret := range []string{person, "person@", alias, "x9s8d7", token, original, "support@", "bounce@", "Your invoice"} {
			if strings.Contains(strings.ToLower(got), strings.ToLower(secret)) {
				t.Errorf("the log shows %q:\n%s", secret, got)
			}
		}
		contact := f.db.RelayContact.Query().OnlyX(context.Background())
		for _, want := range []string{
			`"msg":"relay: delivered","kind":"forward","connection":"` + f.conn.ID + `"`,
			`"msg":"relay: delivered","kind":"reply","connection":"` + f.conn.ID + `","contact":"` + contact.ID + `"`,
			`"msg":"relay: delivery failed","kind":"forward","connection":"` + f.conn.ID + `"`,
			`"kind":"relay_forward"`, `"kind":"relay_reply"`, "User unknown", "•••@example.com",
		} {
			if !strings.Contains(got, want) {
				t.Errorf("the log lacks %s:\n%s", want, got)
			}
		}
	})
}
