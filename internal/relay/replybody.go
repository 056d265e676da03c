package relay

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"regexp"
	"slices"
	"strings"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/textproto"
)

// Bounds of the MIME tree the relay walks: replyBodyRefusal (a reply past them is refused: no
// mail client writes one) and calendarWalk. The message itself is at most
// Config.MaxMessageBytes.
const (
	maxMIMEParts = 200
	maxMIMEDepth = 10
)

// replyBodyRefusal walks the MIME tree of a reply (its top-level header and body) and returns
// why the reply may not go to a contact, or "" when it may:
//
//   - a multipart/report (delivery and read reports: an MDN names the person's address in
//     Final-Recipient), a multipart/digest (made of messages), any message/* part (an attached
//     or forwarded message, message/rfc822 and message/global, with the Delivered-To and
//     Received lines of the person's mailbox; headers or reports of one) and a
//     text/rfc822-headers part are refused whatever they hold, so the refusal tells nothing;
//   - a key or signature part (application/pkcs7-*, application/x-pkcs7-*, application/pgp-keys,
//     application/pgp-signature) is refused when its decoded bytes, ASCII armor removed, name
//     one of addresses (the person's, lower-cased): an S/MIME certificate or an OpenPGP user
//     id of the person's. Only the person's client writes those parts, so no sender can plant
//     a guess there;
//   - so is a contact card (contactCard: text/vcard and its older types, or a .vcf name) whose
//     decoded and unfolded bytes name one of addresses: the person's own card, which a client
//     can attach to every message. A sender's card reaches a reply only when the person sends
//     it back themselves (an inline forward), as a key would. The card is read as a client
//     reads it: in UTF-16 or UTF-32 (NUL bytes removed), with its quoted-printable and base64
//     values decoded (cardValues); one in a charset that may spell an ASCII address otherwise
//     (UTF-7, on the part or in a CHARSET parameter) is refused whatever it holds;
//   - a detached signature (detachedSignature) is refused whatever it holds: it names the
//     signer's key, whose owner a keyserver or the certificate inside tells;
//   - so is a text/plain part that starts with an inline OpenPGP signed or encrypted message
//     (inlinePGP), as a client that signs or encrypts inline writes it: its signature names
//     the person's key as a detached one does;
//   - so is a TNEF part (tnef), Outlook's winmail.dat, which carries the sender's (the
//     person's) address among its MAPI properties;
//   - so is a tree past maxMIMEParts parts or maxMIMEDepth levels, a multipart that does not
//     parse, and an encrypted or opaque-signed part (multipart/encrypted, application/
//     pgp-encrypted, opaqueSMIME), whatever it holds: what the relay cannot read, a mail client
//     might still show, and a contact who supplied the key decrypts what the relay refuses
//     elsewhere (the person's signing certificate, the protected headers Thunderbird and
//     Autocrypt clients write inside, "From: Pat <pat@example.com>").
func replyBodyRefusal(header textproto.Header, body []byte, addresses []string) string {
	w := replyWalk{addresses: addresses}
	return w.entity(header, bytes.NewReader(body), 0)
}

type replyWalk struct {
	addresses []string
	parts     int
}

func (w *replyWalk) entity(h textproto.Header, body io.Reader, depth int) string {
	w.parts++
	if w.parts > maxMIMEParts || depth > maxMIMEDepth {
		return "MIME tree too large"
	}
	mediaType, params := contentType(h)
	switch {
	case strings.HasPrefix(mediaType, "message/"), mediaType == "multipart/report", mediaType == "multipart/digest",
		mediaType == "text/rfc822-headers":
		return "a " + mediaType + " part"
	case mediaType == "multipart/encrypted", mediaType == "application/pgp-encrypted", opaqueSMIME(h, mediaType, params):
		return "an encrypted or opaque-signed " + mediaType + " part"
	case detachedSignature(mediaType):
		return "a signature " + mediaType + " part"
	case tnef(h, mediaType, params):
		return "a TNEF (winmail.dat) part"
	case strings.HasPrefix(mediaType, "multipart/"):
		boundary := params["boundary"]
		if boundary == "" {
			return "multipart without a boundary"
		}
		mr := textproto.NewMultipartReader(body, boundary)
		for {
			p, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				return ""
			}
			if err != nil {
				return "malformed multipart"
			}
			if reason := w.entity(p.Header, p, depth+1); reason != "" {
				return reason
			}
		}
	case keyMaterial(mediaType), contactCard(h, mediaType, params):
		// An unknown transfer encoding leaves the body as it is, still read.
		e, _ := message.New(message.Header{Header: h}, body)
		b, err := io.ReadAll(e.Body)
		if err != nil {
			return "undecodable " + mediaType + " part"
		}
		views := [][]byte{b, dearmor(b), unfoldLines(b), bytes.ReplaceAll(b, []byte{0}, nil)}
		if !keyMaterial(mediaType) {
			if !cardCharsetsReadable(h, b) {
				return "a contact card in a charset the relay cannot read"
			}
			views = append(views, cardValues(b)...)
		}
		if slices.ContainsFunc(views, func(v []byte) bool { return namesAnyBytes(v, w.addresses) }) {
			return "a " + mediaType + " part naming the person"
		}
	// Last: it reads the body, which a case above (a card sent as text/plain) reads whole.
	case mediaType == "text/plain" && inlinePGP(h, body):
		return "an inline OpenPGP signed or encrypted text"
	}
	return ""
}

// opaqueSMIME reports whether a part is S/MIME that wraps a MIME entity the relay cannot read
// (RFC 8551 section 3.5.2 and 3.3): application/pkcs7-mime (or x-pkcs7-mime, or a part named
// *.p7m) of any smime-type but certs-only, which holds certificates alone (keyMaterial reads
// those). Enveloped data is encrypted; opaque signed data holds its entity in BER, whose
// constructed OCTET STRING may cut it into chunks of any size, so no marker or address can be
// looked for in its bytes. Mail clients unwrap both and show the entity inside.
func opaqueSMIME(h textproto.Header, mediaType string, params map[string]string) bool {
	if strings.EqualFold(strings.TrimSpace(params["smime-type"]), "certs-only") {
		return false
	}
	if mediaType == "application/pkcs7-mime" || mediaType == "application/x-pkcs7-mime" {
		return true
	}
	for _, n := range partNames(h, params) {
		if strings.HasSuffix(n, ".p7m") {
			return true
		}
	}
	return false
}

// partNames are the names a part gives itself (its Content-Type name and its
// Content-Disposition filename), decoded, trimmed and in lower case, for the checks that go by
// a file's extension as mail clients do.
func partNames(h textproto.Header, params map[string]string) []string {
	names := []string{params["name"]}
	if _, disposition, err := mime.ParseMediaType(h.Get("Content-Disposition")); err == nil {
		names = append(names, disposition["filename"])
	}
	for i, n := range names {
		if decoded, err := scanDecoder.DecodeHeader(n); err == nil {
			n = decoded
		}
		names[i] = strings.ToLower(strings.TrimSpace(n))
	}
	return names
}

// contactCard reports whether a part is a contact card (vCard, RFC 6350), by its media type
// or by a name or filename ending in .vcf or .vcard: a mail client can attach the person's own
// to every message (Thunderbird's "Attach my vCard to messages", Outlook's business card in a
// signature), and its EMAIL line is the person's address.
func contactCard(h textproto.Header, mediaType string, params map[string]string) bool {
	switch mediaType {
	case "text/vcard", "text/x-vcard", "text/directory", "application/vcard", "application/x-vcard":
		return true
	}
	for _, n := range partNames(h, params) {
		if strings.HasSuffix(n, ".vcf") || strings.HasSuffix(n, ".vcard") {
			return true
		}
	}
	return false
}

// unfoldLines joins the folded lines of a vCard or iCalendar text (RFC 6350 section 3.2: a
// line break followed by a space or tab is removed), which may cut an address in two.
func unfoldLines(b []byte) []byte {
	for _, fold := range []string{"\r\n ", "\r\n\t", "\n ", "\n\t"} {
		b = bytes.ReplaceAll(b, []byte(fold), nil)
	}
	return b
}

// contentType is the media type of h, lower-cased, and its parameters: text/plain without a
// Content-Type (RFC 2045 section 5.2); the type alone when the parameters do not parse.
func contentType(h textproto.Header) (string, map[string]string) {
	v := h.Get("Content-Type")
	if strings.TrimSpace(v) == "" {
		return "text/plain", nil
	}
	mediaType, params, err := mime.ParseMediaType(v)
	if err != nil {
		mediaType, _, _ = strings.Cut(v, ";")
		mediaType = strings.ToLower(strings.TrimSpace(mediaType))
	}
	return mediaType, params
}

// detachedSignature reports whether mediaType is the signature of a multipart/signed (RFC
// 3156, RFC 8551 section 3.5.3): the person's client signs a reply with the person's key, and
// the signature names it. An OpenPGP signature carries the key's fingerprint (which
// keys.openpgp.org and the other keyservers answer with the key's user ids, the person's
// address), an S/MIME one the signer's certificate (name and address). Only the person's
// client writes one (an attached or forwarded message is refused as message/*), so refusing
// it whatever it holds tells a sender nothing.
func detachedSignature(mediaType string) bool {
	switch mediaType {
	case "application/pgp-signature", "application/pkcs7-signature", "application/x-pkcs7-signature":
		return true
	}
	return false
}

// keyMaterial reports whether mediaType holds keys or signatures, which carry their owner's
// address (an S/MIME certificate, an OpenPGP user id).
func keyMaterial(mediaType string) bool {
	return strings.HasPrefix(mediaType, "application/pkcs7-") || strings.HasPrefix(mediaType, "application/x-pkcs7-") ||
		mediaType == "application/pgp-keys" || mediaType == "application/pgp-signature"
}

// namesAnyBytes reports whether b holds one of addresses (lower-cased), ignoring case.
func namesAnyBytes(b []byte, addresses []string) bool {
	if len(b) == 0 {
		return false
	}
	lower := bytes.ToLower(b)
	for _, a := range addresses {
		if bytes.Contains(lower, []byte(a)) {
			return true
		}
	}
	return false
}

// dearmor returns the binary data of the OpenPGP ASCII armor blocks of b (RFC 4880 section
// 6.2), one after the other; nil when there is none. Blocks that do not decode are skipped.
func dearmor(b []byte) []byte {
	var out []byte
	lines := strings.Split(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		if !strings.HasPrefix(lines[i], "-----BEGIN PGP ") {
			continue
		}
		i++
		for i < len(lines) && strings.TrimSpace(lines[i]) != "" { // armor headers
			i++
		}
		var data strings.Builder
		for i++; i < len(lines) && !strings.HasPrefix(lines[i], "=") && !strings.HasPrefix(lines[i], "-----"); i++ {
			data.WriteString(strings.TrimSpace(lines[i]))
		}
		if decoded, err := base64.StdEncoding.DecodeString(data.String()); err == nil {
			out = append(out, decoded...)
		}
	}
	return out
}

// tnef reports whether a part is Outlook's Transport Neutral Encapsulation Format
// (application/ms-tnef, application/vnd.ms-tnef, or a part named winmail.dat), which Outlook
// and Exchange write for rich-text mail. It carries the message's MAPI properties: the
// sender's name and address (attFrom, PR_SENDER_EMAIL_ADDRESS, PR_SENT_REPRESENTING_*, in
// ANSI or UTF-16, or an Exchange DN naming the mailbox), which in a reply are the person's.
// Clients that read it (Outlook, Apple Mail, Thunderbird with an add-on) show them. Its
// strings may be UTF-16, so no byte search for the person's addresses can clear it: it is
// refused whatever it holds, and only the person's client writes one.
func tnef(h textproto.Header, mediaType string, params map[string]string) bool {
	if mediaType == "application/ms-tnef" || mediaType == "application/vnd.ms-tnef" {
		return true
	}
	for _, n := range partNames(h, params) {
		if n == "winmail.dat" {
			return true
		}
	}
	return false
}

// inlinePGPHeads are the armor lines an inline OpenPGP message starts with (RFC 4880 sections
// 6.2 and 7): a cleartext signature, or a signed or encrypted message (whose signature, or
// encryption to the sender's own key, names the person's key).
var inlinePGPHeads = [][]byte{[]byte("-----BEGIN PGP SIGNED MESSAGE-----"), []byte("-----BEGIN PGP MESSAGE-----")}

// maxInlinePGPLead bounds what inlinePGP reads of a text part: the armor line comes first.
const maxInlinePGPLead = 64 << 10

// inlinePGP reports whether the text part with header h and body starts (its transfer
// encoding decoded, blanks and a byte order mark skipped) with an inline OpenPGP message: a
// client that signs or encrypts inline (Mailvelope, K-9 Mail, Enigmail's inline mode, gpg
// --clearsign pasted) writes the person's whole text between its armor lines, and the
// signature names the person's key as a detached one does (detachedSignature): its issuer
// fingerprint, which keyservers answer with the key's user ids, and often a Signer's User ID
// subpacket spelling the address. Only the start is read: a signed message of someone else's
// that the person quotes or forwards inline below their own text (or below the quote line
// "On … wrote:", "-----Original Message-----", "> " prefixes) does not make the reply bounce.
func inlinePGP(h textproto.Header, body io.Reader) bool {
	e, err := message.New(message.Header{Header: h}, body)
	if err != nil && e == nil {
		return false
	}
	lead, _ := io.ReadAll(io.LimitReader(e.Body, maxInlinePGPLead))
	lead = bytes.TrimLeft(bytes.TrimPrefix(bytes.TrimLeft(lead, " \t\r\n"), []byte("\ufeff")), " \t\r\n")
	for _, head := range inlinePGPHeads {
		if bytes.HasPrefix(lead, head) {
			return true
		}
	}
	return false
}

// cardCharset finds the CHARSET parameter of a vCard 2.1 property ("EMAIL;CHARSET=UTF-7:…").
var cardCharset = regexp.MustCompile(`(?i);\s*charset\s*=\s*"?([^";:,\s]*)`)

// cardCharsetsReadable reports whether the contact card with header h and decoded bytes b is
// written in charsets that spell an ASCII address in ASCII bytes, as the byte search for the
// person's addresses needs: its Content-Type's and every CHARSET parameter of its lines (vCard
// 2.1). Those are asciiCharset and the multibyte charsets that write every ASCII character as
// itself (Shift_JIS, EUC, GBK, Big5: Android writes a vCard 2.1 in the phone's). In UTF-7
// ("pat+AEA-example.com") or ISO-2022 a mail client shows the person's address that the search
// does not see; UTF-16 and UTF-32, declared or not, are read with their NUL bytes removed
// instead, so they are let through here.
func cardCharsetsReadable(h textproto.Header, b []byte) bool {
	readable := func(c string) bool {
		c = strings.ToLower(strings.TrimSpace(c))
		switch c {
		case "shift_jis", "shift-jis", "sjis", "windows-31j", "cp932", "euc-jp", "euc-kr", "gb2312", "gbk", "gb18030", "big5", "cp936", "cp949", "cp950":
			return true
		}
		return asciiCharset(c) || strings.HasPrefix(c, "utf-16") || strings.HasPrefix(c, "utf-32") || strings.HasPrefix(c, "ucs-")
	}
	for _, v := range h.Values("Content-Type") {
		for _, m := range charsetParam.FindAllStringSubmatch(v, -1) {
			if !readable(m[1]) {
				return false
			}
		}
	}
	for _, m := range cardCharset.FindAllSubmatch(bytes.ReplaceAll(unfoldLines(b), []byte{0}, nil), -1) {
		if !readable(string(m[1])) {
			return false
		}
	}
	return true
}

// cardQuotedPrintable is a quoted-printable escape or soft line break of a vCard 2.1 value.
var cardQuotedPrintable = regexp.MustCompile(`=(?:\r?\n|[0-9A-Fa-f]{2})`)

// cardValues are the readings of a contact card's decoded bytes b that a mail client decodes
// and the byte search would miss: the card with its quoted-printable escapes decoded (vCard
// 2.1's ENCODING=QUOTED-PRINTABLE, which Outlook and Android write: "pat=40example.com"),
// and the base64 value of each line whose parameters say BASE64 or ENCODING=B (vCard 2.1 and
// 3.0: a KEY holding the person's certificate or OpenPGP key, any other value).
func cardValues(b []byte) [][]byte {
	qp := cardQuotedPrintable.ReplaceAllFunc(b, func(m []byte) []byte {
		if m[1] == '\r' || m[1] == '\n' {
			return nil
		}
		var c byte
		for _, d := range m[1:] {
			c <<= 4
			switch {
			case d >= '0' && d <= '9':
				c |= d - '0'
			case d >= 'a' && d <= 'f':
				c |= d - 'a' + 10
			default:
				c |= d - 'A' + 10
			}
		}
		return []byte{c}
	})
	out := [][]byte{qp}
	for _, l := range splitCalendarLines(bytes.ReplaceAll(b, []byte{0}, nil)) {
		params, value, ok := strings.Cut(l.text, ":")
		if !ok {
			continue
		}
		upper := strings.ToUpper(strings.Join(strings.Fields(params), ""))
		if !strings.Contains(upper, "BASE64") && !strings.Contains(upper, "ENCODING=B") {
			continue
		}
		compact := strings.Join(strings.Fields(value), "")
		decoded, err := base64.StdEncoding.DecodeString(compact)
		if err != nil {
			decoded, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(compact, "="))
		}
		if err == nil {
			out = append(out, decoded, dearmor(decoded))
		}
	}
	return out
}
