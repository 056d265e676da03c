package mail

import (
	"errors"
	"regexp"
	"strings"

	"github.com/emersion/go-smtp"

	"loginsign/internal/ids"
)

// What the log may show of a mail. Sign-in subjects name the app ("Sign in to Acme with
// LoginSign") and a relay line names an alias, so a log line with the address or the subject
// would tie a person's real address to the apps they use and to their masked addresses. Log
// lines of this package and of the relay therefore name a mail by its Kind, a recipient by a
// keyed digest (Config.LogKey), and pass every error text through RedactAddresses: SMTP
// servers echo the recipient in replies such as "550 5.1.1 <ann@example.com>: no such user".

// addressInText matches an address inside free text: a local part (a quoted string, as in
// "ann smith"@, or anything up to a space, bracket, double quote or separator; an apostrophe
// belongs to it, as in o'brien@) and the domain after the @, an IP literal included, in
// group 1.
var addressInText = regexp.MustCompile(`(?:"(?:[^"\\\r\n]|\\.)*"|[^\s<>()\[\]{},;:"@]+)@(\[[^\]\s]*\]|[\p{L}\p{N}.-]*)`)

// RedactAddresses returns s with the local part of every email address in it replaced by
// "•••": "550 <ann@example.com> unknown" becomes "550 <•••@example.com> unknown". The domain
// stays, so a failure still says which provider refused.
func RedactAddresses(s string) string {
	if !strings.Contains(s, "@") {
		return s
	}
	return addressInText.ReplaceAllString(s, "•••@$1")
}

// logDigest names a recipient in the log: the first 12 hex digits of HMAC-SHA256 of the
// lower-cased address under key. Lines about one mailbox carry the same digest, and without the
// key a digest cannot be tested against a list of addresses.
func logDigest(key []byte, addr string) string {
	return ids.MAC(key, strings.ToLower(addr))[:12]
}

// kindOf is m.Kind, or "mail" for a message built without a template.
func kindOf(m Message) string {
	if m.Kind == "" {
		return "mail"
	}
	return m.Kind
}

// redactedError is an error of Send whose text has every address redacted. It unwraps to
// the original error, so IsTemporary, errors.Is and errors.As keep working, except that an
// SMTP reply is replaced by a copy with its text redacted too: a caller that logs the
// *smtp.SMTPError it found with errors.As must not find the address there either.
type redactedError struct {
	text string
	err  error
}

func (e *redactedError) Error() string { return e.text }
func (e *redactedError) Unwrap() error { return e.err }

// redact returns err as a redactedError; nil stays nil.
func redact(err error) error {
	if err == nil {
		return nil
	}
	inner := err
	var reply *smtp.SMTPError
	if errors.As(err, &reply) {
		inner = &smtp.SMTPError{Code: reply.Code, EnhancedCode: reply.EnhancedCode, Message: RedactAddresses(reply.Message)}
	}
	return &redactedError{text: RedactAddresses(err.Error()), err: inner}
}
