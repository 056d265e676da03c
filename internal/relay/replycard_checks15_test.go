package relay

import (
	"encoding/base64"
	"testing"
	"unicode/utf16"
)

// utf16LE is s in UTF-16LE with a byte order mark, as Windows writes a .vcf file.
func utf16LE(s string) string {
	b := []byte{0xff, 0xfe}
	for _, u := range utf16.Encode([]rune(s)) {
		b = append(b, byte(u), byte(u>>8))
	}
	return string(b)
}

// TestReplyContactCardIsReadInItsEncodings: a reply carrying the person's own contact card is
// refused (TestReplyRefusesOwnContactCard), but the card was searched for the person's address
// as raw bytes only. A card in UTF-16 (a byte order mark, NUL bytes between the letters),
// in UTF-7 ("pat+AEA-real.example", declared on the part or by a vCard 2.1 CHARSET
// parameter), or whose EMAIL value is quoted-printable (vCard 2.1's ENCODING=QUOTED-PRINTABLE,
// as Outlook and Android write it) or base64 (ENCODING=b) went to the contact, whose mail
// client decodes it and shows the person's real address. Someone else's card in those
// encodings still goes; one in a charset that may hide an ASCII address (UTF-7) is refused
// whatever it holds, as a calendar part in one is.
func TestReplyContactCardIsReadInItsEncodings(t *testing.T) {
	const own = "pat@real.example"
	header, _, err := splitMessage([]byte("Content-Type: multipart/mixed; boundary=B\r\n\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	body := func(part string) []byte {
		return []byte("--B\r\nContent-Type: text/plain\r\n\r\nThanks\r\n--B\r\n" + part + "\r\n--B--\r\n")
	}
	card := func(email string) string {
		return "BEGIN:VCARD\r\nVERSION:2.1\r\nN:Person;Pat\r\nEMAIL;PREF;INTERNET:" + email + "\r\nEND:VCARD\r\n"
	}
	b64 := base64.StdEncoding.EncodeToString
	for _, tc := range []struct {
		name, part string
		refused    bool
	}{
		{name: "UTF-16 declared", refused: true,
			part: "Content-Type: text/vcard; charset=utf-16\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64([]byte(utf16LE(card(own))))},
		{name: "UTF-16 undeclared, named .vcf", refused: true,
			part: "Content-Type: application/octet-stream; name=pat.vcf\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64([]byte(utf16LE(card(own))))},
		{name: "UTF-7 declared on the part", refused: true,
			part: "Content-Type: text/x-vcard; charset=utf-7\r\n\r\n" + card("pat+AEA-real.example")},
		{name: "UTF-7 CHARSET parameter", refused: true,
			part: "Content-Type: text/x-vcard\r\n\r\nBEGIN:VCARD\r\nVERSION:2.1\r\nEMAIL;CHARSET=UTF-7:pat+AEA-real.example\r\nEND:VCARD\r\n"},
		{name: "quoted-printable value", refused: true,
			part: "Content-Type: text/x-vcard\r\n\r\nBEGIN:VCARD\r\nVERSION:2.1\r\nEMAIL;INTERNET;ENCODING=QUOTED-PRINTABLE:pat=40real=2Eexample\r\nEND:VCARD\r\n"},
		{name: "quoted-printable value with a soft line break", refused: true,
			part: "Content-Type: text/x-vcard\r\n\r\nBEGIN:VCARD\r\nVERSION:2.1\r\nEMAIL;INTERNET;QUOTED-PRINTABLE:pat@re=\r\nal.example\r\nEND:VCARD\r\n"},
		{name: "base64 value", refused: true,
			part: "Content-Type: text/vcard\r\n\r\nBEGIN:VCARD\r\nVERSION:3.0\r\nEMAIL;ENCODING=b:" + b64([]byte(own)) + "\r\nEND:VCARD\r\n"},
		{name: "base64 vCard 2.1 value, continued", refused: true,
			part: "Content-Type: text/x-vcard\r\n\r\nBEGIN:VCARD\r\nVERSION:2.1\r\nKEY;X509;BASE64:\r\n " + b64([]byte("cert of "+own)) + "\r\n\r\nEND:VCARD\r\n"},
		{name: "someone else's card, UTF-16",
			part: "Content-Type: text/vcard; charset=utf-16\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64([]byte(utf16LE(card("sam@other.example"))))},
		{name: "someone else's card, quoted-printable and base64",
			part: "Content-Type: text/x-vcard\r\n\r\nBEGIN:VCARD\r\nVERSION:2.1\r\nEMAIL;INTERNET;ENCODING=QUOTED-PRINTABLE:sam=40other.example\r\n" +
				"PHOTO;ENCODING=BASE64;TYPE=JPEG:" + b64([]byte("\xff\xd8\xff\xe0 not an address")) + "\r\nEND:VCARD\r\n"},
		{name: "someone else's card, Shift_JIS (Android)",
			part: "Content-Type: text/x-vcard\r\n\r\nBEGIN:VCARD\r\nVERSION:2.1\r\nN;CHARSET=SHIFT_JIS:\x8e\x52\x93\x63\r\nEMAIL;INTERNET:sam@other.example\r\nEND:VCARD\r\n"},
		{name: "the person's card, Shift_JIS", refused: true,
			part: "Content-Type: text/x-vcard\r\n\r\nBEGIN:VCARD\r\nVERSION:2.1\r\nN;CHARSET=SHIFT_JIS:\x8e\x52\x93\x63\r\nEMAIL;INTERNET:" + own + "\r\nEND:VCARD\r\n"},
		{name: "someone else's card, UTF-7", refused: true,
			part: "Content-Type: text/x-vcard; charset=utf-7\r\n\r\n" + card("sam+AEA-other.example")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reason := replyBodyRefusal(header, body(tc.part), []string{own})
			if tc.refused && reason == "" {
				t.Errorf("the reply is not refused: the contact would see the person's address")
			}
			if !tc.refused && reason != "" {
				t.Errorf("the reply is refused (%s), want it to go", reason)
			}
		})
	}
}
