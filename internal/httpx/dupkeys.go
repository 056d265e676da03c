package httpx

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode"

	"loginsign/internal/apperr"
)

// checkDuplicateKeys refuses a JSON body with an object that names a member twice. Go's
// decoder keeps the last of them, and matches member names to fields without regard to case,
// so {"status":"PRO","Status":"REVOKED"} or {"variantId":"a","variantId":"b"} would act on a
// value other than the one a gateway, a log or the developer's own tooling reads first (RFC
// 8259 §4: names SHOULD be unique; receivers differ). Names are compared as the decoder
// matches them (case-folded). raw is well-formed by the time DecodeJSON calls this (it
// decoded), so token errors only end the check.
func checkDuplicateKeys(raw []byte) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	// One frame per open object or array: the names an object has seen, nil for an array.
	var stack []map[string]bool
	expectKey := func() bool { return len(stack) > 0 && stack[len(stack)-1] != nil }
	afterValue := true // in an object, the next string token is a name
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				stack = append(stack, map[string]bool{})
				afterValue = true
			case '[':
				stack = append(stack, nil)
			case '}', ']':
				stack = stack[:len(stack)-1]
				afterValue = true
			}
			continue
		case string:
			if expectKey() && afterValue {
				k := foldKey(t)
				if stack[len(stack)-1][k] {
					return apperr.New(apperr.Invalid, "member %q appears more than once in a JSON object", t)
				}
				stack[len(stack)-1][k] = true
				afterValue = false
				continue
			}
		}
		afterValue = true
	}
}

// foldKey maps s to one representative of its case-folding orbit per rune, the equivalence
// encoding/json uses to match a member name to a field.
func foldKey(s string) string {
	var b strings.Builder
	for _, r := range s {
		min := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f < min {
				min = f
			}
		}
		b.WriteRune(min)
	}
	return b.String()
}
