package relay

import (
	"context"
	"mime"
	"net/netip"
	nettextproto "net/textproto"
	"net/url"
	"regexp"
	"strings"

	"github.com/emersion/go-message/textproto"
	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"

	"loginsign/internal/webhooks"
)

// replyParts rewrites the header of every part below a reply's top-level header (which
// scrubReply handles), at any depth of its multiparts, without reading the person's
// addresses:
//
//   - every field that does not start with "Content-" goes. Mail clients write fields of
//     their own on attachments (Thunderbird's X-Mozilla-External-Attachment-URL holds the
//     attachment's local path, often with the person's user name; X-Attachment-Id,
//     X-Unix-Mode…), and no list of what to drop covers the next one, as for the top level
//     (replyKept);
//   - in each Content-* field but Content-ID (renamed by contentIDs) and
//     Content-Transfer-Encoding, every address found is mapped as the text of a reply's
//     calendar part is (replyCalendar.text): a reverse alias of the connection becomes its
//     contact's address, any other address the alias. In Content-Type and
//     Content-Disposition the parameters are read as a mail client reads them (RFC 2231
//     continuations joined and charset-encoded values decoded, RFC 2047 words in them
//     decoded; the boundary is left alone), and the field is written again when a value
//     changed; in the other fields (Content-Description, Content-Location…) RFC 2047 words
//     are decoded. An attachment's filename or description can hold the person's address
//     ("statement for pat@example.com.pdf"), and one a sender named with a guess of it comes
//     back in the person's reply when the client re-attaches it;
//   - a Content-Location or Content-Base that names a file on the person's computer or
//     network, or a web address of a host off the Internet (localLocation:
//     "file:///C:/Users/Pat%20Smith/…", "http://intranet.corp.local/…") goes;
//   - a Content-Disposition loses the dates of its file (withoutFileDates).
//
// Before, part headers passed as they were. Looking for the person's addresses there instead
// would be an oracle: a sender could name an attachment with a guess and see, from the reply,
// whether it was removed.
type replyParts struct {
	text func(string) (string, error)
}

// replyPartHeaders returns body, the body of a reply with header h, with its parts' headers
// rewritten (replyParts).
func (s *Server) replyPartHeaders(ctx context.Context, r route, h textproto.Header, body []byte) ([]byte, error) {
	c := replyCalendar{s: s, connectionID: r.conn.ID, alias: r.conn.AliasEmail, contacts: map[string]string{}}
	w := replyParts{text: func(v string) (string, error) { return c.text(ctx, v) }}
	out, _, err := w.entity(h, body, 0)
	return out, err
}

// entity returns the body of the entity with header h, its parts' headers rewritten, and
// whether it changed. The reply passed replyBodyRefusal: its tree is within bounds and holds
// no message/* part.
func (w *replyParts) entity(h textproto.Header, body []byte, depth int) ([]byte, bool, error) {
	mediaType, params := contentType(h)
	if !strings.HasPrefix(mediaType, "multipart/") || params["boundary"] == "" || depth >= maxMIMEDepth {
		return body, false, nil
	}
	return editParts(body, params["boundary"], func(ph textproto.Header, pbody []byte) (textproto.Header, []byte, bool, error) {
		edited, changed, err := w.entity(ph, pbody, depth+1)
		if err != nil {
			return ph, nil, false, err
		}
		ph, rewritten, err := w.header(ph)
		if err != nil {
			return ph, nil, false, err
		}
		return ph, edited, rewritten || changed, nil
	})
}

// header returns the part header h rewritten (replyParts), and whether it changed.
func (w *replyParts) header(h textproto.Header) (textproto.Header, bool, error) {
	// The kept fields, in the header's order: textproto.Header's Add and AddRaw put a field
	// before those already added, so out is filled from the last of them to the first
	// (adding in reading order wrote the part's header upside down, and of two fields of the
	// same name a client then read the other one).
	type kept struct {
		raw        []byte
		key, value string
	}
	var fields []kept
	changed := false
	for f := h.Fields(); f.Next(); {
		key := nettextproto.CanonicalMIMEHeaderKey(f.Key())
		if !strings.HasPrefix(key, "Content-") {
			changed = true
			continue
		}
		v := f.Value()
		if localLocation(key, v) {
			changed = true
			continue
		}
		mapped := withoutFileDates(key, v)
		if key != "Content-Id" && key != "Content-Transfer-Encoding" {
			var err error
			if mapped, err = w.value(key, mapped); err != nil {
				return h, false, err
			}
		}
		if mapped == v {
			if raw, err := f.Raw(); err == nil {
				fields = append(fields, kept{raw: raw})
				continue
			}
		} else {
			changed = true
		}
		fields = append(fields, kept{key: key, value: mapped})
	}
	if !changed {
		return h, false, nil
	}
	var out textproto.Header
	for i := len(fields) - 1; i >= 0; i-- {
		if f := fields[i]; f.raw != nil {
			out.AddRaw(f.raw)
		} else {
			out.Add(f.key, f.value)
		}
	}
	return out, true, nil
}

// value returns the Content-* field value v of key with its addresses mapped (replyParts).
func (w *replyParts) value(key, v string) (string, error) {
	if key == "Content-Type" || key == "Content-Disposition" {
		if mediaType, params, err := mime.ParseMediaType(v); err == nil {
			changed := false
			for name, pv := range params {
				if name == "boundary" {
					continue
				}
				decoded := pv
				if d, err := scanDecoder.DecodeHeader(pv); err == nil {
					decoded = d
				}
				// A file's extension stays: "pat@example.com.pdf" would read as an address
				// on example.com.pdf and lose it.
				stem, ext := decoded, ""
				if name == "name" || name == "filename" {
					stem, ext = splitExtension(decoded)
					if at := strings.LastIndexAny(stem, "@%="); at < 0 || !strings.Contains(stem[at:], ".") {
						// "pat@example.com" is an address, not a file named .com.
						stem, ext = decoded, ""
					}
				}
				mapped, err := w.text(stem)
				if err != nil {
					return "", err
				}
				mapped += ext
				if mapped != decoded {
					params[name], changed = mapped, true
				}
			}
			if !changed {
				return v, nil
			}
			if out := mime.FormatMediaType(mediaType, params); out != "" {
				return out, nil
			}
		}
		// A value that does not parse (or cannot be written again) is mapped as text, as
		// a lenient client reads it.
		return w.text(v)
	}
	decoded := v
	if strings.Contains(v, "=?") {
		if d, err := scanDecoder.DecodeHeader(v); err == nil {
			decoded = d
		}
	}
	mapped, err := w.text(decoded)
	if err != nil || mapped == decoded {
		return v, err
	}
	if decoded != v || !isASCII(mapped) {
		return mime.QEncoding.Encode("utf-8", mapped), nil
	}
	return mapped, nil
}

// localLocation reports whether the field key: v is a Content-Location or Content-Base
// (RFC 2557, RFC 2110) that names a place on the person's computer or network rather than on
// the web: after RFC 2047 words are decoded and the whitespace of folding removed (RFC 2557
// §4.4.3), a URL with a scheme other than http, https, cid or mid ("file:///C:/Users/Pat
// Smith/Desktop/scan.pdf", "smb://nas/pat/…"), or a path ("/home/pat/…", "\\server\pat\…",
// "C:\Users\…", "~/…"). Mail clients write such a location when a file or an HTML part's
// image is attached from disk; it tells the contact the person's user name, their folders and
// their machine's system. So does a web address of a host that is not on the Internet
// (publicWebAddress: "http://intranet.corp.local/…", "http://10.0.0.5/…"). A relative name
// ("image001.png") and a public web address stay: an HTML part may refer to its images by them.
func localLocation(key, v string) bool {
	if key != "Content-Location" && key != "Content-Base" {
		return false
	}
	if strings.Contains(v, "=?") {
		if d, err := scanDecoder.DecodeHeader(v); err == nil {
			v = d
		}
	}
	v = strings.Trim(strings.Join(strings.Fields(v), ""), "\"<>'")
	if v == "" {
		return false
	}
	if m := locationScheme.FindString(v); m != "" {
		switch strings.ToLower(m) {
		case "cid:", "mid:":
			return false
		case "http:", "https:":
			return !publicWebAddress(v)
		}
		return true
	}
	return strings.ContainsRune("/\\~", rune(v[0])) || strings.Contains(v, "\\")
}

// publicWebAddress reports whether the http(s) URL v names a host on the Internet, where a
// contact could fetch what it names: a name under a top-level domain of the public suffix
// list's ICANN section, or a public IP address (webhooks.PublicAddr, as outbound requests
// judge one), and no user name or password. A page saved from the person's intranet, or an
// image an HTML editor took from it, carries its location
// ("http://intranet.corp.local/hr/…", "http://10.0.0.5/…", "http://wiki/…"): that names the
// person's employer's network and its hosts, and nothing there can be fetched by the contact
// anyway. A URL that does not parse, or has no host ("http:/wiki/…", "http:\\wiki\…", which
// browsers read with wiki as the host), is no public address either.
func publicWebAddress(v string) bool {
	u, err := url.Parse(v)
	if err != nil || u.User != nil || u.Opaque != "" {
		return false
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "" {
		return false
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return webhooks.PublicAddr(ip) // the one rule of what address is on the Internet
	}
	// The list is in ASCII: "пример.рф" is looked up as "xn--e1afmkfd.xn--p1ai".
	if host, err = idna.Lookup.ToASCII(host); err != nil {
		return false
	}
	top := host[strings.LastIndexByte(host, '.')+1:]
	if top == host || top == "arpa" {
		// A name of one label resolves on a local network only; under .arpa are
		// home.arpa (RFC 8375) and the reverse-lookup zones, no web hosts.
		return false
	}
	_, icann := publicsuffix.PublicSuffix(top)
	return icann
}

// fileDateParams are the parameters of a Content-Disposition (RFC 2183 section 2.4–2.6) that
// date the attached file: when it was made, last changed and last read on the person's
// computer, written by mail clients (Outlook and Exchange among them) in the offset of the
// person's time zone, which a reply's Date no longer tells (utcDate).
var fileDateParams = []string{"creation-date", "modification-date", "read-date"}

// withoutFileDates returns the field key: v without fileDateParams when it is a
// Content-Disposition that names one; v otherwise, also when it does not parse.
func withoutFileDates(key, v string) string {
	if key != "Content-Disposition" {
		return v
	}
	disposition, params, err := mime.ParseMediaType(v)
	if err != nil {
		return v
	}
	found := false
	for _, name := range fileDateParams {
		if _, ok := params[name]; ok {
			delete(params, name)
			found = true
		}
	}
	if !found {
		return v
	}
	if out := mime.FormatMediaType(disposition, params); out != "" {
		return out
	}
	return v
}

// locationScheme is the scheme of a URL ("file:"), or a Windows drive letter ("C:"), which
// reads as one.
var locationScheme = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:`)

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// splitExtension cuts a file name into its stem and its extension (".pdf": a dot and one to
// five letters or digits), "" when it has none.
func splitExtension(name string) (stem, ext string) {
	dot := strings.LastIndexByte(name, '.')
	if dot <= 0 || len(name)-dot-1 < 1 || len(name)-dot-1 > 5 {
		return name, ""
	}
	for _, c := range name[dot+1:] {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return name, ""
		}
	}
	return name[:dot], name[dot:]
}
