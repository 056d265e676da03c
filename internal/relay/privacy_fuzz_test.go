package relay

import (
	"bufio"
	"bytes"
	nettextproto "net/textproto"
	"slices"
	"strings"
	"testing"

	gomessage "github.com/emersion/go-message"
	gomail "github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
)

// FuzzMessageIDs: whatever a sender writes in Message-ID, In-Reply-To and References, a
// forward carries no well-formed message id but those only the relay writes, and the ids of a
// reply to it are the sender's own again, each once, in order.
func FuzzMessageIDs(f *testing.F) {
	f.Add("<m1@acme.test>")
	f.Add("<a@b> (comment) <c@d> <a@b> <not an id> <" + strings.Repeat("x", 250) + "@y>")
	f.Add("<fwd-mfrxcqjrnbzgc3lf@relay.test>")
	f.Fuzz(func(t *testing.T, v string) {
		var h textproto.Header
		for _, k := range []string{"Message-Id", "In-Reply-To", "References"} {
			h.Add(k, v)
		}
		forwardMessageIDs(&h, fuzzDomain)
		var want []string
		for _, m := range messageIDPattern.FindAllStringSubmatch(v, -1) {
			if wellFormedMessageID(m[1]) && !slices.Contains(want, m[1]) {
				want = append(want, m[1])
			}
		}
		for _, k := range []string{"Message-Id", "In-Reply-To", "References"} {
			for _, m := range messageIDPattern.FindAllStringSubmatch(h.Get(k), -1) {
				if _, ok := originalMessageID(m[1], fuzzDomain); wellFormedMessageID(m[1]) && !ok {
					t.Fatalf("%s of the forward carries %q, which the relay did not write: %q", k, m[1], h.Get(k))
				}
			}
		}
		var reply textproto.Header
		reply.Add("References", h.Get("References"))
		replyMessageIDs(&reply, "References", fuzzDomain)
		var got []string
		for _, m := range messageIDPattern.FindAllStringSubmatch(reply.Get("References"), -1) {
			got = append(got, m[1])
		}
		if !slices.Equal(got, want) {
			t.Fatalf("the reply's References are %q, want the sender's %q", got, want)
		}
	})
}

// FuzzReplyHeader: whatever header the person's mail system writes, a reply keeps only the
// fields of replyKept and Content-*, none of them but Subject, In-Reply-To and References
// naming the person's address, and no Cc address that is the person's.
func FuzzReplyHeader(f *testing.F) {
	f.Add([]byte("Subject: Re: hi\r\nCc: Pat <" + fuzzPerson + ">, bookings@app.test\r\nX-Mailer: M\r\nContent-Type: text/plain; name=\"" + fuzzPerson + "\"\r\n\r\n"))
	f.Add([]byte("Cc: =?utf-8?q?Pat?= <PERSON@example.com>\r\nContent-Description: person%40example.com\r\nReferences: <a@b>\r\nDate: x\r\n\r\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(raw)))
		if err != nil {
			return
		}
		scrubReply(&h, []string{fuzzPerson}, fuzzDomain)
		for fields := h.Fields(); fields.Next(); {
			k := fields.Key()
			canonical := nettextproto.CanonicalMIMEHeaderKey(k)
			if !slices.Contains(replyKept, canonical) && !strings.HasPrefix(canonical, "Content-") {
				t.Fatalf("the reply keeps %s: %q", k, fields.Value())
			}
			if !slices.Contains(replyPlanted, canonical) && canonical != "Cc" && namesAny(fields.Value(), []string{fuzzPerson}) {
				t.Fatalf("the reply's %s names the person: %q", k, fields.Value())
			}
		}
		if h.Has("Cc") {
			list, err := (&gomail.Header{Header: gomessage.Header{Header: h}}).AddressList("Cc")
			for _, a := range list {
				if err == nil && strings.EqualFold(a.Address, fuzzPerson) {
					t.Fatalf("the reply's Cc names the person: %q", h.Values("Cc"))
				}
			}
		}
	})
}

// FuzzReplyBodyRefusal: whatever body a reply has, replyBodyRefusal answers, and a reply with
// an attached message, a report or message headers at any level go-message reads is refused.
func FuzzReplyBodyRefusal(f *testing.F) {
	for _, m := range fuzzMessages() {
		f.Add([]byte(m))
	}
	f.Add([]byte("Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type: message/rfc822\r\n\r\nFrom: " + fuzzPerson + "\r\n\r\nhi\r\n--B--\r\n"))
	f.Add([]byte("Content-Type: application/pgp-keys\r\nContent-Transfer-Encoding: base64\r\n\r\n" + wrapBase64([]byte("uid "+fuzzPerson))))
	f.Fuzz(func(t *testing.T, msg []byte) {
		header, body, err := splitMessage(msg)
		if err != nil {
			return
		}
		reason := replyBodyRefusal(header, body, []string{fuzzPerson})
		if reason != "" {
			return
		}
		e, err := gomessage.New(gomessage.Header{Header: header}, bytes.NewReader(body))
		if err != nil {
			return
		}
		e.Walk(func(path []int, part *gomessage.Entity, err error) error {
			if err != nil || len(path) > maxMIMEDepth {
				return err
			}
			mediaType, _, _ := part.Header.ContentType()
			if strings.HasPrefix(mediaType, "message/") || mediaType == "multipart/report" || mediaType == "text/rfc822-headers" {
				t.Fatalf("a reply holding a %s part at %v was not refused", mediaType, path)
			}
			return nil
		})
	})
}
