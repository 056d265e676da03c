package relay_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"mime"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/textproto"

	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// replyPartHeaders reads the headers of the parts of the multipart body of a relayed message.
func replyPartHeaders(t *testing.T, raw []byte) []textproto.Header {
	t.Helper()
	h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		t.Fatal(err)
	}
	_, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		t.Fatalf("Content-Type: %v", err)
	}
	body := raw[bytes.Index(raw, []byte("\r\n\r\n"))+4:]
	mr := textproto.NewMultipartReader(bytes.NewReader(body), params["boundary"])
	var out []textproto.Header
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("part: %v", err)
		}
		out = append(out, p.Header)
	}
}

// TestAReplysPartHeadersNameNoAddress16: a reply's part headers passed as the person's client
// wrote them. An attachment's name (Content-Type name, Content-Disposition filename, in RFC
// 2231 continuations or charset-encoded), its Content-Description (in RFC 2047 words) and the
// fields a client adds to a part (Thunderbird's X-Mozilla-External-Attachment-URL, the local
// path of the file with the person's user name) reached the contact with the person's
// address and name. Now a part keeps only its Content-* fields, and every address in them is
// the alias, or the contact's address for a reverse alias of the connection: a guess a sender
// planted in a file's name comes back as the alias whether or not it is the person's, so no
// rule reads the person's addresses.
func TestAReplysPartHeadersNameNoAddress16(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		f.db.RelayContact.Create().SetConnectionID(f.conn.ID).SetContactAddress(original).SetToken(reverseToken).ExecX(context.Background())
		split := strings.Index(person, "@") + 3
		reply := []byte("From: <" + person + ">\r\nTo: <" + reverseAlias() + ">\r\nSubject: Re: statements\r\nMIME-Version: 1.0\r\n" +
			"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nHere they are.\r\n--b\r\n" +
			"Content-Type: application/pdf; name*0=\"statement for " + person[:split] + "\"; name*1=\"" + person[split:] + ".pdf\"\r\n" +
			"Content-Disposition: attachment; filename*=utf-8''statement%20for%20" + strings.Replace(person, "@", "%40", 1) + ".pdf\r\n" +
			"Content-Description: " + mime.BEncoding.Encode("utf-8", "envoyé à "+person+" par "+reverseAlias()) + "\r\n" +
			"X-Mozilla-External-Attachment-URL: file:///home/personname/Documents/statement.pdf\r\n" +
			"X-Attachment-Id: f_personname\r\n" +
			"Content-Transfer-Encoding: base64\r\n\r\n" + base64.StdEncoding.EncodeToString([]byte("%PDF-1.4")) + "\r\n--b\r\n" +
			"Content-Type: text/plain; name=\"guess@else.test.txt\"\r\nContent-Disposition: attachment; filename=\"guess@else.test.txt\"\r\n\r\n" +
			"a sender's file\r\n--b--\r\n")
		if err := send(f.addr, person, []string{reverseAlias()}, reply); err != nil {
			t.Fatalf("reply: %v", err)
		}
		raw := f.out.Next(t, 5*time.Second).Data
		lower := strings.ToLower(string(raw))
		for _, leak := range []string{"person", "example.com", "x-mozilla", "x-attachment-id", "guess@else.test"} {
			if strings.Contains(lower, leak) {
				t.Errorf("the reply names %q:\n%s", leak, raw)
			}
		}
		parts := replyPartHeaders(t, raw)
		if len(parts) != 3 {
			t.Fatalf("the reply has %d parts, want 3:\n%s", len(parts), raw)
		}
		param := func(h textproto.Header, key, name string) string {
			_, params, err := mime.ParseMediaType(h.Get(key))
			if err != nil {
				t.Errorf("%s: %v", key, err)
			}
			return params[name]
		}
		pdf := parts[1]
		if got, want := param(pdf, "Content-Type", "name"), "statement for "+alias+".pdf"; got != want {
			t.Errorf("the attachment's name is %q, want %q", got, want)
		}
		if got, want := param(pdf, "Content-Disposition", "filename"), "statement for "+alias+".pdf"; got != want {
			t.Errorf("the attachment's filename is %q, want %q", got, want)
		}
		desc, err := new(mime.WordDecoder).DecodeHeader(pdf.Get("Content-Description"))
		if want := "envoyé à " + alias + " par " + original; err != nil || desc != want {
			t.Errorf("the attachment's description is %q (%v), want %q", desc, err, want)
		}
		if pdf.Get("Content-Transfer-Encoding") != "base64" || !strings.Contains(string(raw), base64.StdEncoding.EncodeToString([]byte("%PDF-1.4"))) {
			t.Errorf("the attachment's body or encoding changed:\n%s", raw)
		}
		if got, want := param(parts[2], "Content-Disposition", "filename"), alias+".txt"; got != want {
			t.Errorf("the planted filename came back as %q, want the alias's %q", got, want)
		}
		if got := param(parts[0], "Content-Type", ""); got != "" || parts[0].Get("Content-Type") != "text/plain" {
			t.Errorf("the text part's header changed: %q", parts[0].Get("Content-Type"))
		}
	})
}
