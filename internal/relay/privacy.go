package relay

import (
	"io"
	"mime"
	nettextproto "net/textproto"
	"regexp"
	"strings"

	gomail "github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
)

// replyDropped are the header fields removed from every reply, whatever they say: they trace
// the person's mail system or ask the contact to write back to the person directly. From, To
// and Message-ID are set anew by reply.
var replyDropped = []string{
	"From", "Sender", "Reply-To", "Return-Path", "To", "Bcc", "Message-Id",
	"Received", "Received-Spf", "X-Originating-Ip", "X-Sender",
	"Dkim-Signature", "Domainkey-Signature", "Authentication-Results",
	"Disposition-Notification-To", "Return-Receipt-To", "X-Confirm-Reading-To", "Errors-To",
	"List-Unsubscribe", "List-Unsubscribe-Post",
}

// replyDroppedPrefixes are removed like replyDropped: X-Original-To and friends, resent
// traces, ARC seals of the person's provider.
var replyDroppedPrefixes = []string{"X-Original-", "Resent-", "Arc-"}

// scrubReply removes from h every field of replyDropped and replyDroppedPrefixes, and every
// other field whose value names one of addresses (the person's real addresses, lower-cased),
// compared ignoring case, also inside RFC 2047 encoded words and percent-encoded. A Cc field
// loses only the person's own entries, and goes when none is left.
func scrubReply(h *textproto.Header, addresses []string) {
	for _, k := range replyDropped {
		h.Del(k)
	}
	for f := h.Fields(); f.Next(); {
		key := nettextproto.CanonicalMIMEHeaderKey(f.Key())
		if hasAnyPrefix(key, replyDroppedPrefixes) {
			f.Del()
			continue
		}
		if key != "Cc" && namesAny(f.Value(), addresses) {
			f.Del()
		}
	}
	scrubCc(h, addresses)
}

// scrubCc removes addresses from each Cc field of h, and the field when no address is left; a
// Cc field that does not parse goes whole when it names one of them.
func scrubCc(h *textproto.Header, addresses []string) {
	values := h.Values("Cc")
	if len(values) == 0 {
		return
	}
	h.Del("Cc")
	for _, v := range values {
		mh := gomail.Header{}
		mh.Set("Cc", v)
		list, err := mh.AddressList("Cc")
		if err != nil {
			if !namesAny(v, addresses) {
				h.Add("Cc", v)
			}
			continue
		}
		var kept []*gomail.Address
		for _, a := range list {
			if !namesAny(a.Address, addresses) {
				kept = append(kept, a)
			}
		}
		if len(kept) == len(list) {
			h.Add("Cc", v)
		} else if len(kept) > 0 {
			mh.SetAddressList("Cc", kept)
			h.Add("Cc", mh.Get("Cc"))
		}
	}
}

// namesAny reports whether the header value v mentions one of addresses (lower-cased).
func namesAny(v string, addresses []string) bool {
	if len(addresses) == 0 {
		return false
	}
	candidates := []string{strings.ToLower(v)}
	if strings.Contains(v, "=?") {
		if decoded, err := scanDecoder.DecodeHeader(v); err == nil {
			candidates = append(candidates, strings.ToLower(decoded))
		}
	}
	for _, c := range candidates {
		unfolded := strings.Join(strings.Fields(c), " ")
		for _, a := range addresses {
			if strings.Contains(unfolded, a) || strings.Contains(unfolded, strings.Replace(a, "@", "%40", 1)) {
				return true
			}
		}
	}
	return false
}

// scanDecoder decodes RFC 2047 encoded words for scanning only: a charset it does not know is
// read as bytes, which keeps an ASCII address readable in every ASCII-compatible charset.
var scanDecoder = mime.WordDecoder{CharsetReader: func(_ string, input io.Reader) (io.Reader, error) { return input, nil }}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// forwardDropped are removed from forwards: each asks the person's mail client to write to the
// sender directly (a read receipt, an error report, a reply or follow-up address that clients
// such as Thunderbird and mutt prefer to Reply-To, a list's posting address), which would
// reveal the person's address.
var forwardDropped = []string{"Disposition-Notification-To", "Return-Receipt-To", "X-Confirm-Reading-To", "Errors-To",
	"Mail-Reply-To", "Mail-Followup-To", "List-Post"}

// listUnsubscribeURI matches one <URI> of a List-Unsubscribe field (RFC 2369 section 3.2).
var listUnsubscribeURI = regexp.MustCompile(`<([^>]*)>`)

// scrubForward removes forwardDropped from h and keeps only the HTTP(S) URIs of
// List-Unsubscribe: a mailto: unsubscribe is a mail from the person's real address. With no
// URI left, List-Unsubscribe and List-Unsubscribe-Post (RFC 8058) go.
func scrubForward(h *textproto.Header) {
	for _, k := range forwardDropped {
		h.Del(k)
	}
	if !h.Has("List-Unsubscribe") {
		return
	}
	var web []string
	for _, v := range h.Values("List-Unsubscribe") {
		for _, m := range listUnsubscribeURI.FindAllStringSubmatch(v, -1) {
			uri := strings.TrimSpace(m[1])
			if lower := strings.ToLower(uri); strings.HasPrefix(lower, "https://") || strings.HasPrefix(lower, "http://") {
				web = append(web, "<"+uri+">")
			}
		}
	}
	h.Del("List-Unsubscribe")
	if len(web) == 0 {
		h.Del("List-Unsubscribe-Post")
		return
	}
	h.Set("List-Unsubscribe", strings.Join(web, ", "))
}
