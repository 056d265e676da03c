package relay

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"strings"

	"github.com/emersion/go-message/textproto"
)

// contentIDs renames, in a reply, the Content-ID of every part that names a domain other than
// the relay's, and each "cid:" reference to it in the reply's HTML parts (RFC 2392). Mail
// clients write the sender's domain into the ids of inline images (Thunderbird:
// "part1.X.Y@<the person's domain>"), which would tell a contact whose alias it is. The new id
// is an HMAC of the old under a key of this message alone, on the relay's domain: the same
// part keeps one name within the message and no two messages can be matched by it. A part
// inside multipart/signed is left as it is (rewriting it would break the signature), and so
// is an HTML part in a charset that does not write "cid:" in ASCII.
type contentIDs struct {
	domain string
	key    [32]byte
	ids    map[string]string // old id (without angle brackets) → new
}

func newContentIDs(relayDomain string) *contentIDs {
	c := &contentIDs{domain: relayDomain, ids: map[string]string{}}
	rand.Read(c.key[:])
	return c
}

// rewrite returns the body of a reply with header h (whose own Content-ID it renames in place)
// with the parts' ids renamed. The reply passed replyBodyRefusal: its tree is within bounds.
func (c *contentIDs) rewrite(h *textproto.Header, body []byte) ([]byte, error) {
	c.collect(*h, body, 0)
	if len(c.ids) == 0 {
		return body, nil
	}
	c.renameField(h)
	out, _, err := c.entity(*h, body, 0)
	return out, err
}

// contentID is the id a Content-ID field holds, without its angle brackets.
func contentID(h textproto.Header) string {
	v := strings.TrimSpace(h.Get("Content-ID"))
	return strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(v, "<"), ">"))
}

// collect names the new id of every foreign Content-ID of the tree.
func (c *contentIDs) collect(h textproto.Header, body []byte, depth int) {
	if id := contentID(h); id != "" && !strings.EqualFold(domainOf(id), c.domain) {
		mac := hmac.New(sha256.New, c.key[:])
		mac.Write([]byte(id))
		c.ids[id] = hex.EncodeToString(mac.Sum(nil)[:16]) + "@" + c.domain
	}
	mediaType, params := contentType(h)
	if !strings.HasPrefix(mediaType, "multipart/") || mediaType == "multipart/signed" || depth >= maxMIMEDepth {
		return
	}
	for _, p := range splitMultipart(body, params["boundary"]) {
		if ph, pbody, err := splitMessage(body[p.start:p.end]); err == nil {
			c.collect(ph, pbody, depth+1)
		}
	}
}

func (c *contentIDs) renameField(h *textproto.Header) bool {
	if to, ok := c.ids[contentID(*h)]; ok {
		h.Set("Content-ID", "<"+to+">")
		return true
	}
	return false
}

// entity returns the body of the entity with header h, its parts' ids renamed, and whether
// it changed.
func (c *contentIDs) entity(h textproto.Header, body []byte, depth int) ([]byte, bool, error) {
	mediaType, params := contentType(h)
	switch {
	case mediaType == "multipart/signed" || depth >= maxMIMEDepth:
		return body, false, nil
	case strings.HasPrefix(mediaType, "multipart/"):
		return c.multipart(params["boundary"], body, depth)
	case mediaType == "text/html" && asciiCharsets(h):
		return c.html(h, body)
	}
	return body, false, nil
}

func (c *contentIDs) multipart(boundary string, body []byte, depth int) ([]byte, bool, error) {
	return editParts(body, boundary, func(ph textproto.Header, pbody []byte) (textproto.Header, []byte, bool, error) {
		edited, changed, err := c.entity(ph, pbody, depth+1)
		if err != nil {
			return ph, nil, false, err
		}
		renamed := c.renameField(&ph)
		return ph, edited, renamed || changed, nil
	})
}

// html renames the "cid:" references of an HTML part, as written or percent-encoded.
func (c *contentIDs) html(h textproto.Header, body []byte) ([]byte, bool, error) {
	enc := transferEncoding(h)
	text, err := decodeTransfer(enc, body)
	if err != nil {
		return body, false, nil
	}
	edited := text
	for from, to := range c.ids {
		for _, spelling := range []string{from, url.PathEscape(from), url.QueryEscape(from)} {
			edited = replaceFold(edited, "cid:"+spelling, "cid:"+to)
		}
	}
	if bytes.Equal(edited, text) {
		return body, false, nil
	}
	encoded, err := encodeTransfer(enc, edited, body)
	return encoded, err == nil, err
}

// replaceFold replaces each occurrence of old in s, ASCII case ignored, with new.
func replaceFold(s []byte, old, new string) []byte {
	lower, target := asciiLowerBytes(s), asciiLowerBytes([]byte(old))
	if !bytes.Contains(lower, target) {
		return s
	}
	var out []byte
	last := 0
	for {
		n := bytes.Index(lower[last:], target)
		if n < 0 {
			break
		}
		out = append(append(out, s[last:last+n]...), new...)
		last += n + len(target)
	}
	return append(out, s[last:]...)
}

// asciiLowerBytes is b with ASCII letters lower-cased, every other byte as it is (the same
// length, so offsets match b's).
func asciiLowerBytes(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		out[i] = c
	}
	return out
}
