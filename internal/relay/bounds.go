package relay

import (
	"bytes"

	"github.com/emersion/go-smtp"
)

// Bounds of a message header, top-level or of a MIME part (splitMessage). Real mail stays far
// below both: a header of 20 to 100 fields and a few KiB, a few hundred fields and tens of KiB
// for one that passed many hops with ARC sets, DKIM signatures and Received lines (Postfix
// keeps at most 100 KiB of a header, its header_size_limit). Without them a header is bounded
// only by MaxMessageBytes (25 MiB, some 3 million short fields), which costs the relay in
// memory many times its size once parsed, and in time the square of its field count when a
// forward removes fields (go-message deletes each one from a slice it shifts). Within them
// that rewriting stays under a million steps, so the fields are still deleted one by one.
const (
	// maxHeaderFields is how many fields one header may hold.
	maxHeaderFields = 1000
	// maxHeaderBytes is how many bytes one header may take before its blank line.
	maxHeaderBytes = 256 << 10
)

// errHeaderTooLarge refuses a message whose top-level header passes maxHeaderFields or
// maxHeaderBytes; nothing of it is sent.
var errHeaderTooLarge = &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4},
	Message: "Message header too large: at most 1000 fields and 256 KiB"}

// headerTooLarge reports whether the header that starts raw (up to its first blank line, or
// all of raw without one) holds more than maxHeaderFields fields or maxHeaderBytes bytes. It
// reads at most about maxHeaderBytes of raw and allocates nothing, so it can run before the
// header is parsed.
func headerTooLarge(raw []byte) bool {
	fields := 0
	for i := 0; i < len(raw); {
		if i > maxHeaderBytes {
			return true
		}
		line := raw[i:]
		if end := bytes.IndexByte(line, '\n'); end >= 0 {
			line = line[:end+1]
		}
		if string(line) == "\r\n" || string(line) == "\n" {
			return false // the blank line that ends the header
		}
		if line[0] != ' ' && line[0] != '\t' { // not a continuation line: a new field
			if fields++; fields > maxHeaderFields {
				return true
			}
		}
		i += len(line)
	}
	return len(raw) > maxHeaderBytes
}

// errBareLineBreak refuses a message holding a CR or LF that is not part of a CRLF; nothing of
// it is sent.
var errBareLineBreak = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 6, 0},
	Message: "Message refused: it holds a bare CR or LF, which SMTP allows only as CRLF (RFC 5321 section 2.3.8)"}

// bareLineBreak reports whether raw holds a CR not followed by LF or an LF not preceded by CR.
// RFC 5321 section 2.3.8 allows CR and LF in mail only together, as a line end. The relay
// passes a message's lines on as they came, and the go-smtp client that sends them to the next
// hop turns a bare LF into CRLF but leaves a bare CR as it is; a next hop that takes a bare CR
// (or LF) for a line end would then read "<CR>.<CR><LF>" as the end of the forward, and what
// follows as commands of the relay's own session: a message of the sender's choice, to anyone,
// from LoginSign (SMTP smuggling). Refusing such a message, in DATA and BDAT alike, is the
// stance section 2.3.8 takes, and keeps every byte of what is forwarded or replied as the
// sender wrote it. Each CRLF holds one CR and one LF, so raw has none bare exactly when it
// holds as many CRLF as CR and as LF.
func bareLineBreak(raw []byte) bool {
	crlf := bytes.Count(raw, []byte("\r\n"))
	return bytes.Count(raw, []byte("\r")) != crlf || bytes.Count(raw, []byte("\n")) != crlf
}
