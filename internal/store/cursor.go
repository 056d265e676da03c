package store

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"entgo.io/contrib/entgql"

	"loginsign/internal/apperr"
)

// Cursor is the position of a row in a paged list (entgql's Relay cursor). Transports other
// than GraphQL see it only as the opaque text of CursorText and ParseCursor.
type Cursor = entgql.Cursor[string]

// maxCursorText bounds the text ParseCursor decodes: the cursors this server gives out are
// well under 200 characters.
const maxCursorText = 512

// CursorText is the opaque text form of c as REST gives it out (the GraphQL string without
// its quotes); "" for nil.
func CursorText(c *Cursor) string {
	if c == nil {
		return ""
	}
	var b strings.Builder
	c.MarshalGQL(&b)
	if s, err := strconv.Unquote(b.String()); err == nil {
		return s
	}
	return strings.Trim(b.String(), `"`)
}

// NextCursor is the text of the cursor of the page after p (CursorText), nil on the last
// page.
func NextCursor(p entgql.PageInfo[string]) *string {
	if !p.HasNextPage || p.EndCursor == nil {
		return nil
	}
	s := CursorText(p.EndCursor)
	return &s
}

// ParseCursor reads the text CursorText gave out. A text no list gave out (undecodable,
// longer than any real cursor, or holding a value no column holds: a map, a nested list, text
// that is not UTF-8 or holds a NUL) is apperr.Invalid with message msg; "" is no cursor
// (nil). Lists ordered by typed fields check the values further (CheckCursors).
func ParseCursor(text, msg string) (*Cursor, error) {
	if text == "" {
		return nil, nil
	}
	var c Cursor
	if len(text) > maxCursorText || c.UnmarshalGQL(text) != nil || !columnText(c.ID) || !columnValues(c.Value) {
		return nil, apperr.New(apperr.Invalid, "%s", msg)
	}
	return &c, nil
}

// columnText tells whether s is text a column can hold: UTF-8 without a NUL (PostgreSQL
// refuses the rest, SQLite compares it with every row).
func columnText(s string) bool { return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 }

// columnValues tells whether v, a cursor's value, is what a list's cursor holds: nothing, one
// column's value, or a list of them.
func columnValues(v any) bool {
	values, isList := v.([]any)
	if !isList {
		values = []any{v}
	}
	for _, v := range values {
		switch v := v.(type) {
		case string:
			if !columnText(v) {
				return false
			}
		case nil, time.Time, bool, float32, float64, int, int8, int16, int32, int64, uint8, uint16, uint32, uint64:
		default:
			return false
		}
	}
	return true
}

// CursorValue is the kind of value a list's cursors hold for one of its ordering fields.
type CursorValue int

// Kinds of cursor values.
const (
	TimeValue         CursorValue = iota // a timestamp column
	NullableTimeValue                    // a timestamp column that may be NULL
	StringValue                          // a text column
	IntValue                             // an integer column
	IDValue                              // the id, which ent's default order leaves out (nil)
)

// CheckCursors refuses a cursor that no list ordered by fields of kinds (in order; none: by
// id alone) gave out: a cursor of another ordering, or a forged one, whose values the
// database would fail on (a value it cannot take, or a text for a timestamp column). multi
// tells a list ordered by a list of fields (its cursors hold a list of values, one a field)
// from one ordered by one field (one value). A cursor without values positions by id alone,
// which every list takes. Every list that takes a caller's cursor checks it so, before
// reading.
func CheckCursors(multi bool, kinds []CursorValue, cursors ...*Cursor) error {
	for _, c := range cursors {
		if c == nil || c.Value == nil {
			continue
		}
		values, isList := c.Value.([]any)
		if !isList {
			values = []any{c.Value}
		}
		ok := c.ID != "" && isList == multi && len(values) == len(kinds)
		for i := 0; ok && i < len(values); i++ {
			ok = kinds[i].holds(values[i])
		}
		if !ok {
			return apperr.New(apperr.Invalid, "cursor is not one this list gave out")
		}
	}
	return nil
}

// holds tells whether v, as a cursor's msgpack decodes it, is a value of kind k.
func (k CursorValue) holds(v any) bool {
	switch v.(type) {
	case time.Time:
		return k == TimeValue || k == NullableTimeValue
	case nil:
		return k == NullableTimeValue || k == IDValue
	case string:
		return k == StringValue || k == IDValue
	case int, int8, int16, int32, int64, uint8, uint16, uint32, uint64:
		return k == IntValue
	}
	return false
}
