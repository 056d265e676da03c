package relay_test

import (
	"context"
	"mime"
	"strings"
	"testing"
	"time"

	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestAReplyNamesNoFileOfThePersonsComputer17: mail clients write a Content-Location when a
// file, or an HTML part's image, is attached from disk: "file:///C:/Users/Pat Smith/…",
// "/home/patsmith/…", a share on the person's network. Since stop 64 a reply's parts keep
// only their Content-* fields, with addresses mapped, but such a location passed, in a part
// and in the top-level header of a reply of one part, and told the contact the person's user
// name, folders and system. Now a Content-Location or Content-Base naming a local file or
// network share (in any case, folded or in RFC 2047 words) goes; a relative name and a web
// address, by which an HTML part may refer to its images, stay.
func TestAReplyNamesNoFileOfThePersonsComputer17(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, fixtureOptions{})
		f.db.RelayContact.Create().SetConnectionID(f.conn.ID).SetContactAddress(original).SetToken(reverseToken).ExecX(context.Background())
		local := []string{
			"file:///C:/Users/Pat%20Smith/Desktop/scan.pdf",
			"FILE:///home/patsmith/Pictures/me.png",
			"file:\r\n ///home/patsmith/folded.png",
			mime.QEncoding.Encode("utf-8", "file:///Users/patsmith/encodé.png"),
			"smb://nas/patsmith/share.doc",
			"C:\\Users\\patsmith\\report.docx",
			"\\\\fileserver\\patsmith\\notes.txt",
			"/home/patsmith/plain.txt",
			"~/patsmith.txt",
		}
		var parts strings.Builder
		for _, loc := range local {
			parts.WriteString("--b\r\nContent-Type: text/plain\r\nContent-Location: " + loc + "\r\nContent-Base: " + loc + "\r\n\r\nfile\r\n")
		}
		parts.WriteString("--b\r\nContent-Type: image/png\r\nContent-Location: image001.png\r\n\r\npng\r\n")
		parts.WriteString("--b\r\nContent-Type: image/png\r\nContent-Location: https://cdn.example.com/logo.png\r\n\r\npng\r\n--b--\r\n")
		reply := []byte("From: <" + person + ">\r\nTo: <" + reverseAlias() + ">\r\nSubject: Re: files\r\nMIME-Version: 1.0\r\n" +
			"Content-Type: multipart/mixed; boundary=b\r\n\r\n" + parts.String())
		if err := send(f.addr, person, []string{reverseAlias()}, reply); err != nil {
			t.Fatalf("reply: %v", err)
		}
		raw := f.out.Next(t, 5*time.Second).Data
		if strings.Contains(strings.ToLower(string(raw)), "patsmith") || strings.Contains(string(raw), "Pat%20Smith") {
			t.Errorf("the reply names a file of the person's computer:\n%s", raw)
		}
		got := replyPartHeaders(t, raw)
		if len(got) != len(local)+2 {
			t.Fatalf("the reply has %d parts, want %d:\n%s", len(got), len(local)+2, raw)
		}
		if loc := got[len(local)].Get("Content-Location"); loc != "image001.png" {
			t.Errorf("a relative Content-Location became %q, want it kept", loc)
		}
		if loc := got[len(local)+1].Get("Content-Location"); loc != "https://cdn.example.com/logo.png" {
			t.Errorf("a web Content-Location became %q, want it kept", loc)
		}

		single := []byte("From: <" + person + ">\r\nTo: <" + reverseAlias() + ">\r\nSubject: Re: one file\r\nMIME-Version: 1.0\r\n" +
			"Content-Type: text/plain\r\nContent-Location: file:///C:/Users/patsmith/one.txt\r\n\r\nthe file\r\n")
		if err := send(f.addr, person, []string{reverseAlias()}, single); err != nil {
			t.Fatalf("reply: %v", err)
		}
		raw = f.out.Next(t, 5*time.Second).Data
		if strings.Contains(strings.ToLower(string(raw)), "patsmith") {
			t.Errorf("a reply of one part names a file of the person's computer:\n%s", raw)
		}
	})
}
