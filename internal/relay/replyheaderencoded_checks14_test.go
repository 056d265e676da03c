package relay_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestAReplysContentFieldsNameThePersonInNoEncoding: a reply's top-level Content-* fields went
// when they spelled the person's address, as is, in RFC 2047 words or with "%40"; the same
// address cut into RFC 2231 continuations, charset-encoded with other characters
// percent-encoded, or percent-encoded in a Content-Location, reached the contact, where the
// mail client joins and decodes it into the attachment's name. Those fields go too now.
func TestAReplysContentFieldsNameThePersonInNoEncoding(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		f.db.RelayContact.Create().SetConnectionID(f.conn.ID).SetContactAddress(original).SetToken(reverseToken).ExecX(context.Background())
		local, host, _ := strings.Cut(person, "@")
		for _, field := range []string{
			"Content-Type: application/pdf; name*0=\"" + local + "@exa\"; name*1=\"" + strings.TrimPrefix(host, "exa") + ".pdf\"",
			"Content-Disposition: attachment; filename*=utf-8''%" + "70" + local[1:] + "%40" + strings.Replace(host, ".", "%2E", 1) + ".pdf",
			"Content-Location: https://files.test/?owner=%" + "70" + local[1:] + "%40" + host,
			"Content-Disposition: attachment; filename*0*=utf-8''" + local + "%40; filename*1=\"" + host + ".pdf\"",
		} {
			msg := "From: <" + person + ">\r\nTo: <" + reverseAlias() + ">\r\nSubject: Re: invoice\r\nMIME-Version: 1.0\r\n" +
				field + "\r\n\r\nThanks\r\n"
			if err := send(f.addr, person, []string{reverseAlias()}, []byte(msg)); err != nil {
				t.Fatalf("reply: %v", err)
			}
			h := strings.ToLower(string(f.out.Next(t, 5*time.Second).Header()))
			// Each field spells local[1:] somewhere; "@exa" and the host's rest are the pieces
			// of the first. Not "exa" alone: a random Message-ID may hold it.
			if strings.Contains(h, "@exa") || strings.Contains(h, strings.TrimPrefix(host, "exa")) || strings.Contains(h, local[1:]) {
				t.Errorf("the reply keeps %s:\n%s", field, h)
			}
		}
	})
}
