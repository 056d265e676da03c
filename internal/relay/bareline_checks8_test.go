package relay_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestABareLineBreakRefusesTheMessage: RFC 5321 section 2.3.8 allows CR and LF in mail only
// as CRLF. A message holding either alone, sent by DATA or by BDAT, to an alias or (from the
// person, authenticated) to a reverse alias, gets 550 5.6.0 and nothing of it reaches the next
// hop, which might read the bare one as a line end (SMTP smuggling).
func TestABareLineBreakRefusesTheMessage(t *testing.T) {
	t.Parallel()
	const want = "550 5.6.0 Message refused: it holds a bare CR or LF, which SMTP allows only as CRLF (RFC 5321 section 2.3.8)"
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		f.db.RelayContact.Create().SetConnectionID(f.conn.ID).SetContactAddress(original).SetToken(reverseToken).ExecX(context.Background())
		s, greeting := rawDial(t, "127.0.0.1", f.addr, 5*time.Second)
		if !strings.HasPrefix(greeting, "220") {
			t.Fatalf("greeting %q", greeting)
		}
		if got := s.cmd("EHLO client.example"); got[0] != '2' {
			t.Fatalf("EHLO: %s", got)
		}
		for _, kind := range []struct{ name, mailFrom, rcpt, from string }{
			{"forward", original, alias, original},
			{"reply", person, reverseAlias(), person},
		} {
			for _, bare := range []struct{ name, text string }{
				{"bare CR", "one\rtwo\r\n"},
				{"bare LF", "one\ntwo\r\n"},
				{"bare CR, dot, CRLF", "one\r\n\r.\r\ntwo\r\n"},
				{"bare CR at the end", "one\r\ntwo\r"}, // by BDAT only: DATA ends after a CRLF
			} {
				for _, command := range []string{"DATA", "BDAT"} {
					if command == "DATA" && !strings.HasSuffix(bare.text, "\r\n") {
						continue
					}
					name := kind.name + ", " + bare.name + ", " + command
					msg := "From: " + kind.from + "\r\nTo: " + kind.rcpt + "\r\nSubject: hi\r\n\r\n" + bare.text
					for _, c := range []string{"MAIL FROM:<" + kind.mailFrom + ">", "RCPT TO:<" + kind.rcpt + ">"} {
						if got := s.cmd(c); got[0] != '2' {
							t.Fatalf("%s: %s: %s", name, c, got)
						}
					}
					var got string
					if command == "DATA" {
						if got := s.cmd("DATA"); got[0] != '3' {
							t.Fatalf("%s: DATA: %s", name, got)
						}
						got = s.write([]byte(msg + ".\r\n"))
					} else {
						got = s.write([]byte(fmt.Sprintf("BDAT %d LAST\r\n%s", len(msg), msg)))
					}
					if got != want {
						t.Errorf("%s: %s, want %s", name, got, want)
					}
				}
			}
		}
		if n := f.out.Count(); n != 0 {
			t.Errorf("%d messages with a bare CR or LF sent, want none", n)
		}
	})
}
