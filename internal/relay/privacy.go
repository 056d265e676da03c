package relay

import (
	"io"
	"mime"
	netmail "net/mail"
	nettextproto "net/textproto"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	gomail "github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
)

// replyKept are the only header fields of the person's message a reply keeps, with those
// starting with replyKeptPrefixes (Content-*, which describe the body); every other field goes.
// A mail system adds fields of its own that name the person's provider, domain or network
// (X-Received, X-Google-*, X-Gm-*, X-MS-Exchange-*, Thread-Index, User-Agent, X-Mailer,
// X-Source-IP, X-Forwarded-For, X-Delivered-To, Received, DKIM-Signature…), and a list of
// what to drop always misses the next one. From, To and Message-ID are set anew by reply, Date
// is written in UTC (utcDate), Cc is masked (scrubCc, unmaskParticipants), In-Reply-To and
// References keep only the message ids of forwards (replyMessageIDs), and the relay's own
// trace (relayHeader) stays for loop detection.
var replyKept = []string{"Subject", "Date", "Mime-Version", "Cc", "Auto-Submitted", "In-Reply-To", "References", relayHeader}

var replyKeptPrefixes = []string{"Content-"}

// replyPlanted are kept fields whose content a sender can place in the person's reply: a mail
// client copies the Subject of the mail it answers, and its Message-ID and References into
// In-Reply-To and References. No rule that depends on the person's addresses acts on them:
// whether such a field survived would tell the sender whether a guess planted there is the
// person's address.
var replyPlanted = []string{"Subject", "In-Reply-To", "References"}

// scrubReply removes from h every field but replyKept and replyKeptPrefixes; of those, each
// field outside replyPlanted and Cc whose value names one of addresses (the person's real
// addresses, lower-cased), compared ignoring case, also inside RFC 2047 encoded words and
// percent-encoded, goes too. A Cc field loses only the person's own entries, and goes when
// none is left: it runs before the reverse aliases of a Cc become addresses again, so it sees
// only what the person's client wrote. In-Reply-To and References keep only the message ids a
// forward on relayDomain carried (replyMessageIDs). A Content-Location or Content-Base that
// names a file on the person's computer or network goes (localLocation), and a
// Content-Disposition loses the dates of its file (withoutFileDates), as in the parts' headers
// (replyParts).
func scrubReply(h *textproto.Header, addresses []string, relayDomain string) {
	for f := h.Fields(); f.Next(); {
		key := nettextproto.CanonicalMIMEHeaderKey(f.Key())
		switch {
		case !slices.Contains(replyKept, key) && !hasAnyPrefix(key, replyKeptPrefixes):
			f.Del()
		case localLocation(key, f.Value()):
			f.Del()
		case key == "Cc" || slices.Contains(replyPlanted, key):
		case namesAny(f.Value(), addresses):
			f.Del()
		}
	}
	scrubCc(h, addresses)
	values := h.Values("Content-Disposition")
	stripped := make([]string, len(values))
	for i, v := range values {
		stripped[i] = withoutFileDates("Content-Disposition", v)
	}
	if !slices.Equal(values, stripped) {
		h.Del("Content-Disposition")
		for i := len(stripped) - 1; i >= 0; i-- {
			h.Add("Content-Disposition", stripped[i])
		}
	}
	for _, k := range []string{"In-Reply-To", "References"} {
		replyMessageIDs(h, k, relayDomain)
	}
}

// utcDate writes the Date of h in UTC, so that a reply does not tell the person's time zone;
// a Date that does not parse, or none, becomes now.
func utcDate(h *textproto.Header, now time.Time) {
	t, err := netmail.ParseDate(h.Get("Date"))
	if err != nil {
		t = now
	}
	h.Set("Date", t.UTC().Format(time.RFC1123Z))
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
	// A percent-encoded address ("%70at%40example.com" in a Content-Location), and the
	// parameters of a Content-Type or Content-Disposition as a mail client reads them: RFC 2231
	// continuations ("filename*0=pat@exa; filename*1=mple.com") and charset-encoded values
	// ("name*=utf-8''pat%40example%2Ecom") joined and decoded, RFC 2047 words in them too.
	if strings.Contains(v, "%") {
		if decoded, err := url.PathUnescape(v); err == nil {
			candidates = append(candidates, strings.ToLower(decoded))
		}
	}
	if _, params, err := mime.ParseMediaType(v); err == nil {
		for _, p := range params {
			candidates = append(candidates, strings.ToLower(p))
			if decoded, err := scanDecoder.DecodeHeader(p); err == nil && decoded != p {
				candidates = append(candidates, strings.ToLower(decoded))
			}
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
// such as Thunderbird and mutt prefer to Reply-To, a copy address that Gnus adds to a wide
// reply, a list's posting address), which would reveal the person's address.
var forwardDropped = []string{"Disposition-Notification-To", "Return-Receipt-To", "X-Confirm-Reading-To", "Errors-To",
	"Mail-Reply-To", "Mail-Followup-To", "Mail-Copies-To", "List-Post"}

// listCommandURI matches one <URI> of a list command field (RFC 2369 section 2).
var listCommandURI = regexp.MustCompile(`<([^>]*)>`)

// listCommandFields are the list fields (RFC 2369) whose URIs mail clients act on: a
// List-Unsubscribe button, and menu entries for the others (Evolution's Actions > Mailing
// List, Claws Mail's Mailing-List menu, mutt's list actions). A mailto: one is a mail the
// client writes from the person's real address to an address the sender chose.
var listCommandFields = []string{"List-Unsubscribe", "List-Subscribe", "List-Help", "List-Owner", "List-Archive"}

// scrubForward removes forwardDropped from h and keeps only the HTTP(S) URIs of each of
// listCommandFields: a mailto: command is a mail from the person's real address. A field
// with no URI left goes, and with List-Unsubscribe goes List-Unsubscribe-Post (RFC 8058).
//
// Every resent field (Resent-From, Resent-Sender, Resent-To, Resent-Cc, Resent-Bcc,
// Resent-Date, Resent-Message-ID; RFC 5322 section 3.6.6) goes too: they describe a resending
// by whoever sent the message to the alias, and the forward is a new message from the relay
// (its From a reverse alias, the sender's Sender removed likewise). Kept, they misattribute
// it: Sender ID's purported responsible address (RFC 4407), which Microsoft's mail systems
// check and can show as "<address> on behalf of <From>", is the first Resent-Sender or
// Resent-From, a name and address the sender chose and no check of the relay's covers; a
// receiver that checks that address's domain judges the relay's forward by the sender's
// domain. Clients that show resent fields would name that address as the one who sent it.
func scrubForward(h *textproto.Header) {
	for _, k := range forwardDropped {
		h.Del(k)
	}
	for f := h.Fields(); f.Next(); {
		if strings.HasPrefix(nettextproto.CanonicalMIMEHeaderKey(f.Key()), "Resent-") {
			f.Del()
		}
	}
	for _, k := range listCommandFields {
		if !h.Has(k) {
			continue
		}
		var web []string
		for _, v := range h.Values(k) {
			for _, m := range listCommandURI.FindAllStringSubmatch(v, -1) {
				uri := strings.TrimSpace(m[1])
				if lower := strings.ToLower(uri); strings.HasPrefix(lower, "https://") || strings.HasPrefix(lower, "http://") {
					web = append(web, "<"+uri+">")
				}
			}
		}
		h.Del(k)
		if len(web) > 0 {
			h.Set(k, strings.Join(web, ", "))
		} else if k == "List-Unsubscribe" {
			h.Del("List-Unsubscribe-Post")
		}
	}
}
