package relay

import (
	"bytes"
	netmail "net/mail"
	"net/url"
	"strings"
)

// Content lines of iCalendar objects (RFC 5545 section 3.1), read and written one at a time:
// the relay changes the addresses of a calendar part (calendar.go) and leaves every other line
// as it was written, folding included. There is no iCalendar library among the module's
// dependencies, and the rules need nothing past a content line.

// calLine is one content line of an iCalendar object: where its bytes are, folded lines and
// line breaks included, its text unfolded, and the line break that ends its first line.
type calLine struct {
	start, end int
	text       string
	nl         string
}

// splitCalendarLines cuts ics into its content lines, unfolding them (RFC 5545 section 3.1: a
// line break followed by one space or tab continues the line). Lines may end in CRLF or LF.
// Its time and memory are linear in len(ics), however many lines continue one.
func splitCalendarLines(ics []byte) []calLine {
	var lines []calLine
	var text strings.Builder // of the last line, unfolded so far
	for pos := 0; pos < len(ics); {
		end := len(ics)
		if n := bytes.IndexByte(ics[pos:], '\n'); n >= 0 {
			end = pos + n + 1
		}
		content := strings.TrimSuffix(strings.TrimSuffix(string(ics[pos:end]), "\n"), "\r")
		if len(lines) > 0 && content != "" && (content[0] == ' ' || content[0] == '\t') {
			lines[len(lines)-1].end = end
			text.WriteString(content[1:])
		} else {
			if len(lines) > 0 {
				lines[len(lines)-1].text = text.String()
			}
			text.Reset()
			text.WriteString(content)
			lines = append(lines, calLine{start: pos, end: end, nl: string(ics[pos+len(content) : end])})
		}
		pos = end
	}
	if len(lines) > 0 {
		lines[len(lines)-1].text = text.String()
	}
	return lines
}

// property is a parsed content line: name *(";" param) ":" value.
type property struct {
	name   string
	params []parameter
	value  string
}

// parameter is one property parameter: name "=" value *("," value).
type parameter struct {
	name   string
	values []paramValue
}

// paramValue is one parameter value as written: quoted (a quoted-string, text without its
// quotes) or not.
type paramValue struct {
	text   string
	quoted bool
}

// parseProperty parses the unfolded content line s strictly (RFC 5545 section 3.1): names are
// ALPHA, DIGIT and "-", a quoted value ends at the next DQUOTE, an unquoted one holds no
// DQUOTE, ";", ":" or ",". ok is false for anything else; what parses is written back
// byte for byte by String.
func parseProperty(s string) (property, bool) {
	var p property
	i := nameEnd(s, 0)
	if i == 0 {
		return property{}, false
	}
	p.name = s[:i]
	for i < len(s) && s[i] == ';' {
		j := nameEnd(s, i+1)
		if j == i+1 || j >= len(s) || s[j] != '=' {
			return property{}, false
		}
		param := parameter{name: s[i+1 : j]}
		i = j
		for {
			i++ // past "=" or ","
			var v paramValue
			if i < len(s) && s[i] == '"' {
				n := strings.IndexByte(s[i+1:], '"')
				if n < 0 {
					return property{}, false
				}
				v = paramValue{text: s[i+1 : i+1+n], quoted: true}
				i += n + 2
			} else {
				n := strings.IndexAny(s[i:], "\";:,")
				if n < 0 {
					return property{}, false
				}
				if s[i+n] == '"' {
					return property{}, false
				}
				v = paramValue{text: s[i : i+n]}
				i += n
			}
			param.values = append(param.values, v)
			if i >= len(s) || s[i] != ',' {
				break
			}
		}
		p.params = append(p.params, param)
	}
	if i >= len(s) || s[i] != ':' {
		return property{}, false
	}
	p.value = s[i+1:]
	return p, true
}

// nameEnd returns the end of the name (ALPHA, DIGIT, "-") that starts at s[i].
func nameEnd(s string, i int) int {
	for i < len(s) {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '-' {
			break
		}
		i++
	}
	return i
}

// propertyName is the name a content line starts with, upper-cased, leading blanks ignored:
// what a lenient reader would take it for when it does not parse.
func propertyName(s string) string {
	s = strings.TrimLeft(s, " \t")
	return strings.ToUpper(s[:nameEnd(s, 0)])
}

// String writes p as a content line, unfolded.
func (p property) String() string {
	var b strings.Builder
	b.WriteString(p.name)
	for _, param := range p.params {
		b.WriteString(";" + param.name + "=")
		for i, v := range param.values {
			if i > 0 {
				b.WriteByte(',')
			}
			if v.quoted {
				b.WriteString(`"` + v.text + `"`)
			} else {
				b.WriteString(v.text)
			}
		}
	}
	b.WriteString(":" + p.value)
	return b.String()
}

// maxCalLineOctets is the longest line RFC 5545 section 3.1 wants written, line break excluded.
const maxCalLineOctets = 75

// foldCalendarLine folds the content line s into lines of at most maxCalLineOctets octets,
// never inside a UTF-8 sequence, continued by nl and a space; it ends with nl (nothing when nl
// is empty: the last line of an object that has no final line break, folded with CRLF).
func foldCalendarLine(s, nl string) string {
	sep := nl
	if sep == "" {
		sep = "\r\n"
	}
	var b strings.Builder
	limit := maxCalLineOctets
	for len(s) > limit {
		cut := limit
		for cut > 0 && s[cut]&0xC0 == 0x80 { // a UTF-8 continuation byte
			cut--
		}
		if cut == 0 { // not UTF-8: octets, then
			cut = limit
		}
		b.WriteString(s[:cut] + sep + " ")
		s = s[cut:]
		limit = maxCalLineOctets - 1 // the space that continues the line counts
	}
	b.WriteString(s + nl)
	return b.String()
}

// calAddress is what a cal-address value (RFC 5545 section 3.3.3, a "mailto:" URI) or an
// address-valued parameter names.
type calAddress struct {
	// scheme is the "mailto:" the value starts with, as written; "" for a bare address.
	scheme string
	// address is the one address the value names, lower-cased; "" when it names none.
	address string
	// names is true when the value holds an "@" (or "%40"): it names an address, which is
	// then either address or one the relay cannot read.
	names bool
}

// readCalAddress reads value: "mailto:" (any case) and a percent-encoded address with an
// optional "?query" (RFC 6068), or a bare address. A value with no "@" names no address
// ("urn:uuid:…", "mailto:" alone); one that holds an "@" but not exactly one address that the
// relay could also use (several, a display name, spaces or quotes) has names set and no
// address.
func readCalAddress(value string) calAddress {
	v := strings.TrimSpace(value)
	var a calAddress
	if len(v) >= len("mailto:") && strings.EqualFold(v[:len("mailto:")], "mailto:") {
		a.scheme, v = v[:len("mailto:")], v[len("mailto:"):]
	}
	if a.names = strings.Contains(v, "@") || strings.Contains(strings.ToLower(v), "%40"); !a.names {
		return a
	}
	if a.scheme != "" {
		v, _, _ = strings.Cut(v, "?")
		unescaped, err := url.PathUnescape(v)
		if err != nil {
			return a
		}
		v = unescaped
	}
	parsed, err := netmail.ParseAddress(v)
	if err != nil || parsed.Name != "" {
		return a
	}
	if _, _, ok := splitAddress(parsed.Address); !ok {
		return a
	}
	a.address = strings.ToLower(parsed.Address)
	return a
}

// isMailto reports whether value is a "mailto:" URI.
func isMailto(value string) bool {
	v := strings.TrimSpace(value)
	return len(v) >= len("mailto:") && strings.EqualFold(v[:len("mailto:")], "mailto:")
}

// Where an address can stand in an iCalendar object that a calendar client writes to on its
// own: the value of ORGANIZER and ATTENDEE (RFC 5545 sections 3.8.4.3 and 3.8.4.1; an iTIP
// REPLY, COUNTER or REFRESH goes to the ORGANIZER, RFC 5546), and the parameters naming
// calendar users (RFC 5545 section 3.2: SENT-BY, DELEGATED-TO, DELEGATED-FROM, MEMBER; RFC
// 7986 section 6.2: EMAIL). Any other value or parameter value that is a "mailto:" URI
// (X-MS-OLK-SENDER, ALTREP, DIR…) is read as one too.
var (
	calAddressProperties = []string{"ORGANIZER", "ATTENDEE"}
	calAddressParams     = []string{"SENT-BY", "DELEGATED-TO", "DELEGATED-FROM", "MEMBER", "EMAIL"}
)

// needsQuotes reports whether a parameter value must be a quoted-string.
func needsQuotes(v string) bool { return strings.ContainsAny(v, ";:,") }
