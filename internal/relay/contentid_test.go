package relay_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"mime"
	"regexp"
	"strings"
	"testing"
	"time"

	gomail "github.com/emersion/go-message/mail"

	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// thunderbirdReply is a reply as Thunderbird writes one with an inline image: its ids name the
// sender's domain, in the image's Content-ID and in the HTML's cid: reference (quoted-printable,
// and once percent-encoded); a second inline image comes before the HTML.
func thunderbirdReply(to string, png []byte) []byte {
	return []byte("From: Pat <" + person + ">\r\nTo: " + to + "\r\nSubject: Re: Your invoice\r\n" +
		"Message-ID: <abc@example.com>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n" +
		"--alt\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nSee the picture.\r\n" +
		"--alt\r\nContent-Type: multipart/related; boundary=\"rel\"\r\n\r\n" +
		"--rel\r\nContent-Type: image/png; name=\"logo.png\"\r\nContent-Disposition: inline; filename=\"logo.png\"\r\n" +
		"Content-Id: <part2.Kq7Zx1Ab.Pw9Yv3Cd@EXAMPLE.com>\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		b64(png) + "\r\n" +
		"--rel\r\nContent-Type: text/html; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
		"<html><body><p>See <img src=3D\"cid:part1.Kq7Zx1Ab.Pw9Yv3Cd@example.com\" alt=3D\"chart\"> and=\r\n" +
		" <img src=3D\"CID:part2.Kq7Zx1Ab.Pw9Yv3Cd%40example.com\"></p></body></html>\r\n" +
		"--rel\r\nContent-Type: image/png; name=\"chart.png\"\r\nContent-Disposition: inline; filename=\"chart.png\"\r\n" +
		"Content-ID: <part1.Kq7Zx1Ab.Pw9Yv3Cd@example.com>\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		b64(png) + "\r\n" +
		"--rel--\r\n" +
		"--alt--\r\n")
}

func b64(b []byte) string {
	s := base64.StdEncoding.EncodeToString(b)
	var lines []string
	for len(s) > 76 {
		lines, s = append(lines, s[:76]), s[76:]
	}
	return strings.Join(append(lines, s), "\r\n")
}

var cidRe = regexp.MustCompile(`(?i)cid:([^"]+)"`)

// A reply's inline images are named by ids a mail client makes from the sender's domain
// (Thunderbird: part1.X.Y@<domain>). The relay renames each Content-ID that is not on its own
// domain, and the HTML's cid: references to it (quoted-printable, any case, percent-encoded),
// so the contact never reads the person's domain in the message, and every image still shows
// where it was: each reference names the Content-ID of its image, and the images are intact.
func TestAReplysInlineImagesDoNotNameThePersonsDomain(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		f.db.RelayContact.Create().SetConnectionID(f.conn.ID).SetContactAddress(original).SetToken(reverseToken).ExecX(context.Background())
		png := randomBytes(600)
		if err := send(f.addr, person, []string{reverseAlias()}, thunderbirdReply(reverseAlias(), png)); err != nil {
			t.Fatalf("reply: %v", err)
		}
		e := f.out.Next(t, 5*time.Second)
		if bytes.Contains(bytes.ToLower(e.Data), []byte("example.com")) {
			t.Fatalf("the reply names the person's domain:\n%s", e.Data)
		}

		r, err := gomail.CreateReader(bytes.NewReader(e.Data))
		if err != nil {
			t.Fatal(err)
		}
		images := map[string][]byte{} // Content-ID → bytes
		var refs []string
		for {
			p, err := r.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(p.Body)
			ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
			switch ct {
			case "image/png":
				id := strings.Trim(p.Header.Get("Content-Id"), "<>")
				if !strings.HasSuffix(id, "@"+domain) {
					t.Errorf("an image's Content-ID %q is not on the relay's domain", id)
				}
				images[id] = body
			case "text/html":
				for _, m := range cidRe.FindAllStringSubmatch(string(body), -1) {
					refs = append(refs, m[1])
				}
			}
		}
		if len(images) != 2 || len(refs) != 2 {
			t.Fatalf("%d images and %d cid references, want 2 and 2", len(images), len(refs))
		}
		for _, ref := range refs {
			if got, ok := images[ref]; !ok || !bytes.Equal(got, png) {
				t.Errorf("cid:%s names no intact image (images %v)", ref, keysOf(images))
			}
		}
		if refs[0] == refs[1] {
			t.Errorf("two images got one id %q", refs[0])
		}
	})
}

func keysOf(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
