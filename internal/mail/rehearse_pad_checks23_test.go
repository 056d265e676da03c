package mail_test

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"loginsign/internal/i18n"
	"loginsign/internal/mail"
)

// slowServer is an SMTP server that takes endOfData to accept a message (a queue file
// synced, a content scan), as real ones do; it counts the messages it accepted and the DATA
// commands it saw.
type slowServer struct {
	endOfData time.Duration
	utf8      bool
	mu        sync.Mutex
	accepted  int
	datas     int
}

func (b *slowServer) NewSession(*smtp.Conn) (smtp.Session, error) { return &slowSession{b}, nil }

type slowSession struct{ b *slowServer }

func (s *slowSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *slowSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s *slowSession) Data(r io.Reader) error {
	s.b.mu.Lock()
	s.b.datas++
	s.b.mu.Unlock()
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	time.Sleep(s.b.endOfData)
	s.b.mu.Lock()
	s.b.accepted++
	s.b.mu.Unlock()
	return nil
}
func (s *slowSession) Reset()        {}
func (s *slowSession) Logout() error { return nil }

func (b *slowServer) counts() (datas, accepted int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.datas, b.accepted
}

func startSlowServer(t *testing.T, b *slowServer) string {
	t.Helper()
	srv := smtp.NewServer(b)
	srv.Domain = "mx.checks23.test"
	srv.AllowInsecureAuth = true
	srv.EnableSMTPUTF8 = b.utf8
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return "smtp://" + l.Addr().String()
}

// TestARehearsedInvitationTakesAsLongAsOneSent: a withheld invitation (its address past the
// daily cap of mails) was rehearsed up to RCPT and ended with RSET, skipping DATA, the
// message and the server's acceptance of it: its answer came a round trip, and whatever the
// server takes to accept a message, sooner than a mail sent, which told an inviter timing
// the answers that the address had got ten invitations today. The rehearsal now waits as
// long as the end of a sent mail's conversation takes, and the server still gets no message
// and no DATA. (A lower bound only: the server here takes 800 ms to accept a message, so the
// mail sent took at least that after RCPT, and the rehearsal must too.)
func TestARehearsedInvitationTakesAsLongAsOneSent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := &slowServer{endOfData: 800 * time.Millisecond}
	s := newSender(t, mail.Config{URL: startSlowServer(t, b)})
	r, ok := s.(mail.Rehearser)
	if !ok {
		t.Fatal("the SMTP sender cannot rehearse")
	}
	m := mail.TeamInvitation(i18n.English, "bob@example.com", link, "Shop", "admin", 7*24*time.Hour)
	if err := s.Send(ctx, m); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := r.Rehearse(ctx, m); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < b.endOfData {
		t.Errorf("the rehearsal took %v; a mail sent takes at least the server's %v to accept its message", took, b.endOfData)
	}
	if datas, accepted := b.counts(); datas != 1 || accepted != 1 {
		t.Errorf("the server saw %d DATA commands and accepted %d messages, want the one sent", datas, accepted)
	}
}

// TestARehearsalToANonASCIIAddressFailsAsTheMailSentDoes: Send asks for SMTPUTF8 for an
// address that is not ASCII, and a server that does not offer it fails the mail at once; the
// rehearsal asked for nothing and went on, so an invitation to such an address answered an
// error while mails went out and success once they were withheld.
func TestARehearsalToANonASCIIAddressFailsAsTheMailSentDoes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := &slowServer{}
	s := newSender(t, mail.Config{URL: startSlowServer(t, b)})
	m := mail.TeamInvitation(i18n.English, "bjørn@example.com", link, "Shop", "admin", 7*24*time.Hour)
	sent := s.Send(ctx, m)
	rehearsed := s.(mail.Rehearser).Rehearse(ctx, m)
	if (sent == nil) != (rehearsed == nil) || (sent != nil && mail.IsTemporary(sent) != mail.IsTemporary(rehearsed)) {
		t.Errorf("to a non-ASCII address through a server without SMTPUTF8: sending %v, rehearsing %v", sent, rehearsed)
	}
	if _, accepted := b.counts(); accepted != 0 {
		t.Errorf("the server accepted %d messages", accepted)
	}
}
