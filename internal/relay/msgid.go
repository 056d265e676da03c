package relay

import (
	"encoding/base32"
	"regexp"
	"slices"
	"strings"

	"github.com/emersion/go-message/textproto"
)

// Message ids in forwards and replies. The relay records no message id, and a reply's
// In-Reply-To and References hold two kinds: those of the mails the person answers, which the
// sender chose (the sender's own, or any it planted), and those of the person's own earlier
// mails, which name the person's provider or domain (<CA+…@mail.gmail.com>). A forward
// therefore carries every message id it names (Message-ID, In-Reply-To, References) in a form
// only the relay writes, the original encoded on Domain (forwardMessageID), and a reply keeps
// only ids of that form, decoded back (replyMessageIDs): the sender's mail client threads the
// reply under its own ids, the person's ids never leave, and which ids survive depends on
// nothing but their form, never on the person's addresses.

// forwardIDPrefix starts the left part of the message ids forwardMessageID writes.
const forwardIDPrefix = "fwd-"

// maxMessageIDBytes bounds an id the relay encodes: its encoding (8/5 as long) stays within
// a header line's 998 characters. Longer ids are left as they are, so replies drop them.
const maxMessageIDBytes = 250

// messageIDPattern finds the <id> of a Message-ID, In-Reply-To or References value.
var messageIDPattern = regexp.MustCompile(`<([^<>\s]*)>`)

// messageIDEncoding is base32 without padding, written lower-case: ids survive mail systems
// that change the case of a header (decoding reads either case).
var messageIDEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// forwardMessageIDs rewrites every well-formed message id of the Message-ID, In-Reply-To and
// References fields of a forward into its forwardMessageID on relayDomain; the rest of each
// value (comments, ids that are not well-formed) stays as it is. The fields move to the top
// of the header, in their order.
func forwardMessageIDs(h *textproto.Header, relayDomain string) {
	for _, k := range []string{"Message-Id", "In-Reply-To", "References"} {
		values := h.Values(k)
		if len(values) == 0 {
			continue
		}
		h.Del(k)
		for _, v := range slices.Backward(values) { // the last Add is the first line
			h.Add(k, messageIDPattern.ReplaceAllStringFunc(v, func(m string) string {
				if id, ok := forwardMessageID(m[1:len(m)-1], relayDomain); ok {
					return "<" + id + ">"
				}
				return m
			}))
		}
	}
}

// forwardMessageID is the id a forward carries for id: "fwd-" and the base32 of id, on
// relayDomain. ok is false when id is not well-formed (wellFormedMessageID).
func forwardMessageID(id, relayDomain string) (string, bool) {
	if !wellFormedMessageID(id) {
		return "", false
	}
	return forwardIDPrefix + strings.ToLower(messageIDEncoding.EncodeToString([]byte(id))) + "@" + relayDomain, true
}

// originalMessageID undoes forwardMessageID; ok is false for any id it did not write.
func originalMessageID(id, relayDomain string) (string, bool) {
	i := strings.LastIndexByte(id, '@')
	if i < 0 || !equalFoldASCII(id[i+1:], relayDomain) {
		return "", false
	}
	encoded, ok := strings.CutPrefix(strings.ToLower(id[:i]), forwardIDPrefix)
	if !ok {
		return "", false
	}
	b, err := messageIDEncoding.DecodeString(strings.ToUpper(encoded))
	if err != nil || !wellFormedMessageID(string(b)) {
		return "", false
	}
	return string(b), true
}

// wellFormedMessageID reports whether id (without its angle brackets) is one the relay
// encodes and decodes: 1 to maxMessageIDBytes printable ASCII characters with an "@", no
// angle bracket. Whatever a decoded id holds, it cannot leave its field.
func wellFormedMessageID(id string) bool {
	if id == "" || len(id) > maxMessageIDBytes || !strings.Contains(id, "@") {
		return false
	}
	for _, c := range []byte(id) {
		if c < '!' || c > '~' || c == '<' || c == '>' {
			return false
		}
	}
	return true
}

// replyMessageIDs keeps, in every field k of a reply (In-Reply-To, References), only the
// message ids a forward carried (originalMessageID), decoded back to the sender's own, once
// each and in order, in one field; the field goes when none is left.
func replyMessageIDs(h *textproto.Header, k, relayDomain string) {
	var kept []string
	for _, v := range h.Values(k) {
		for _, m := range messageIDPattern.FindAllStringSubmatch(v, -1) {
			if id, ok := originalMessageID(m[1], relayDomain); ok && !slices.Contains(kept, id) {
				kept = append(kept, id)
			}
		}
	}
	h.Del(k)
	if len(kept) > 0 {
		h.Set(k, "<"+strings.Join(kept, "> <")+">")
	}
}
