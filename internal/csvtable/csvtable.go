// Package csvtable is LoginSign's one CSV reader. The portal's uploads (license codes,
// existing users) are tables of named columns; each names its columns and keeps its own rules
// (which columns are required, what a row means), and reads the bytes here, so that a byte
// order mark, a semicolon-separated export, a blank line or a quote out of place reads the
// same everywhere.
package csvtable

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode"

	"loginsign/internal/apperr"
)

// Columns maps the header names a format accepts to its column keys. Names are compared in
// lower case, with "-" and " " read as "_".
type Columns map[string]string

// Table is a read CSV.
type Table struct {
	// Header maps column keys to positions; nil when the first row names none of the columns
	// (the file has no header row, or a wrong one).
	Header map[string]int
	// Rows are the data rows; blank lines are skipped.
	Rows []Row
	// Empty reports a file holding nothing but blanks (and a byte order mark).
	Empty bool
}

// Has reports whether the header names key.
func (t *Table) Has(key string) bool {
	_, ok := t.Header[key]
	return ok
}

// Row is one data row.
type Row struct {
	// Line is the 1-based line the row starts on.
	Line int
	// Fields are the row's fields that a column key can name: those of the columns the header
	// names, in the file's order (Header maps each key to its place here), or, without a
	// header, the first as many as cols has keys. The rest of a wide export is not kept.
	Fields []string
}

// Field returns column i of the row, trimmed; "" when the row is shorter.
func (r Row) Field(i int) string {
	if i < 0 || i >= len(r.Fields) {
		return ""
	}
	return strings.TrimSpace(r.Fields[i])
}

// Get returns the column named key by t's header (or by order, when t has none, from
// byOrder), trimmed; "" when absent.
func (t *Table) Get(r Row, key string, byOrder map[string]int) string {
	h := t.Header
	if h == nil {
		h = byOrder
	}
	i, ok := h[key]
	if !ok {
		return ""
	}
	return r.Field(i)
}

// ErrTooManyRows is returned when a file holds more data rows than Read's maxRows.
var ErrTooManyRows = errors.New("csvtable: too many rows")

// MaxFields bounds the fields of one row. encoding/csv splits a whole record before it
// returns it, and keeps per field a string header, an index and a position (about 40 bytes),
// so a row of nothing but delimiters costs some 160 times its size: 8 MiB of commas, one
// import body, would make 8 million fields and well over a gigabyte of allocations. The
// limit is checked on the bytes, before encoding/csv sees a row. A row costs about 40 bytes a
// field while it is split (buffers reused from row to row); only the fields a column key
// names are kept (Row.Fields), so a table of 10,000 rows holds a few fields a row however wide
// the file. 1024 takes the exports people import from: a CRM's contacts with every property,
// a shop's customers with their meta fields, a sales export with its custom fields, which
// often pass 64 columns.
const MaxFields = 1024

// errTooManyFields is fieldLimit's read error: a row has more than MaxFields fields.
var errTooManyFields = errors.New("csvtable: too many fields")

// fieldLimit passes r's bytes through and fails with errTooManyFields as soon as a row holds
// more than MaxFields fields: it counts the delimiters outside quoted fields (a doubled quote
// inside one toggles twice, so it stays inside) and starts again at each line break outside
// them. line counts the line breaks passed, for the error's line number. A carriage return
// outside quoted fields ends the line, alone (the line break of old Mac files, which
// encoding/csv reads as part of a field: the whole file one row) or before a line feed, which
// is then dropped: encoding/csv reads a "\n" for either. Inside a quoted field it stays.
type fieldLimit struct {
	r       io.Reader
	comma   byte
	quoted  bool
	cr      bool // the last byte passed was a carriage return read as "\n"
	fields  int
	line    int
	tooMany bool
}

func (f *fieldLimit) Read(p []byte) (int, error) {
	for {
		if f.tooMany {
			return 0, errTooManyFields
		}
		n, err := f.r.Read(p)
		j := 0 // the bytes passed on, p[:j]
		for i := 0; i < n; i++ {
			c := p[i]
			if f.cr {
				f.cr = false
				if c == '\n' {
					continue // the line feed of a CRLF, whose carriage return ended the line
				}
			}
			switch {
			case c == '"':
				f.quoted = !f.quoted
			case c == '\r' && !f.quoted:
				c, f.cr = '\n', true
				f.line++
				f.fields = 0
			case c == '\n':
				f.line++
				if !f.quoted {
					f.fields = 0
				}
			case c == f.comma && !f.quoted:
				f.fields++
				if f.fields >= MaxFields {
					// The bytes before this row's excess are passed on; the reader fails next.
					f.tooMany = true
					return j, nil
				}
			}
			p[j] = c
			j++
		}
		// A read of nothing but a dropped line feed passes nothing: read on.
		if j > 0 || n == 0 || err != nil {
			return j, err
		}
	}
}

// Read reads r as CSV: a leading byte order mark is dropped and blank lines are skipped; the
// delimiter is a comma, or a semicolon when the first line that holds anything has more
// semicolons than commas, or a tab when it has more tabs than either (Excel's "Unicode Text",
// tab-separated UTF-16: Decode); that line's row is the header when it names one of cols. More than
// maxRows data rows answer ErrTooManyRows (before the rest is read); malformed CSV answers
// apperr Invalid "bad CSV: line N: …", as does a row of more than MaxFields fields (refused
// before it is split); a read error (such as an oversized body) is returned
// wrapped, for the transport to map. Line numbers count from the file's first line.
func Read(r io.Reader, cols Columns, maxRows int) (*Table, error) {
	br := bufio.NewReader(r)
	if bom, _ := br.Peek(3); bytes.Equal(bom, []byte("\xef\xbb\xbf")) {
		br.Discard(3)
	}
	skipped, err := skipBlankLines(br)
	if err != nil {
		return nil, fmt.Errorf("reading CSV: %w", err)
	}
	t := &Table{}
	first, err := br.Peek(4096)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, fmt.Errorf("reading CSV: %w", err)
	}
	if len(first) == 0 {
		t.Empty = true
		return t, nil
	}
	limit := &fieldLimit{r: br, comma: ','}
	commas, semicolons, tabs := delimiters(first)
	if semicolons > commas {
		limit.comma = ';'
	}
	if tabs > max(commas, semicolons) {
		limit.comma = '\t'
	}
	cr := csv.NewReader(limit)
	cr.ReuseRecord = true // Row.Fields are copied out
	cr.FieldsPerRecord = -1
	// Leading white space is dropped, but for tab-separated text, where a tab is the next
	// (empty) field's delimiter, not white space before it (Row.Field trims each field).
	cr.TrimLeadingSpace = limit.comma != '\t'
	cr.Comma = rune(limit.comma)
	var keep []int // the positions a row keeps (Row.Fields); nil: the first byOrder
	byOrder := cols.keys()
	for n := 0; ; n++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return t, nil
		}
		if limit.tooMany {
			return nil, apperr.New(apperr.Invalid, "bad CSV: line %d: more than %d fields in a row", skipped+limit.line+1, MaxFields)
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) && (errors.Is(pe.Err, csv.ErrQuote) || errors.Is(pe.Err, csv.ErrBareQuote) || errors.Is(pe.Err, csv.ErrFieldCount)) {
				return nil, apperr.New(apperr.Invalid, "bad CSV: line %d: %v", skipped+pe.Line, pe.Err)
			}
			return nil, fmt.Errorf("reading CSV: %w", err)
		}
		at, _ := cr.FieldPos(0)
		at += skipped
		if n == 0 {
			if h := cols.header(rec); h != nil {
				t.Header, keep = named(h)
				continue
			}
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if len(t.Rows) == maxRows {
			return nil, ErrTooManyRows
		}
		t.Rows = append(t.Rows, Row{Line: at, Fields: kept(rec, keep, byOrder)})
	}
}

// delimiters counts the commas, semicolons and tabs of b's first record that stand outside
// quoted fields: a comma-separated line whose quoted note holds tabs or semicolons is still
// comma-separated (a doubled quote inside a quoted field toggles twice and stays inside). The
// record ends at the first line break outside quotes, or where b does.
func delimiters(b []byte) (commas, semicolons, tabs int) {
	quoted := false
	for _, c := range b {
		switch {
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '\r' || c == '\n':
			return
		case c == ',':
			commas++
		case c == ';':
			semicolons++
		case c == '\t':
			tabs++
		}
	}
	return
}

// skipBlankLines consumes the lines of br that hold only white space, up to the first line
// that holds anything (or the end), and returns how many it consumed.
func skipBlankLines(br *bufio.Reader) (int, error) {
	lines := 0
	for {
		buf, err := br.Peek(br.Size())
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
			return lines, err
		}
		content := bytes.IndexFunc(buf, func(r rune) bool { return !unicode.IsSpace(r) })
		if content < 0 {
			// All white space: consume it whole and look further, unless it was the end. A
			// carriage return ending a full buffer waits for the next: a line feed may follow.
			n := len(buf)
			if n == br.Size() && buf[n-1] == '\r' {
				n--
			}
			lines += lineBreaks(buf[:n])
			br.Discard(n)
			if len(buf) < br.Size() {
				return lines, nil
			}
			continue
		}
		start := bytes.LastIndexAny(buf[:content], "\r\n") + 1 // the start of the line that holds it
		lines += lineBreaks(buf[:start])
		br.Discard(start)
		return lines, nil
	}
}

// lineBreaks counts the line breaks of b: "\n", "\r\n" and a lone "\r" (fieldLimit).
func lineBreaks(b []byte) int {
	return bytes.Count(b, []byte("\n")) + bytes.Count(b, []byte("\r")) - bytes.Count(b, []byte("\r\n"))
}

// header maps the columns rec names to their positions (the first of duplicates); nil when
// it names none.
func (c Columns) header(rec []string) map[string]int {
	var h map[string]int
	for i, name := range rec {
		k := strings.NewReplacer("-", "_", " ", "_").Replace(strings.ToLower(strings.TrimSpace(name)))
		key, ok := c[k]
		if !ok {
			continue
		}
		if h == nil {
			h = map[string]int{}
		}
		if _, dup := h[key]; !dup {
			h[key] = i
		}
	}
	return h
}

// keys is the number of column keys c maps names to.
func (c Columns) keys() int {
	seen := map[string]bool{}
	for _, k := range c {
		seen[k] = true
	}
	return len(seen)
}

// named returns the positions header h names, in order, and h with each key mapped to its
// place among them.
func named(h map[string]int) (map[string]int, []int) {
	pos := make([]int, 0, len(h))
	for _, i := range h {
		pos = append(pos, i)
	}
	slices.Sort(pos)
	out := make(map[string]int, len(h))
	for k, i := range h {
		out[k], _ = slices.BinarySearch(pos, i)
	}
	return out, pos
}

// kept copies the fields of rec that a row keeps: those at positions keep (a row too short for
// one has "" there), or, keep nil, the first n. Each is a copy: encoding/csv's fields share
// one string of the whole row, which a field kept as it is would keep whole.
func kept(rec []string, keep []int, n int) []string {
	if keep == nil {
		keep = make([]int, min(len(rec), n))
		for i := range keep {
			keep[i] = i
		}
	}
	out := make([]string, len(keep))
	for i, p := range keep {
		if p < len(rec) {
			out[i] = strings.Clone(rec[p])
		}
	}
	return out
}
