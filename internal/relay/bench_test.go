package relay_test

import (
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
	f := newFixture(b, storetest.SQLite(b), fixtureOptions{logger: slog.New(slog.DiscardHandler)})
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
	f := newFixture(b, storetest.SQLite(b), fixtureOptions{logger: slog.New(slog.DiscardHandler)})
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
