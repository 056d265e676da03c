package webhooks_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"loginsign/ent/appmember"
	"loginsign/ent/webhookevent"
	"loginsign/internal/apperr"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/ratelimit"
	"loginsign/internal/store/storetest"
	"loginsign/internal/webhooks"
)

// TestAnEventOfAnotherApplicationIsNotRedeliveredThroughOnesOwn: a developer who names their
// own application and another developer's event id gets NotFound, and the other
// application's event stays as it was (not queued again, not sent to its endpoint once more).
func TestAnEventOfAnotherApplicationIsNotRedeliveredThroughOnesOwn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.SQLite(t)
	f := newFixture(t, db, "https://hooks.example/in")
	victim, _ := f.newAppOf(t, newUser(t, db), "https://victim.example/in")
	theirs := f.enqueue(t, victim, 1)[0]
	db.WebhookEvent.UpdateOneID(theirs).SetStatus(webhookevent.StatusFailed).ExecX(ctx)
	svc := &webhooks.Service{DB: db, Now: f.clock.Now}

	_, err := svc.Redeliver(signedIn(f.owner), f.app.ID, theirs)
	wantErr(t, err, apperr.NotFound, "")
	if ev := f.event(t, theirs); ev.Status != webhookevent.StatusFailed {
		t.Errorf("the other application's event is %s after a redelivery through another application, want failed", ev.Status)
	}
}

// TestTheDeliveryLogListsOnlyItsApplicationsEvents: an application's delivery log holds its
// own events, none of another developer's application.
func TestTheDeliveryLogListsOnlyItsApplicationsEvents(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	f := newFixture(t, db, "https://hooks.example/in")
	victim, _ := f.newAppOf(t, newUser(t, db), "https://victim.example/in")
	mine := f.enqueue(t, f.app, 2)
	f.enqueue(t, victim, 3)
	svc := &webhooks.Service{DB: db, Now: f.clock.Now}

	page, err := svc.Events(signedIn(f.owner), f.app.ID, webhooks.EventQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range page.Edges {
		if e.Node.ApplicationID != f.app.ID {
			t.Errorf("the log lists event %s of application %s", e.Node.ID, e.Node.ApplicationID)
		}
		got = append(got, e.Node.ID)
	}
	if page.TotalCount != len(mine) || len(got) != len(mine) {
		t.Errorf("the log holds %d events (total %d): %v, want the application's %d: %v", len(got), page.TotalCount, got, len(mine), mine)
	}
}

// TestTheDeliveryLogIsReadOnlyByTheRolesThatReadWebhooks: the delivery log (payloads with
// connection ids and addresses) is NotFound off the team, Unauthorized signed out, Forbidden
// to support, and read by a developer of the team.
func TestTheDeliveryLogIsReadOnlyByTheRolesThatReadWebhooks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.SQLite(t)
	f := newFixture(t, db, "https://hooks.example/in")
	f.enqueue(t, f.app, 1)
	svc := &webhooks.Service{DB: db, Now: f.clock.Now}
	member := func(role appmember.Role) context.Context {
		u := newUser(t, db)
		db.AppMember.Create().SetApplicationID(f.app.ID).SetUserID(u.ID).SetRole(role).SetEmail(u.Email).ExecX(ctx)
		return signedIn(u)
	}

	for _, tt := range []struct {
		who  string
		ctx  context.Context
		want apperr.Code
	}{
		{"someone off the team", signedIn(newUser(t, db)), apperr.NotFound},
		{"nobody signed in", ctx, apperr.Unauthorized},
		{"support", member(appmember.RoleSupport), apperr.Forbidden},
	} {
		if _, err := svc.Events(tt.ctx, f.app.ID, webhooks.EventQuery{}); apperr.CodeOf(err) != tt.want {
			t.Errorf("%s reading the delivery log: error %v, want %s", tt.who, err, tt.want)
		}
	}
	if page, err := svc.Events(member(appmember.RoleDeveloper), f.app.ID, webhooks.EventQuery{}); err != nil || page.TotalCount != 1 {
		if err == nil {
			err = fmt.Errorf("%d events", page.TotalCount)
		}
		t.Errorf("a developer of the team reading the delivery log: %v; want its 1 event", err)
	}
}

// TestSpecialPurposeAddressesAreNotPublic: every special-purpose range that can lead back
// into LoginSign's network is refused, including the IPv6 forms that carry an IPv4 address
// (IPv4-mapped, NAT64, 6to4, Teredo), whatever IPv4 address they carry; ordinary public
// addresses pass.
func TestSpecialPurposeAddressesAreNotPublic(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr string
		why  string
	}{
		{"0.1.2.3", `"this network" (0.0.0.0/8), not only 0.0.0.0`},
		{"192.0.0.8", "IETF protocol assignments (192.0.0.0/24)"},
		{"240.0.0.1", "reserved (240.0.0.0/4)"},
		{"198.19.255.1", "benchmarking (198.18.0.0/15)"},
		{"100.100.100.200", "CGNAT (100.64.0.0/10), where cloud metadata also lives"},
		{"::ffff:100.64.0.1", "IPv4-mapped CGNAT"},
		{"::ffff:198.18.0.1", "IPv4-mapped benchmarking"},
		{"::ffff:169.254.169.254", "IPv4-mapped metadata address"},
		{"64:ff9b::a9fe:a9fe", "NAT64 of the metadata address"},
		{"64:ff9b::6440:1", "NAT64 of CGNAT"},
		{"64:ff9b:1::a00:1", "local-use NAT64 (64:ff9b:1::/48)"},
		{"100::1", "discard-only (100::/64)"},
		{"2001:db8::1", "documentation (2001:db8::/32)"},
		{"fec0::1", "deprecated site-local (fec0::/10)"},
		{"2002:7f00:1::1", "6to4 carrying 127.0.0.1 (2002::/16)"},
		{"2002:a9fe:a9fe::1", "6to4 carrying the metadata address"},
		{"2001:0:4136:e378:8000:63bf:80ff:fffe", "Teredo (2001::/32), which carries an IPv4 address"},
		{"239.255.255.250", "organization-local IPv4 multicast, not only link-local"},
		{"ff05::2", "site-local IPv6 multicast, not only link-local"},
	}
	for _, tt := range tests {
		if webhooks.PublicAddr(netip.MustParseAddr(tt.addr)) {
			t.Errorf("PublicAddr(%s) = true, want false: %s", tt.addr, tt.why)
		}
	}
	for _, public := range []string{"1.1.1.1", "100.128.0.1", "198.20.0.1", "2606:4700::1111", "2a00:1450:4001::200e", "::ffff:1.1.1.1"} {
		if !webhooks.PublicAddr(netip.MustParseAddr(public)) {
			t.Errorf("PublicAddr(%s) = false, want true: an ordinary public address", public)
		}
	}
}

// TestAnAnswersBodyIsNotReadToItsEnd: a receiver that answers with an endless body holds the
// delivery only while 64 KiB are read; the connection is then closed, so the receiver cannot
// make the worker read (and wait for) as much as it likes.
func TestAnAnswersBodyIsNotReadToItsEnd(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	const whole = 64 << 20 // 64 MiB, far past any socket buffers
	written := make(chan int, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		chunk := make([]byte, 64<<10)
		n := 0
		for n < whole {
			m, err := w.Write(chunk)
			n += m
			if err != nil {
				break
			}
		}
		written <- n
	}))
	t.Cleanup(srv.Close)
	f := newFixture(t, db, srv.URL)
	id := f.enqueue(t, f.app, 1)[0]
	drain(t, f.worker(db))
	if n := waitFor(t, written, "the receiver's answer to end"); n >= whole {
		t.Errorf("the worker read the whole %d-byte answer, want it to stop after 64 KiB", n)
	}
	if ev := f.event(t, id); ev.Status != webhookevent.StatusDelivered {
		t.Errorf("event %s after a 200 answer with a long body, want delivered", ev.Status)
	}
}

// TestAFailedAnswersBodyIsQuotedUpTo256Bytes: the delivery log quotes at most 256 bytes of a
// failed answer's body, however much the receiver sent.
func TestAFailedAnswersBodyIsQuotedUpTo256Bytes(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(strings.Repeat("x", 10000)))
	}))
	t.Cleanup(srv.Close)
	f := newFixture(t, db, srv.URL)
	id := f.enqueue(t, f.app, 1)[0]
	drain(t, f.worker(db))
	want := "HTTP 400 Bad Request: " + strings.Repeat("x", 256)
	if ev := f.event(t, id); ev.LastError != want {
		t.Errorf("last error of %d bytes, want %d: %q…", len(ev.LastError), len(want), ev.LastError[:min(len(ev.LastError), 40)])
	}
}

// TestTimeoutBoundsAnAttemptWhateverTheClient: WorkerConfig.Timeout bounds each attempt even
// with a client of the operator's own that has no timeout: a receiver that never answers
// holds a delivery slot for Timeout, not for ever.
func TestTimeoutBoundsAnAttemptWhateverTheClient(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	release := make(chan struct{})
	rcv := newReceiver(t)
	rcv.setAnswer(func(hit, int) (int, http.Header) {
		<-release
		return http.StatusOK, nil
	})
	defer close(release)
	f := newFixture(t, db, rcv.URL)
	id := f.enqueue(t, f.app, 1)[0]
	w := f.worker(db, func(c *webhooks.WorkerConfig) { c.Client = &http.Client{}; c.Timeout = 100 * time.Millisecond })
	done := make(chan error, 1)
	go func() {
		_, err := w.DeliverDue(context.Background())
		done <- err
	}()
	if err := waitFor(t, done, "the attempt to end at its Timeout"); err != nil {
		t.Fatal(err)
	}
	if ev := f.event(t, id); ev.Attempts != 1 || ev.LastError != "timeout after 100ms" {
		t.Errorf("%d attempts, last error %q; want one attempt that timed out after 100ms", ev.Attempts, ev.LastError)
	}
}

// TestSupportSpendsNothingOfTheApplicationsManualSends: a member whose role may not manage
// webhooks is refused before the application's budget of test events and redeliveries is
// counted, so support clicking "send test" cannot use up what the developers need.
func TestSupportSpendsNothingOfTheApplicationsManualSends(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.SQLite(t)
	f := newFixture(t, db, "https://hooks.example/in")
	kv, _ := kvtest.EmbeddedClock(t)
	svc := &webhooks.Service{DB: db, Limiter: ratelimit.New(kv), Now: f.clock.Now} // no worker: sends are only queued
	support := newUser(t, db)
	db.AppMember.Create().SetApplicationID(f.app.ID).SetUserID(support.ID).SetRole(appmember.RoleSupport).
		SetEmail(support.Email).ExecX(ctx)

	for i := range webhooks.DefaultManualSends.N + 5 {
		if _, err := svc.Test(signedIn(support), f.app.ID); apperr.CodeOf(err) != apperr.Forbidden {
			t.Fatalf("support's test event %d: %v, want forbidden", i+1, err)
		}
	}
	if _, err := svc.Test(signedIn(f.owner), f.app.ID); err != nil {
		t.Errorf("the owner's test event after support's refused ones: %v, want it queued", err)
	}
}
