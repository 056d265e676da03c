package relay_test

import (
	"context"
	"log/slog"
	"testing"

	"loginsign/internal/store/storetest"
)

// benchMessage is a typical notification mail with a small attachment (about 6 KB).
func benchMessage(to string) []byte {
	header, body := message(to, randomBytes(4<<10))
	return append(append(header, "\r\n"...), body...)
}

// BenchmarkRelay measures messages per second relayed end to end: an SMTP conversation into
// the relay (alias lookup, reverse alias upsert, header rewrite) and the forward over a new
// SMTP conversation into a mailtest listener. Compare with BenchmarkBareSMTP.
func BenchmarkRelay(b *testing.B) {
	f := newFixture(b, storetest.SQLite(b), fixtureOptions{logger: slog.New(slog.DiscardHandler), rcptLimit: benchRcptLimit})
	msg := benchMessage(alias)
	b.SetBytes(int64(len(msg)))
	b.ResetTimer()
	for b.Loop() {
		if err := send(f.addr, original, []string{alias}, msg); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	reportRate(b, f.out.Count())
}

// BenchmarkBareSMTP is the baseline of BenchmarkRelay: the same message sent straight to the
// same kind of listener, one SMTP conversation per message.
func BenchmarkBareSMTP(b *testing.B) {
	f := newFixture(b, storetest.SQLite(b), fixtureOptions{logger: slog.New(slog.DiscardHandler), rcptLimit: benchRcptLimit})
	msg := benchMessage(person)
	b.SetBytes(int64(len(msg)))
	b.ResetTimer()
	for b.Loop() {
		if err := send(f.out.Addr(), original, []string{person}, msg); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	reportRate(b, f.out.Count())
}

func reportRate(b *testing.B, delivered int) {
	if delivered != b.N {
		b.Fatalf("%d messages delivered, want %d", delivered, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// benchReply is a reply of the person to the reverse alias of the fixture's contact, with the
// body and attachment of benchMessage.
func benchReply() []byte {
	_, body := message(reverseAlias(), randomBytes(4<<10))
	header := "From: \"Pat Person\" <" + person + ">\r\n" +
		"To: " + reverseAlias() + "\r\n" +
		"Subject: Re: Your invoice\r\n" +
		"Message-ID: <r1@mail.example.com>\r\n" +
		"In-Reply-To: <m1@acme.test>\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"BOUNDARY\"\r\n\r\n"
	return append([]byte(header), body...)
}

// BenchmarkRelayReply measures replies per second relayed end to end, authenticated by SPF
// (one TXT lookup from the test zone) or by an Ed25519 DKIM signature (SPF failing, so both
// are evaluated), with the header scrub. The zone answers from memory: real DNS adds its
// latency, which a caching resolver hides for repeat senders.
func BenchmarkRelayReply(b *testing.B) {
	for _, by := range []string{"spf", "dkim"} {
		b.Run(by, func(b *testing.B) {
			f := newFixture(b, storetest.SQLite(b), fixtureOptions{logger: slog.New(slog.DiscardHandler), rcptLimit: benchRcptLimit})
			f.db.RelayContact.Create().SetConnectionID(f.conn.ID).SetContactAddress(original).SetToken(reverseToken).ExecX(context.Background())
			msg := benchReply()
			if by == "dkim" {
				key := newDKIMKey(b)
				f.zone.setTXT("example.com", "v=spf1 ip4:192.0.2.0/24 -all")
				f.zone.setTXT("sel._domainkey.example.com", key.record)
				msg = key.sign(b, msg, "example.com")
			}
			b.SetBytes(int64(len(msg)))
			b.ResetTimer()
			for b.Loop() {
				if err := send(f.addr, person, []string{reverseAlias()}, msg); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			reportRate(b, f.out.Count())
		})
	}
}

// benchRcptLimit lifts the RCPT limit out of the way: the benchmarks send from one peer far
// faster than any default allows, and measure the limiter's cost, not its refusals.
const benchRcptLimit = 1 << 30
