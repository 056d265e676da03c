package store

import (
	"strconv"
	"strings"

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

// ParseCursor reads the text CursorText gave out. A text no list gave out (undecodable or
// longer than any real cursor) is apperr.Invalid with message msg; "" is no cursor (nil).
func ParseCursor(text, msg string) (*Cursor, error) {
	if text == "" {
		return nil, nil
	}
	var c Cursor
	if len(text) > maxCursorText || c.UnmarshalGQL(text) != nil {
		return nil, apperr.New(apperr.Invalid, "%s", msg)
	}
	return &c, nil
}
