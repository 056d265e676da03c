package relay

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"mime"
	"mime/quotedprintable"
	"regexp"
	"slices"
	"strings"

	gomail "github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"

	"loginsign/ent/relaycontact"
	"loginsign/internal/store"
)

// Calendar invitations (iCalendar, RFC 5545, sent by mail as iMIP, RFC 6047) name addresses
// that the person's mail client writes to on its own: a click on "Accept" sends an iTIP REPLY
// (RFC 5546) to the ORGANIZER, from the person's real address and outside the relay. So the
// relay rewrites the addresses of every calendar part, at any depth of the MIME tree:
//
//   - A forward gives each address a calendar part names (calAddressProperties,
//     calAddressParams, and any other value that is a "mailto:" URI) the reverse alias of
//     its connection, the one its To and Cc addresses get, made together as theirs are
//     (participantMasker, within the same maxMaskedParticipants per message), but the alias
//     the mail was sent to, which stays as it is. A value the relay cannot give a reverse
//     alias (past the cap, or one that does not name exactly one address) is removed: the
//     property when it is the value of one, else the parameter value. Which addresses are
//     rewritten depends on nothing of the person's, so it tells a sender nothing. Text
//     (SUMMARY, DESCRIPTION, CN…) stays.
//   - A reply turns the reverse aliases of its connection back into their contacts'
//     addresses and every other address into the alias; in an iTIP REPLY, COUNTER or
//     REFRESH (sent by an attendee, that is the person) every ATTENDEE becomes the alias
//     whatever it held; the ORGANIZER and ATTENDEE lines, and any other whose value is a
//     "mailto:" URI (X-MS-OLK-SENDER), keep only their CUTYPE, ROLE, PARTSTAT and RSVP
//     parameters besides those naming calendar users, mapped alike (a CN is the person's
//     name, or their address as Google Calendar writes it). Every address in the text of the
//     other lines (DESCRIPTION, COMMENT, LOCATION, X-ALT-DESC, X-WR-CALNAME…) and of their
//     other parameters is mapped alike (mapText); a UID stays. No rule there
//     reads the person's addresses: an address a sender planted in the invitation (masked by
//     the forward, then copied by the person's client) comes out the same whether or not it
//     is the person's.
//
// Only the rewritten parts change, decoded, rewritten line by line and encoded again in their
// own transfer encoding; every other byte of the body stays. That breaks no signature that
// reaches anyone: the sender's DKIM-Signature is removed from a forward anyway (its header
// changes), and a reply keeps none of the person's. A forward whose calendar part the relay
// cannot read is refused (errCalendarUnreadable), a reply likewise (errReplyContent): passed
// on as it is, its ORGANIZER would be answered from the person's real address.

// messageTypes are the media types of attached messages, which the walk reads as messages:
// message/news (obsoleted by RFC 5537 in favour of message/rfc822) is one a client may still
// show as such.
var messageTypes = []string{"message/rfc822", "message/global", "message/news"}

// calendarTypes are the media types of calendar parts; a part named *.ics or *.vcs
// (Content-Type name, Content-Disposition filename) is one too, whatever its type says.
var calendarTypes = []string{"text/calendar", "application/ics", "text/x-vcalendar"}

// calendarRefusal is why a calendar part, or a part of the MIME tree that may hold one, cannot
// be read, for the log.
type calendarRefusal string

func (r calendarRefusal) Error() string { return string(r) }

// calendarWalk walks the MIME tree of a message and rewrites its calendar parts with edit,
// keeping every other byte: multipart/* parts are cut at their delimiter lines
// (splitMultipart), attached messages (messageTypes) are read as the messages they
// hold, everything else is a leaf. A calendar leaf is decoded from its transfer encoding
// (7bit, 8bit, binary, quoted-printable, base64), given to edit, and encoded back when edit
// changed it. With edit nil the walk only checks that every calendar part can be read.
//
// It fails with a calendarRefusal when a calendar part does not decode, is in a charset that
// may write ASCII otherwise than as ASCII (asciiCharset; NUL or lone CR bytes), when an
// attached message or a multipart has a transfer encoding that does not decode, or when what
// it cannot walk may hold one (opaque): past maxMIMEParts parts or maxMIMEDepth levels, a
// part with two different Content-Type, Content-Transfer-Encoding or Content-Disposition
// fields, a multipart without a boundary or a delimiter, a part whose header does not parse,
// an opaque S/MIME part (opaqueSMIME), whose entity clients unwrap.
type calendarWalk struct {
	edit  func(c *parsedCalendar) ([]byte, error)
	parts int
	// decodedBytes are the encoded bytes this walk decoded (decode, maxDecodedBytes).
	decodedBytes int
	// cache, when not nil, holds the calendar parts already decoded and parsed, and takes
	// those the walk decodes.
	cache calendarCache
}

// parsedCalendar is one calendar part, decoded from its transfer encoding and cut into its
// content lines (splitCalendarLines), each parsed (parseProperty) with the METHOD of its
// VCALENDAR, upper-cased ("" when it has none).
type parsedCalendar struct {
	ics    []byte
	lines  []calLine
	parsed []property
	ok     []bool
	method []string
}

// parseCalendar reads the decoded iCalendar data ics into a parsedCalendar.
func parseCalendar(ics []byte) *parsedCalendar {
	c := &parsedCalendar{ics: ics, lines: splitCalendarLines(ics)}
	c.parsed = make([]property, len(c.lines))
	c.ok = make([]bool, len(c.lines))
	c.method = make([]string, len(c.lines))
	blockOf := make([]int, len(c.lines))
	methods := map[int]string{}
	block := 0
	for i, l := range c.lines {
		c.parsed[i], c.ok[i] = parseProperty(l.text)
		if c.ok[i] {
			switch strings.ToUpper(c.parsed[i].name) {
			case "BEGIN":
				if strings.EqualFold(strings.TrimSpace(c.parsed[i].value), "VCALENDAR") {
					block++
				}
			case "METHOD":
				if _, seen := methods[block]; !seen {
					methods[block] = strings.ToUpper(strings.TrimSpace(c.parsed[i].value))
				}
			}
		}
		blockOf[i] = block
	}
	for i := range c.lines {
		c.method[i] = methods[blockOf[i]]
	}
	return c
}

// calendarCache holds what the walks of one message's MIME tree compute, once for all its
// routes (deliver): the calendar parts decoded and parsed (each route's walk rewrites them
// anew, and only the encoding of what it rewrote is its own), where each multipart's parts lie
// (splitMultipart) and the decoded bytes of each attached message. Without it every route
// split and decoded the whole tree again, twice (calendarParticipants, then the rewrite): a
// 20 MiB message of multiparts nested ten deep, sent to 50 aliases, was split 101 times,
// minutes of CPU for anyone who can send mail. A part is found by its raw bytes (their first
// byte's address and their length) and transfer encoding or boundary: the routes share the
// message's body, and an attached message's decoded bytes are kept, so a part at the same
// place is the same part; any other (under a header a reply's scrub changed) is read again.
// nil caches nothing.
type calendarCache = *calendarMemo

type calendarMemo struct {
	parsed  map[calendarKey]*parsedCalendar
	splits  map[calendarKey][]span // enc holds the boundary
	decoded map[calendarKey][]byte
}

type calendarKey struct {
	start *byte
	n     int
	enc   string
}

func newCalendarCache() calendarCache {
	return &calendarMemo{parsed: map[calendarKey]*parsedCalendar{}, splits: map[calendarKey][]span{}, decoded: map[calendarKey][]byte{}}
}

func (c *calendarMemo) key(enc string, raw []byte) (calendarKey, bool) {
	if c == nil || len(raw) == 0 {
		return calendarKey{}, false
	}
	return calendarKey{start: &raw[0], n: len(raw), enc: enc}, true
}

// split is splitMultipart of body, with at most maxMIMEParts+1 parts: the last one runs to the
// end of the last part, so whatever lies past the walk's bounds is still looked at (opaque),
// once. Without the cap, a flat multipart of a million empty parts cost a million spans and
// header reads per walk.
func (c *calendarMemo) split(body []byte, boundary string) []span {
	key, ok := c.key(boundary, body)
	if ok {
		if parts, seen := c.splits[key]; seen {
			return parts
		}
	}
	parts := splitMultipartN(body, boundary, maxMIMEParts+1)
	if ok {
		c.splits[key] = parts
	}
	return parts
}

// maxDecodedBytes bounds the encoded bytes one walk decodes from attached messages,
// multiparts and TNEF parts (calendarWalk.decode). Each attached message in quoted-printable
// decodes to about its own size, and the walk holds every level at once: a 20 MiB message of
// ten nested in one another allocated some 480 MiB, 200 MiB of it held while the message was
// relayed. Real mail decodes a fraction of that: an attached message should not be encoded
// at all (RFC 2046 section 5.2.1), and three nested in base64 decode 1.7 times their size.
const maxDecodedBytes = 64 << 20

// errDecodeBudget is a walk past maxDecodedBytes: what it did not decode may hold a calendar.
var errDecodeBudget = errors.New("more encoded bytes than the walk decodes")

// decode is decodeTransfer of an attached message's, a multipart's or a TNEF part's bytes,
// kept in the cache for the next walk (its result is never written to: an edit appends to a
// copy); errDecodeBudget past maxDecodedBytes decoded by this walk.
func (w *calendarWalk) decode(enc string, raw []byte) ([]byte, error) {
	key, ok := w.cache.key(enc, raw)
	if ok {
		if b, seen := w.cache.decoded[key]; seen {
			return b, nil
		}
	}
	switch enc {
	case "", "7bit", "8bit", "binary":
		return raw, nil
	}
	if w.decodedBytes += len(raw); w.decodedBytes > maxDecodedBytes {
		return nil, errDecodeBudget
	}
	b, err := decodeTransfer(enc, raw)
	if ok && err == nil {
		w.cache.decoded[key] = b
	}
	return b, err
}

// entity returns the body of the entity with header h rewritten, and whether it changed.
func (w *calendarWalk) entity(h textproto.Header, body []byte, depth int) ([]byte, bool, error) {
	w.parts++
	if w.parts > maxMIMEParts || depth > maxMIMEDepth {
		return body, false, opaque(h, "a MIME tree past its bounds", body)
	}
	if ambiguous(h) {
		return body, false, opaque(h, "a part with two Content-Type, Content-Transfer-Encoding or Content-Disposition fields", body)
	}
	mediaType, params := contentType(h)
	switch {
	case strings.HasPrefix(mediaType, "multipart/"):
		return w.multipart(h, params["boundary"], body, depth)
	case slices.Contains(messageTypes, mediaType):
		return w.message(h, body, depth)
	case opaqueSMIME(h, mediaType, params):
		// Mail clients unwrap it and act on an invitation inside; its bytes cannot be read
		// for one (opaqueSMIME), and signing it needs no key of the person's.
		return body, false, calendarRefusal("an opaque S/MIME part that may hold a calendar")
	case isCalendarPart(h, mediaType, params):
		return w.calendar(h, body)
	case tnef(h, mediaType, params):
		return body, false, w.tnefMeeting(h, body)
	}
	return body, false, nil
}

// tnefMeetingMarkers are what the message class of a TNEF meeting message spells, lower-cased
// ("IPM.Schedule.Meeting.Request", the legacy attribute's "IPM.Microsoft Schedule.MtgReq"), in
// ASCII and in UTF-16LE, as MAPI's string and Unicode properties write it.
var tnefMeetingMarkers = []string{"schedule", "s\x00c\x00h\x00e\x00d\x00u\x00l\x00e\x00"}

// tnefMeeting refuses a TNEF part (Outlook's winmail.dat, tnef) that holds a meeting
// request: Outlook reads the meeting inside as it would an iCalendar one and answers its
// organizer from the person's real address, and the walk cannot rewrite it. Other TNEF parts
// (rich-text mail) pass as they are.
func (w *calendarWalk) tnefMeeting(h textproto.Header, body []byte) error {
	decoded, err := w.decode(transferEncoding(h), body)
	if err != nil {
		return calendarRefusal("a TNEF part that does not decode")
	}
	if mentionsAny(decoded, tnefMeetingMarkers) {
		return calendarRefusal("a TNEF part holding a meeting request")
	}
	return nil
}

func (w *calendarWalk) multipart(h textproto.Header, boundary string, body []byte, depth int) ([]byte, bool, error) {
	if enc := transferEncoding(h); boundary == "" || (enc != "" && enc != "7bit" && enc != "8bit" && enc != "binary") {
		// Some clients decode a multipart's transfer encoding (RFC 2045 section 6.4 forbids
		// one), which can hide its parts' headers from a look at the bytes as they are.
		decoded, err := w.decode(enc, body)
		if err != nil {
			return body, false, calendarRefusal("a multipart whose transfer encoding does not decode")
		}
		return body, false, opaque(h, "a multipart it cannot split", body, decoded)
	}
	parts := w.cache.split(body, boundary)
	if len(parts) == 0 {
		return body, false, opaque(h, "a multipart without a delimiter", body)
	}
	var out []byte
	last := 0
	for _, p := range parts {
		raw := body[p.start:p.end]
		ph, pbody, err := splitMessage(raw)
		if err != nil {
			if err := opaque(textproto.Header{}, "a part whose header does not parse", raw); err != nil {
				return nil, false, err
			}
			continue
		}
		edited, changed, err := w.entity(ph, pbody, depth+1)
		if err != nil {
			return nil, false, err
		}
		if changed {
			bodyStart := p.end - len(pbody)
			out = append(append(out, body[last:bodyStart]...), edited...)
			last = p.end
		}
	}
	if out == nil {
		return body, false, nil
	}
	return append(out, body[last:]...), true, nil
}

func (w *calendarWalk) message(h textproto.Header, body []byte, depth int) ([]byte, bool, error) {
	enc := transferEncoding(h)
	decoded, err := w.decode(enc, body)
	if errors.Is(err, errDecodeBudget) {
		return body, false, calendarRefusal("attached messages past the bytes the walk decodes")
	}
	if err != nil {
		// Clients decode what they can of it, each its own way; the bytes as they are hide
		// whether it holds a calendar.
		return body, false, calendarRefusal("an attached message that does not decode")
	}
	inner, innerBody, err := splitMessage(decoded)
	if err != nil {
		return body, false, opaque(h, "an attached message whose header does not parse", decoded)
	}
	edited, changed, err := w.entity(inner, innerBody, depth+1)
	if err != nil || !changed {
		return body, false, err
	}
	headerLen := len(decoded) - len(innerBody)
	encoded, err := encodeTransfer(enc, append(decoded[:headerLen:headerLen], edited...), body)
	return encoded, err == nil, err
}

func (w *calendarWalk) calendar(h textproto.Header, body []byte) ([]byte, bool, error) {
	enc := transferEncoding(h)
	key, cacheable := w.cache.key(enc, body)
	// The charset is the header's, which a reply's scrub may have changed: read every time.
	if !asciiCharsets(h) {
		return nil, false, calendarRefusal("a calendar part in a charset it cannot read")
	}
	var c *parsedCalendar
	if cacheable {
		c = w.cache.parsed[key]
	}
	if !cacheable || c == nil {
		ics, err := decodeTransfer(enc, body)
		if err != nil {
			return nil, false, calendarRefusal("a calendar part that does not decode")
		}
		if bytes.IndexByte(ics, 0) >= 0 || bytes.HasPrefix(ics, []byte{0xfe, 0xff}) || bytes.HasPrefix(ics, []byte{0xff, 0xfe}) {
			return nil, false, calendarRefusal("a calendar part in a charset it cannot read")
		}
		if bytes.Count(ics, []byte("\r")) != bytes.Count(ics, []byte("\r\n")) {
			return nil, false, calendarRefusal("a calendar part with lines ending in a lone CR")
		}
		if w.edit == nil && w.cache == nil {
			return body, false, nil
		}
		c = parseCalendar(ics)
		if cacheable {
			w.cache.parsed[key] = c
		}
	}
	if w.edit == nil {
		return body, false, nil
	}
	edited, err := w.edit(c)
	if err != nil || edited == nil {
		return body, false, err
	}
	encoded, err := encodeTransfer(enc, edited, body)
	return encoded, err == nil, err
}

// isCalendarPart reports whether a leaf part is a calendar: its media type is one of
// calendarTypes, or its name or filename ends in .ics or .vcs (encoded words decoded). A
// Content-Type or Content-Disposition that does not parse is read for what a lenient client
// would find in it (calendarMarkers).
func isCalendarPart(h textproto.Header, mediaType string, params map[string]string) bool {
	if slices.Contains(calendarTypes, mediaType) {
		return true
	}
	names := []string{params["name"]}
	_, disposition, err := mime.ParseMediaType(h.Get("Content-Disposition"))
	if err == nil {
		names = append(names, disposition["filename"])
	}
	for _, n := range names {
		// Mail clients show a name written in RFC 2047 encoded words (not RFC 2231, which
		// ParseMediaType decodes) decoded: "=?utf-8?q?invite.ics?=" is invite.ics.
		if decoded, err := scanDecoder.DecodeHeader(n); err == nil {
			n = decoded
		}
		if n = strings.ToLower(strings.TrimSpace(n)); strings.HasSuffix(n, ".ics") || strings.HasSuffix(n, ".vcs") {
			return true
		}
	}
	_, _, typeErr := mime.ParseMediaType(h.Get("Content-Type"))
	unparsed := (h.Get("Content-Type") != "" && typeErr != nil) || (h.Get("Content-Disposition") != "" && err != nil)
	return unparsed && mentionsCalendar([]byte(h.Get("Content-Type")+" "+h.Get("Content-Disposition")))
}

// calendarMarkers are what part headers or iCalendar data spell, lower-cased.
var calendarMarkers = []string{"calendar", "application/ics", ".ics", ".vcs"}

// opaqueMarkers are what bytes the walk cannot read spell, lower-cased, when they may hold a
// calendar part a mail client would act on: calendarMarkers, or "message/", an attached
// message, whose transfer encoding (base64) hides the header of a calendar part it holds.
var opaqueMarkers = append(slices.Clone(calendarMarkers), "message/")

// mentionsCalendar reports whether b holds one of calendarMarkers, ignoring case.
func mentionsCalendar(b []byte) bool { return mentionsAny(b, calendarMarkers) }

// mentionsAny reports whether b holds one of markers (lower-cased, ASCII), ignoring ASCII
// case. It lowers b a chunk at a time into one small buffer: the walk looks at the bytes past
// its bounds for every route of a message, and lowering them whole allocated their size each
// time.
func mentionsAny(b []byte, markers []string) bool {
	longest := 0
	for _, m := range markers {
		longest = max(longest, len(m))
	}
	const chunk = 32 << 10
	buf := make([]byte, min(len(b), chunk+longest))
	for start := 0; start < len(b); start += chunk {
		part := b[start:min(len(b), start+chunk+longest-1)]
		lower := buf[:len(part)]
		for i, c := range part {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			lower[i] = c
		}
		if slices.ContainsFunc(markers, func(m string) bool { return bytes.Contains(lower, []byte(m)) }) {
			return true
		}
	}
	return false
}

// opaque is the outcome of bytes the walk cannot read: a calendarRefusal (why) when one of
// the Content-Type and Content-Disposition fields of the header h, or one of bs, holds one of
// opaqueMarkers; nil otherwise (they are kept as they are).
func opaque(h textproto.Header, why string, bs ...[]byte) error {
	described := strings.Join(append(h.Values("Content-Type"), h.Values("Content-Disposition")...), " ")
	if mentionsAny([]byte(described), opaqueMarkers) ||
		slices.ContainsFunc(bs, func(b []byte) bool { return mentionsAny(b, opaqueMarkers) }) {
		return calendarRefusal(why + " that may hold a calendar")
	}
	return nil
}

// ambiguous reports whether h has two different Content-Type, Content-Transfer-Encoding or
// Content-Disposition fields (RFC 2045 and RFC 2183 allow one): mail clients differ in the
// one they read (the relay's reader takes the first), so the part may be a calendar, or be
// encoded, for the person's client and not for the walk.
func ambiguous(h textproto.Header) bool {
	for _, k := range []string{"Content-Type", "Content-Transfer-Encoding", "Content-Disposition"} {
		vs := h.Values(k)
		for _, v := range vs[min(1, len(vs)):] {
			if !strings.EqualFold(strings.TrimSpace(v), strings.TrimSpace(vs[0])) {
				return true
			}
		}
	}
	return false
}

// asciiCharset reports whether charset writes each ASCII character as its ASCII byte and no
// other character with ASCII bytes, as the line-level rewrite needs: UTF-8 (the default for
// iCalendar, RFC 5545 section 3.1.4), US-ASCII, KOI8 and the ISO 8859 and Windows code pages.
// Any other charset may show a client an ORGANIZER that the rewrite does not see: UTF-7
// ("+AE8-RGANIZER", under labels such as csUnicode11UTF7), ISO-2022-JP (escape sequences
// inside a name, "ORG\x1b(BANIZER"), EBCDIC, or, writing NUL bytes, UTF-16 and UTF-32.
func asciiCharset(charset string) bool {
	c := strings.ToLower(strings.TrimSpace(charset))
	switch c {
	case "", "utf-8", "utf8", "us-ascii", "ascii", "koi8-r", "koi8-u":
		return true
	}
	return strings.HasPrefix(c, "iso-8859-") || strings.HasPrefix(c, "windows-125") || strings.HasPrefix(c, "cp125")
}

// charsetParam finds a charset parameter of a Content-Type value, in RFC 2231 forms too,
// whether the value parses or not.
var charsetParam = regexp.MustCompile(`(?i)charset(?:\*[0-9]*)*\s*=\s*"?([^";\s]*)`)

// asciiCharsets reports whether every charset parameter of h's Content-Type fields is
// asciiCharset (true when there is none), read as a lenient client would: a duplicate
// parameter, or one after a syntax error, is no less read. An RFC 2231 value keeps the
// charset and language it starts with, so it is no charset name.
func asciiCharsets(h textproto.Header) bool {
	for _, v := range h.Values("Content-Type") {
		for _, m := range charsetParam.FindAllStringSubmatch(v, -1) {
			if !asciiCharset(m[1]) {
				return false
			}
		}
	}
	return true
}

// transferEncoding is the Content-Transfer-Encoding of h, lower-cased; "" when none.
func transferEncoding(h textproto.Header) string {
	return strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding")))
}

// decodeTransfer decodes raw from the transfer encoding enc (RFC 2045 section 6). Base64 may
// lack its padding; any other encoding than those of RFC 2045 is an error.
func decodeTransfer(enc string, raw []byte) ([]byte, error) {
	switch enc {
	case "", "7bit", "8bit", "binary":
		return raw, nil
	case "quoted-printable":
		// Room for all of it from the start: it decodes to at most its own size.
		out := bytes.NewBuffer(make([]byte, 0, len(raw)+bytes.MinRead))
		_, err := out.ReadFrom(quotedprintable.NewReader(bytes.NewReader(raw)))
		return out.Bytes(), err
	case "base64":
		// One copy without the blanks, and the decoded bytes: attached messages are decoded
		// level by level, each as large as the message.
		compact := make([]byte, 0, len(raw))
		for _, c := range raw {
			if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
				compact = append(compact, c)
			}
		}
		b := make([]byte, base64.StdEncoding.DecodedLen(len(compact)))
		n, err := base64.StdEncoding.Decode(b, compact)
		if err != nil {
			trimmed := bytes.TrimRight(compact, "=")
			n, err = base64.RawStdEncoding.Decode(b, trimmed)
		}
		if err != nil {
			return nil, err
		}
		return b[:n], nil
	}
	return nil, fmt.Errorf("transfer encoding %q", enc)
}

// encodeTransfer encodes decoded in the transfer encoding enc, in lines ending in CRLF, and
// ends it with the line breaks original (what it replaces) ended with when enc is base64.
func encodeTransfer(enc string, decoded, original []byte) ([]byte, error) {
	switch enc {
	case "", "7bit", "8bit", "binary":
		return decoded, nil
	case "quoted-printable":
		var b bytes.Buffer
		w := quotedprintable.NewWriter(&b)
		if _, err := w.Write(decoded); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
		return b.Bytes(), nil
	case "base64":
		s := base64.StdEncoding.EncodeToString(decoded)
		var b bytes.Buffer
		b.Grow(len(s) + len(s)/76*2 + len(original) - len(bytes.TrimRight(original, " \t\r\n")))
		for len(s) > 76 {
			b.WriteString(s[:76] + "\r\n")
			s = s[76:]
		}
		b.WriteString(s)
		b.Write(original[len(bytes.TrimRight(original, " \t\r\n")):])
		return b.Bytes(), nil
	}
	return nil, fmt.Errorf("transfer encoding %q", enc)
}

// span is where a part's content (header and body) lies in its multipart's body.
type span struct{ start, end int }

// splitMultipart returns where the parts of a multipart body with boundary lie (RFC 2046
// section 5.1.1), as go-message's reader finds them: a delimiter line is "--" boundary, "--"
// too for the last one, then blanks only; the line break before it belongs to it. A body
// without a closing delimiter ends its last part, as mail clients read it. None when the body
// has no delimiter line.
func splitMultipart(body []byte, boundary string) []span {
	return splitMultipartN(body, boundary, -1)
}

// editParts returns the multipart body with boundary with each part edited by edit, which
// answers the part's new header and body and whether they changed; the parts it left alone
// keep their bytes, as does everything between them. changed is false, and body is returned
// as it was, when edit changed no part. A part that does not parse is left as it is.
func editParts(body []byte, boundary string, edit func(h textproto.Header, body []byte) (textproto.Header, []byte, bool, error)) ([]byte, bool, error) {
	var out []byte
	last := 0
	for _, p := range splitMultipart(body, boundary) {
		ph, pbody, err := splitMessage(body[p.start:p.end])
		if err != nil {
			continue
		}
		ph, pbody, changed, err := edit(ph, pbody)
		if err != nil {
			return nil, false, err
		}
		if !changed {
			continue
		}
		var part bytes.Buffer
		if err := textproto.WriteHeader(&part, ph); err != nil {
			return nil, false, err
		}
		part.Write(pbody)
		out = append(append(out, body[last:p.start]...), part.Bytes()...)
		last = p.end
	}
	if out == nil {
		return body, false, nil
	}
	return append(out, body[last:]...), true, nil
}

// splitMultipartN is splitMultipart returning at most max spans (any number when max < 0):
// past them, the last span grows to the end of the last part. It jumps from one "--" boundary
// to the next rather than reading every line.
func splitMultipartN(body []byte, boundary string, max int) []span {
	dash := []byte("--" + boundary)
	var parts []span
	add := func(p span) {
		if max >= 0 && len(parts) >= max {
			parts[len(parts)-1].end = p.end
			return
		}
		parts = append(parts, p)
	}
	start := -1
	for pos := 0; pos < len(body); {
		i := bytes.Index(body[pos:], dash)
		if i < 0 {
			break
		}
		if pos += i; pos > 0 && body[pos-1] != '\n' {
			pos++ // not at the start of a line
			continue
		}
		next := len(body)
		if n := bytes.IndexByte(body[pos:], '\n'); n >= 0 {
			next = pos + n + 1
		}
		line := bytes.TrimSuffix(bytes.TrimSuffix(body[pos:next], []byte("\n")), []byte("\r"))
		if rest, ok := bytes.CutPrefix(line, dash); ok {
			final := bytes.HasPrefix(rest, []byte("--"))
			if final {
				rest = rest[2:]
			}
			if len(bytes.TrimLeft(rest, " \t")) == 0 {
				if start >= 0 {
					end := pos
					if end > start && body[end-1] == '\n' {
						end--
						if end > start && body[end-1] == '\r' {
							end--
						}
					}
					add(span{start, end})
				}
				if final {
					return parts
				}
				start = next
			}
		}
		pos = next
	}
	if start >= 0 && start < len(body) {
		add(span{start, len(body)})
	}
	return parts
}

// rewriteCalendar applies rule to every content line of the iCalendar data ics that parses
// (parseProperty), with the METHOD of its VCALENDAR, upper-cased ("" when it has none), and
// returns ics with each line the rule changed written anew (foldCalendarLine, ending as it
// did), each line it removed gone and every other byte as it was; nil when no line changed.
// A line that does not parse is removed when it starts like one of calAddressProperties (a
// lenient client could still find an address in it) and kept otherwise.
func rewriteCalendar(ics []byte, rule func(p *property, method string) (keep bool, err error)) ([]byte, error) {
	return rewriteParsed(parseCalendar(ics), rule, nil)
}

// rewriteParsed is rewriteCalendar of a part already parsed, which it leaves as it was: rule
// gets a copy of each line's property. other, when not nil, rewrites the unfolded text of
// each line that does not parse and is kept.
func rewriteParsed(c *parsedCalendar, rule func(p *property, method string) (keep bool, err error), other func(text string) (string, error)) ([]byte, error) {
	var out bytes.Buffer
	out.Grow(len(c.ics))
	changed := false
	for i, l := range c.lines {
		if !c.ok[i] {
			if slices.Contains(calAddressProperties, propertyName(strings.TrimPrefix(l.text, "\ufeff"))) {
				changed = true
				continue
			}
			if other != nil {
				text, err := other(l.text)
				if err != nil {
					return nil, err
				}
				if text != l.text {
					changed = true
					out.WriteString(foldCalendarLine(text, l.nl))
					continue
				}
			}
			out.Write(c.ics[l.start:l.end])
			continue
		}
		p := c.parsed[i]
		p.params = slices.Clone(p.params)
		for j := range p.params {
			p.params[j].values = slices.Clone(p.params[j].values)
		}
		keep, err := rule(&p, c.method[i])
		if err != nil {
			return nil, err
		}
		switch text := p.String(); {
		case !keep:
			changed = true
		case text != l.text:
			changed = true
			out.WriteString(foldCalendarLine(text, l.nl))
		default:
			out.Write(c.ics[l.start:l.end])
		}
	}
	if !changed {
		return nil, nil
	}
	if out.Len() == 0 {
		return []byte{}, nil // every line went: not nil, which would keep them all
	}
	return out.Bytes(), nil
}

// checkCalendars returns why the calendar parts of a message (its top-level header and body)
// cannot be read, or "" when they can (calendarWalk).
func checkCalendars(header textproto.Header, body []byte) string {
	return checkCalendarsCached(header, body, nil)
}

// checkCalendarsCached is checkCalendars that keeps the calendar parts it decodes in cache (nil
// for none), for the routes' walks.
func checkCalendarsCached(header textproto.Header, body []byte, cache calendarCache) string {
	w := calendarWalk{cache: cache}
	if _, _, err := w.entity(header, body, 0); err != nil {
		return err.Error()
	}
	return ""
}

// maskCalendars returns the body of a forward with the addresses of its calendar parts given
// reverse aliases by m (package comment above); header is the message's top-level header.
// The reverse aliases of the calendar parts' addresses are made or stamped together first
// (m.prepare), as those of To and Cc are: one by one, each cost two to six statements, 50 per
// message and 50 messages a transaction, for anyone who can send mail.
func maskCalendars(ctx context.Context, header textproto.Header, body []byte, m *participantMasker) ([]byte, error) {
	return maskCalendarsCached(ctx, header, body, m, newCalendarCache())
}

// maskCalendarsCached is maskCalendars reading the calendar parts from cache (calendarCache).
func maskCalendarsCached(ctx context.Context, header textproto.Header, body []byte, m *participantMasker, cache calendarCache) ([]byte, error) {
	if err := m.prepare(ctx, calendarParticipants(header, body, false, cache)); err != nil {
		return nil, err
	}
	w := calendarWalk{cache: cache, edit: func(c *parsedCalendar) ([]byte, error) {
		return rewriteParsed(c, func(p *property, _ string) (bool, error) { return m.maskProperty(ctx, p) }, nil)
	}}
	out, _, err := w.entity(header, body, 0)
	return out, err
}

// calendarParticipants are the addresses maskProperty would give reverse aliases in the calendar
// parts of a message (its top-level header and body), in the order it meets them: the value
// of each cal-address property or "mailto:" value, then its calendar-user and "mailto:"
// parameter values; with text, also the addresses in the text a reply maps (mapText). Nothing
// is looked up.
func calendarParticipants(header textproto.Header, body []byte, text bool, cache calendarCache) []*gomail.Address {
	var list []*gomail.Address
	add := func(value string) {
		if a := readCalAddress(value); a.address != "" {
			list = append(list, &gomail.Address{Address: a.address})
		}
	}
	addText := func(value string) {
		if !strings.Contains(value, "@") {
			return
		}
		for _, m := range textAddress.FindAllStringSubmatch(value, -1) {
			if m[2] == "@" {
				list = append(list, &gomail.Address{Address: strings.ToLower(m[1] + "@" + m[3])})
			}
		}
	}
	w := calendarWalk{cache: cache, edit: func(c *parsedCalendar) ([]byte, error) {
		for i, p := range c.parsed {
			if !c.ok[i] {
				continue
			}
			if slices.Contains(calAddressProperties, strings.ToUpper(p.name)) || isMailto(p.value) {
				add(p.value)
			}
			name := strings.ToUpper(p.name)
			for _, param := range p.params {
				cal := slices.Contains(calAddressParams, strings.ToUpper(param.name))
				for _, v := range param.values {
					if cal || isMailto(v.text) {
						add(v.text)
					} else if text && !slices.Contains(calAddressProperties, name) {
						addText(v.text)
					}
				}
			}
			if text && !slices.Contains(calAddressProperties, name) && !isMailto(p.value) && !slices.Contains(calIdentifiers, name) {
				addText(p.value)
			}
		}
		return nil, nil
	}}
	w.entity(header, body, 0) // deliver checked that the parts can be read (checkCalendars)
	return list
}

// maskProperty is a forward's rule for one content line: the value of a cal-address property,
// and any other value that is a "mailto:" URI, becomes its reverse alias, or the line goes when
// it cannot have one; so do the values of the parameters naming calendar users and the other
// "mailto:" parameter values, each value going alone.
func (m *participantMasker) maskProperty(ctx context.Context, p *property) (bool, error) {
	if slices.Contains(calAddressProperties, strings.ToUpper(p.name)) || isMailto(p.value) {
		v, keep, err := m.maskCalAddress(ctx, p.value)
		if err != nil || !keep {
			return false, err
		}
		p.value = v
	}
	return true, mapParams(p, func(v string) (string, bool, error) { return m.maskCalAddress(ctx, v) })
}

// maskCalAddress returns the cal-address value with its address replaced by its reverse alias,
// the scheme kept as written. A value that names no address, or the alias itself, stays; one
// the relay cannot read, or past maxMaskedParticipants, is removed (keep false).
func (m *participantMasker) maskCalAddress(ctx context.Context, value string) (string, bool, error) {
	a := readCalAddress(value)
	switch {
	case !a.names:
		return value, true, nil
	case a.address == "":
		return "", false, nil
	case a.address == m.own:
		return value, true, nil
	}
	reverse, ok, err := m.mask(ctx, a.address)
	if err != nil || !ok {
		return "", false, err
	}
	return a.scheme + reverse, true, nil
}

// mapParams replaces each value of p's calAddressParams, and each other parameter value that
// is a "mailto:" URI, by what to returns for it, or removes it (keep false); a parameter left
// with no value goes.
func mapParams(p *property, to func(value string) (string, bool, error)) error {
	params := p.params[:0]
	for _, param := range p.params {
		cal := slices.Contains(calAddressParams, strings.ToUpper(param.name))
		values := param.values[:0]
		for _, v := range param.values {
			if !cal && !isMailto(v.text) {
				values = append(values, v)
				continue
			}
			text, keep, err := to(v.text)
			if err != nil {
				return err
			}
			if keep {
				values = append(values, paramValue{text: text, quoted: v.quoted || needsQuotes(text)})
			}
		}
		if len(values) > 0 {
			param.values = values
			params = append(params, param)
		}
	}
	p.params = params
	return nil
}

// attendeeMethods are the iTIP methods an attendee sends (RFC 5546 section 1.4): in a reply of
// the person's, the ATTENDEE is the person.
var attendeeMethods = []string{"REPLY", "COUNTER", "REFRESH"}

// replyAttendeeParams are the parameters an ORGANIZER or ATTENDEE line of a reply keeps besides
// those naming calendar users (calAddressParams but EMAIL, mapped): what the organizer needs
// of an answer. CN, EMAIL, DIR, LANGUAGE, SCHEDULE-* and X-* parameters go: they can name the
// person.
var replyAttendeeParams = []string{"CUTYPE", "ROLE", "PARTSTAT", "RSVP"}

// replyCalendar is the reply's rule for the calendar parts of a message of the person's to a
// reverse alias of connectionID (package comment above).
type replyCalendar struct {
	s            *Server
	connectionID string
	alias        string
	contacts     map[string]string // reverse alias → its contact's address; "" when not one of the connection's
}

// replyCalendars returns the body of a reply with its calendar parts rewritten by the reply's
// rule; header is the message's top-level header.
func (s *Server) replyCalendars(ctx context.Context, r route, header textproto.Header, body []byte) ([]byte, error) {
	return s.replyCalendarsCached(ctx, r, header, body, newCalendarCache())
}

// replyCalendarsCached is replyCalendars reading the calendar parts from cache (calendarCache).
func (s *Server) replyCalendarsCached(ctx context.Context, r route, header textproto.Header, body []byte, cache calendarCache) ([]byte, error) {
	c := replyCalendar{s: s, connectionID: r.conn.ID, alias: r.conn.AliasEmail, contacts: map[string]string{}}
	if err := c.prepare(ctx, calendarParticipants(header, body, true, cache)); err != nil {
		return nil, err
	}
	w := calendarWalk{cache: cache, edit: func(pc *parsedCalendar) ([]byte, error) {
		// A line that does not parse is read by a lenient client all the same: its text too.
		return rewriteParsed(pc, func(p *property, method string) (bool, error) { return c.rule(ctx, p, method) },
			func(text string) (string, error) { return c.text(ctx, text) })
	}}
	out, _, err := w.entity(header, body, 0)
	return out, err
}

func (c *replyCalendar) rule(ctx context.Context, p *property, method string) (bool, error) {
	mapped := func(v string) (string, bool, error) { s, err := c.address(ctx, v); return s, true, err }
	name := strings.ToUpper(p.name)
	// A property whose value is a calendar user's address (X-MS-OLK-SENDER…) is read as the
	// ORGANIZER is: its CN names the person as well.
	if !slices.Contains(calAddressProperties, name) && !isMailto(p.value) {
		if err := mapParams(p, mapped); err != nil {
			return false, err
		}
		if err := c.mapText(ctx, p); err != nil {
			if errors.Is(err, errUnreadableValue) {
				return false, nil
			}
			return false, err
		}
		return true, nil
	}
	params := p.params[:0]
	for _, param := range p.params {
		pn := strings.ToUpper(param.name)
		if slices.Contains(replyAttendeeParams, pn) || (pn != "EMAIL" && slices.Contains(calAddressParams, pn)) {
			params = append(params, param)
		}
	}
	p.params = params
	if err := mapParams(p, mapped); err != nil {
		return false, err
	}
	if name == "ATTENDEE" && slices.Contains(attendeeMethods, method) {
		p.value = "mailto:" + c.alias
		return true, nil
	}
	v, err := c.address(ctx, p.value)
	p.value = v
	return err == nil, err
}

// calIdentifiers are the properties whose value names an event rather than holds text: an
// iTIP REPLY must carry the organizer's UID as it was written (RFC 5546 section 3.2.3), and
// RELATED-TO names another UID.
var calIdentifiers = []string{"UID", "RELATED-TO"}

// textAddress finds what reads as an address in iCalendar text (RFC 5545 section 3.3.11) and
// in the URIs and HTML of other values and parameters, its "@" written as is, percent-encoded
// (a URI, "mailto:pat%40example.com") or as an HTML character reference (X-ALT-DESC): group 1
// is the local part, 2 the "@", 3 the domain. "=40" is quoted-printable, which vCalendar 1.0
// (text/x-vcalendar, .vcs) writes inside a value with ENCODING=QUOTED-PRINTABLE.
var textAddress = regexp.MustCompile(`((?:[\pL\pN._+\-]|%[0-9A-Fa-f]{2})+)(@|%40|=40|&#0*64;|&#[xX]0*40;|&commat;)([\pL\pN\-]+(?:\.[\pL\pN\-]+)*)`)

// mayHoldAddress reports whether s holds one of the "@" textAddress reads, a cheap test that
// spares the expression most lines.
func mayHoldAddress(s string) bool {
	return strings.ContainsAny(s, "@&%=")
}

// mapText maps the addresses in the free text of a reply's line that names no calendar user
// (DESCRIPTION, COMMENT, LOCATION, SUMMARY, X-ALT-DESC, X-* properties…): its value but for
// calIdentifiers, and its parameter values but for those mapParams mapped. A client copies the
// invitation's text into the iTIP REPLY it writes (Apple Calendar, Thunderbird), and may add
// the person's address to it ("pat@example.com has accepted", a link naming the account); the
// person's COMMENT is theirs. Each address found (textAddress) is mapped as a cal-address is
// (address): a reverse alias of the connection becomes its contact's address, any other the
// alias. No rule reads the person's addresses, so an address a sender planted in the
// invitation's text comes out as the alias whether or not it is the person's.
func (c *replyCalendar) mapText(ctx context.Context, p *property) error {
	for i, param := range p.params {
		if slices.Contains(calAddressParams, strings.ToUpper(param.name)) {
			continue
		}
		for j, v := range param.values {
			if isMailto(v.text) {
				continue
			}
			text, err := c.text(ctx, v.text)
			if err != nil {
				return err
			}
			p.params[i].values[j] = paramValue{text: text, quoted: v.quoted || needsQuotes(text)}
		}
	}
	if slices.Contains(calIdentifiers, strings.ToUpper(p.name)) {
		return nil
	}
	if encodedValue(p) {
		// ENCODING=BASE64 (RFC 5545 section 3.2.7; vCalendar 1.0 allows it on text too) hides
		// the text from the expression: it is mapped decoded, and encoded again.
		decoded, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(p.value), ""))
		if err != nil {
			return errUnreadableValue
		}
		text, err := c.text(ctx, string(decoded))
		if err == nil && text != string(decoded) {
			p.value = base64.StdEncoding.EncodeToString([]byte(text))
		}
		return err
	}
	text, err := c.text(ctx, p.value)
	p.value = text
	return err
}

// errUnreadableValue is a value mapText cannot decode: its line goes.
var errUnreadableValue = errors.New("calendar value that does not decode")

// encodedValue reports whether p's value is in base64 (an ENCODING parameter of BASE64 or B).
func encodedValue(p *property) bool {
	for _, param := range p.params {
		if strings.EqualFold(param.name, "ENCODING") {
			for _, v := range param.values {
				if e := strings.ToUpper(strings.TrimSpace(v.text)); e == "BASE64" || e == "B" {
					return true
				}
			}
		}
	}
	return false
}

// text returns s with each address textAddress finds mapped (mapText), its "@" written as it
// was. An address right after an odd number of backslashes starts with an escaped character
// ("\n" in TEXT), which is not part of it.
func (c *replyCalendar) text(ctx context.Context, s string) (string, error) {
	if !mayHoldAddress(s) {
		return s, nil
	}
	matches := textAddress.FindAllStringSubmatchIndex(s, -1)
	if matches == nil {
		return s, nil
	}
	var b strings.Builder
	last := 0
	for _, m := range matches {
		start := m[2]
		backslashes := 0
		for k := start - 1; k >= 0 && s[k] == '\\'; k-- {
			backslashes++
		}
		if backslashes%2 == 1 {
			start++
		}
		if start >= m[3] {
			continue
		}
		local, at, domain := s[start:m[3]], s[m[4]:m[5]], s[m[6]:m[7]]
		to := c.alias
		contact, err := c.contact(ctx, strings.ToLower(local+"@"+domain))
		if err != nil {
			return "", err
		}
		if contact != "" {
			to = contact
		}
		toDomain := domainOf(to)
		b.WriteString(s[last:start] + strings.TrimSuffix(to, "@"+toDomain) + at + toDomain)
		last = m[1]
	}
	b.WriteString(s[last:])
	return b.String(), nil
}

// address maps one cal-address value of a reply: a reverse alias of the connection becomes its
// contact's address, anything else (the person's address, another's, none) the alias. The
// scheme is kept as written ("mailto:" when there was none, but for a bare address).
func (c *replyCalendar) address(ctx context.Context, value string) (string, error) {
	a := readCalAddress(value)
	to := c.alias
	if a.address != "" {
		contact, err := c.contact(ctx, a.address)
		if err != nil {
			return "", err
		}
		if contact != "" {
			to = contact
		}
	}
	switch {
	case a.scheme != "":
		return a.scheme + to, nil
	case a.names:
		return to, nil
	}
	return "mailto:" + to, nil
}

// prepare looks up together the first maxMaskedParticipants distinct reverse aliases on the
// relay's domain among list (calendarParticipants: the calendar parts' addresses), for
// contact: one by one, each cost a statement, 50 a calendar part and 50 reverse aliases a
// transaction.
func (c *replyCalendar) prepare(ctx context.Context, list []*gomail.Address) error {
	tokens := map[string]string{} // token → address
	for _, a := range list {
		if len(tokens) == maxMaskedParticipants {
			break
		}
		d := domainOf(a.Address)
		token, isReverse := strings.CutPrefix(strings.TrimSuffix(a.Address, "@"+d), reverseAliasPrefix)
		if d == c.s.cfg.Domain && isReverse && wellFormedToken(token) {
			tokens[token] = a.Address
		}
	}
	if len(tokens) == 0 {
		return nil
	}
	found, err := c.s.db.RelayContact.Query().
		Where(relaycontact.TokenIn(slices.Collect(maps.Keys(tokens))...), relaycontact.ConnectionID(c.connectionID)).
		Select(relaycontact.FieldToken, relaycontact.FieldContactAddress).All(ctx)
	if err != nil {
		return err
	}
	for _, address := range tokens {
		c.contacts[address] = ""
	}
	for _, rc := range found {
		c.contacts[tokens[rc.Token]] = rc.ContactAddress
	}
	return nil
}

// contact returns the contact's address of address when it is a reverse alias of the
// connection, else "". At most maxMaskedParticipants reverse aliases are looked up per message;
// the others are taken for none.
func (c *replyCalendar) contact(ctx context.Context, address string) (string, error) {
	d := domainOf(address)
	local := strings.TrimSuffix(address, "@"+d)
	token, isReverse := strings.CutPrefix(local, reverseAliasPrefix)
	if d != c.s.cfg.Domain || !isReverse || !wellFormedToken(token) {
		return "", nil
	}
	if contact, seen := c.contacts[address]; seen || len(c.contacts) == maxMaskedParticipants {
		return contact, nil
	}
	rc, err := c.s.db.RelayContact.Query().Where(relaycontact.Token(token), relaycontact.ConnectionID(c.connectionID)).Only(ctx)
	switch {
	case store.NotFound(err):
		c.contacts[address] = ""
	case err != nil:
		return "", err
	default:
		c.contacts[address] = rc.ContactAddress
	}
	return c.contacts[address], nil
}
