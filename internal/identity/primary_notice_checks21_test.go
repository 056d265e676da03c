package identity_test

import (
	"context"
	"testing"

	"loginsign/internal/identity"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/mail"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
	"loginsign/internal/webhooks"
)

// slowMail is a mail server that answers only when released, or gives up with the context of
// the call.
type slowMail struct {
	called, release chan struct{}
	out             chan string
}

func (m *slowMail) Send(ctx context.Context, msg mail.Message) error {
	m.called <- struct{}{}
	select {
	case <-m.release:
		m.out <- "delivered to " + msg.To
		return nil
	case <-ctx.Done():
		m.out <- "abandoned: " + ctx.Err().Error()
		return ctx.Err()
	}
}

// TestThePrimaryChangedNoticeDoesNotWaitOnTheRequest21: the notice of a primary-address
// change to the old address was sent on the request's path, with the request's context, where
// every other security notice is sent in the background once the change committed
// (server.securityNotices): the change's answer waited for the mail server, and a request that
// ended meanwhile (the person's client gave up on a slow mail server, a server timeout) took
// the notice with it, so a change the person did not make went unnoticed. The change answers
// without waiting for the mail server, and the notice still goes to the old address.
func TestThePrimaryChangedNoticeDoesNotWaitOnTheRequest21(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		s := identity.New(db, kvtest.Embedded(t), newClock().Now, identity.SessionConfig{})
		m := &slowMail{called: make(chan struct{}, 1), release: make(chan struct{}), out: make(chan string, 1)}
		s.Mail, s.BaseURL = m, "https://id.example.com"
		u, err := s.CreateUser(context.Background(), "old.primary@example.com", "")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan error, 1)
		go func() {
			_, err := s.ChangePrimaryEmail(ctx, u.ID, "new.primary@example.com", webhooks.ReasonUserEmailChange, "", u.ID)
			done <- err
		}()
		// The mail server got the notice and is slow; the request ends (its client gave up).
		<-m.called
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("the change failed: %v", err)
		}
		// The mail server answers only now, after the change answered.
		close(m.release)
		if got := <-m.out; got != "delivered to old.primary@example.com" {
			t.Fatalf("the notice of the change to the old address: %s, want it delivered once the mail server answers", got)
		}
		after, err := s.User(context.Background(), u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if after.Email != "new.primary@example.com" {
			t.Fatalf("primary address %s after the change", after.Email)
		}
	})
}
