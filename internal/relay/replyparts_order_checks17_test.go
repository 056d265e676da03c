package relay

import (
	"bufio"
	"bytes"
	"strings"
	"testing"

	"github.com/emersion/go-message/textproto"
)

// TestARewrittenPartHeaderKeepsItsOrder: replyParts rewrote a part's header by adding its
// kept fields in reading order to a textproto.Header, whose Add and AddRaw put each field
// before the ones already there, so the header went out upside down. Of two fields of the
// same name (a client that wrote Content-Type twice), the contact's client then read the one
// the person's client did not. Now the fields keep their order.
func TestARewrittenPartHeaderKeepsItsOrder(t *testing.T) {
	in := "Content-Type: text/plain; charset=utf-8\r\n" +
		"X-Attachment-Id: f_personname\r\n" +
		"Content-Disposition: attachment; filename=notes.txt\r\n" +
		"Content-Type: text/html\r\n" +
		"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	h, err := textproto.ReadHeader(bufio.NewReader(strings.NewReader(in)))
	if err != nil {
		t.Fatal(err)
	}
	w := replyParts{text: func(s string) (string, error) { return s, nil }}
	out, changed, err := w.header(h)
	if err != nil || !changed {
		t.Fatalf("header: changed %v, %v", changed, err)
	}
	var b bytes.Buffer
	if err := textproto.WriteHeader(&b, out); err != nil {
		t.Fatal(err)
	}
	want := "Content-Type: text/plain; charset=utf-8\r\n" +
		"Content-Disposition: attachment; filename=notes.txt\r\n" +
		"Content-Type: text/html\r\n" +
		"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	if b.String() != want {
		t.Errorf("the rewritten header is\n%s\nwant\n%s", b.String(), want)
	}
	if got := out.Get("Content-Type"); got != "text/plain; charset=utf-8" {
		t.Errorf("the part's Content-Type reads %q, want the first one the client wrote", got)
	}
}
