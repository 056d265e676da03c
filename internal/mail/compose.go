package mail

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"mime"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	gomail "github.com/emersion/go-message/mail"
)

// parseAddress parses one RFC 5322 address, decoding encoded words in the display name.
func parseAddress(s string) (*gomail.Address, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("empty address")
	}
	return gomail.ParseAddress(s)
}

// compose builds the MIME form of m: a text/plain part, or multipart/alternative with text
// and HTML when m.HTML is set; Date and Message-ID from the sender's domain. Header values are
// RFC 2047-encoded where needed; a value with a line break is refused, never folded into a new
// header.
func compose(m Message, defaultFrom string, now time.Time) ([]byte, error) {
	h, err := header(m, defaultFrom, now)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if m.HTML == "" {
		err = writeSingle(&buf, h, m.Text)
	} else {
		err = writeAlternative(&buf, h, m.Text, m.HTML)
	}
	if err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// envelopeAddresses parses the From (m.From, else defaultFrom), To and optional Reply-To of m.
// Its errors name the field, not its value: an address must not reach the log.
func envelopeAddresses(m Message, defaultFrom string) (from, to, replyTo *gomail.Address, err error) {
	fromStr := m.From
	if fromStr == "" {
		fromStr = defaultFrom
	}
	if from, err = parseAddress(fromStr); err != nil {
		return nil, nil, nil, fmt.Errorf("from: %w", err)
	}
	if to, err = parseAddress(m.To); err != nil {
		return nil, nil, nil, fmt.Errorf("to: %w", err)
	}
	if m.ReplyTo != "" {
		if replyTo, err = parseAddress(m.ReplyTo); err != nil {
			return nil, nil, nil, fmt.Errorf("reply-to: %w", err)
		}
	}
	return from, to, replyTo, nil
}

// header is the top-level header of m: From, To, Reply-To, Subject, Date, Message-ID and
// m.Headers, each value checked for line breaks.
func header(m Message, defaultFrom string, now time.Time) (gomail.Header, error) {
	var h gomail.Header
	from, to, replyTo, err := envelopeAddresses(m, defaultFrom)
	if err != nil {
		return h, err
	}
	if err := checkHeaderValue("Subject", m.Subject); err != nil {
		return h, err
	}
	keys := make([]string, 0, len(m.Headers))
	for k, v := range m.Headers {
		if err := checkHeaderValue(k, v); err != nil {
			return h, err
		}
		keys = append(keys, k)
	}
	sort.Sort(sort.Reverse(sort.StringSlice(keys))) // a stable order keeps outbox files comparable

	// Each field is inserted above the previous ones, so they are added bottom-up.
	for _, k := range keys {
		h.Set(k, encodeText(m.Headers[k]))
	}
	if err := h.GenerateMessageIDWithHostname(domainOf(from.Address)); err != nil {
		return h, fmt.Errorf("message-id: %w", err)
	}
	h.Set("Subject", encodeText(m.Subject))
	if replyTo != nil {
		h.SetAddressList("Reply-To", []*gomail.Address{replyTo})
	}
	h.SetAddressList("To", []*gomail.Address{to})
	h.SetAddressList("From", []*gomail.Address{from})
	h.SetDate(now)
	return h, nil
}

// writeSingle writes a text/plain message of header h and body text to buf.
func writeSingle(buf *bytes.Buffer, h gomail.Header, text string) error {
	h.SetContentType("text/plain", map[string]string{"charset": "utf-8"})
	h.Set("Content-Transfer-Encoding", transferEncoding(text))
	w, err := gomail.CreateSingleInlineWriter(buf, h)
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte(text)); err != nil {
		return err
	}
	return w.Close()
}

// writeAlternative writes a multipart/alternative message of header h, text and html to buf.
func writeAlternative(buf *bytes.Buffer, h gomail.Header, text, html string) error {
	w, err := gomail.CreateInlineWriter(buf, h)
	if err != nil {
		return err
	}
	for _, part := range []struct{ contentType, body string }{
		{"text/plain", text},
		{"text/html", html},
	} {
		var ph gomail.InlineHeader
		ph.SetContentType(part.contentType, map[string]string{"charset": "utf-8"})
		ph.Set("Content-Transfer-Encoding", transferEncoding(part.body))
		pw, err := w.CreatePart(ph)
		if err != nil {
			return err
		}
		if _, err := pw.Write([]byte(part.body)); err != nil {
			return err
		}
		if err := pw.Close(); err != nil {
			return err
		}
	}
	return w.Close()
}

// transferEncoding picks the encoding that leaves body readable in the raw message whenever
// the rules allow: 7bit for short-lined ASCII, 8bit (RFC 6152) for short-lined UTF-8, and
// quoted-printable only for lines over SMTP's 998 octets. Links then appear verbatim in the
// raw mail (quoted-printable would turn "=" into "=3D" and wrap long URLs), which is what
// tools that scrape sign-in links from mail rely on.
func transferEncoding(body string) string {
	for _, line := range strings.Split(body, "\n") {
		if len(line) > 998 {
			return "quoted-printable"
		}
	}
	if !utf8.ValidString(body) {
		return "quoted-printable"
	}
	for i := 0; i < len(body); i++ {
		if body[i] >= utf8.RuneSelf {
			return "8bit"
		}
	}
	return "7bit"
}

// encodeText is v as the value of an unstructured header field (Subject): RFC 2047 Q-encoded
// when it is not plain ASCII, as mime does, and B-encoded whole when it holds "=?", which mime
// leaves as it is. A mail program decodes any "=?charset?b?…?=" it finds in such a field, so
// an application name written that way ("=?utf-8?b?TG9naW5TaWduIFNlY3VyaXR5?=") would be read
// as "LoginSign Security", or as a right-to-left override, text that the name checks refuse.
// Encoded, it is read as written. The words hold at most 45 bytes each (75 characters once
// encoded), cut between characters; the spaces between them are not part of the text.
func encodeText(v string) string {
	if !strings.Contains(v, "=?") {
		return mime.QEncoding.Encode("utf-8", v)
	}
	var words []string
	for v != "" {
		n := min(len(v), 45)
		for n > 1 && n < len(v) && !utf8.RuneStart(v[n]) {
			n--
		}
		words = append(words, "=?utf-8?b?"+base64.StdEncoding.EncodeToString([]byte(v[:n]))+"?=")
		v = v[n:]
	}
	return strings.Join(words, " ")
}

func checkHeaderValue(key, value string) error {
	if strings.ContainsAny(value, "\r\n") {
		return fmt.Errorf("header %s: value contains a line break", key)
	}
	return nil
}
