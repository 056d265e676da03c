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
	Line   int
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

// Read reads r as CSV: a leading byte order mark is dropped and blank lines are skipped; the
// delimiter is a comma, or a semicolon when the first line that holds anything has more
// semicolons than commas; that line's row is the header when it names one of cols. More than
// maxRows data rows answer ErrTooManyRows (before the rest is read); malformed CSV answers
// apperr Invalid "bad CSV: line N: …"; a read error (such as an oversized body) is returned
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
	line := first
	if i := bytes.IndexAny(first, "\r\n"); i >= 0 {
		line = first[:i]
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	if bytes.Count(line, []byte(";")) > bytes.Count(line, []byte(",")) {
		cr.Comma = ';'
	}
	for n := 0; ; n++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return t, nil
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
				t.Header = h
				continue
			}
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if len(t.Rows) == maxRows {
			return nil, ErrTooManyRows
		}
		t.Rows = append(t.Rows, Row{Line: at, Fields: rec})
	}
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
			// All white space: consume it whole and look further, unless it was the end.
			lines += bytes.Count(buf, []byte("\n"))
			br.Discard(len(buf))
			if len(buf) < br.Size() {
				return lines, nil
			}
			continue
		}
		start := bytes.LastIndexByte(buf[:content], '\n') + 1 // the start of the line that holds it
		lines += bytes.Count(buf[:start], []byte("\n"))
		br.Discard(start)
		return lines, nil
	}
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
