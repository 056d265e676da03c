package relay_test

import (
	"context"
	"testing"
	"time"

	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestForwardDMARCChecks3: more of the sender checks of a forward (checkSender): sp= applies
// only to a subdomain found under its organizational record, not to the domain whose own
// record it is; adkim=s refuses a DKIM signature of the parent domain; two From fields are
// refused like one naming two addresses.
func TestForwardDMARCChecks3(t *testing.T) {
	t.Parallel()
	key := newDKIMKey(t)
	for _, tc := range []struct {
		name     string
		zone     func(z *zone)
		mailFrom string
		msg      func(t *testing.T) []byte
		want     string // DATA's reply code; "" when forwarded
	}{
		{
			name:     "p=reject; sp=none at the From domain itself",
			zone:     func(z *zone) { z.setTXT("_dmarc.own.test", "v=DMARC1; p=reject; sp=none") },
			mailFrom: "bounce@evil.test",
			msg: func(*testing.T) []byte {
				return []byte("From: Own <security@own.test>\r\nTo: " + alias + "\r\nSubject: hi\r\n\r\nhi\r\n")
			},
			want: "550 5.7.26",
		},
		{
			name: "DKIM of the parent domain, adkim=s, p=reject",
			zone: func(z *zone) {
				z.setTXT("_dmarc.signed.test", "v=DMARC1; p=reject; adkim=s")
				z.setTXT("sel._domainkey.signed.test", key.record)
			},
			mailFrom: "bounce@evil.test",
			msg: func(t *testing.T) []byte {
				return key.sign(t, []byte("From: News <news@mail.signed.test>\r\nTo: "+alias+"\r\nSubject: hi\r\n\r\nhi\r\n"), "signed.test")
			},
			want: "550 5.7.26",
		},
		{
			name: "DKIM of the parent domain, relaxed alignment, p=reject",
			zone: func(z *zone) {
				z.setTXT("_dmarc.signed.test", "v=DMARC1; p=reject")
				z.setTXT("sel._domainkey.signed.test", key.record)
			},
			mailFrom: "bounce@evil.test",
			msg: func(t *testing.T) []byte {
				return key.sign(t, []byte("From: News <news@mail.signed.test>\r\nTo: "+alias+"\r\nSubject: hi\r\n\r\nhi\r\n"), "signed.test")
			},
		},
		{
			name:     "two From fields",
			zone:     func(*zone) {},
			mailFrom: original,
			msg: func(*testing.T) []byte {
				return []byte("From: " + original + "\r\nFrom: security@bank.test\r\nTo: " + alias + "\r\nSubject: hi\r\n\r\nhi\r\n")
			},
			want: "550 5.7.1",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T, db *store.DB) {
				f := newFixture(t, db, fixtureOptions{})
				tc.zone(f.zone)
				err := send(f.addr, tc.mailFrom, []string{alias}, tc.msg(t))
				if tc.want == "" {
					if err != nil {
						t.Fatalf("DATA: %s, want forwarded", smtpReply(err))
					}
					if e := f.out.Next(t, 5*time.Second); e.To[0] != person {
						t.Errorf("forwarded to %v, want %s", e.To, person)
					}
					return
				}
				if got := smtpCode(err); got != tc.want {
					t.Errorf("DATA: %s, want %s", smtpReply(err), tc.want)
				}
				if n := f.out.Count(); n != 0 {
					t.Errorf("%d messages sent, want none", n)
				}
				if n := f.db.RelayContact.Query().CountX(context.Background()); n != 0 {
					t.Errorf("%d reverse aliases stored for a refused mail, want none", n)
				}
			})
		})
	}
}
