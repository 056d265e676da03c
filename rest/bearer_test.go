package rest

import (
	"strings"
	"testing"
)

func TestParseBearer(t *testing.T) {
	t.Parallel()
	tests := []struct{ header, want string }{
		{"Bearer lsat_abc-DEF_123", "lsat_abc-DEF_123"},
		{"bearer lsat_x", "lsat_x"},
		{"Bearer  lsat_x", "lsat_x"},
		{"Bearer", ""},
		{"Bearer ", ""},
		{"Basic abc", ""},
		{"Bearer a b", ""},
		{"Bearer a\x00", ""},
		{"Bearer " + strings.Repeat("a", 513), ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := ParseBearer(tt.header); got != tt.want {
			t.Errorf("ParseBearer(%q) = %q, want %q", tt.header, got, tt.want)
		}
	}
}

func FuzzParseBearer(f *testing.F) {
	f.Add("Bearer lsat_abc")
	f.Add("bearer   x=")
	f.Add("Bearer a b")
	f.Add("Basic abc")
	f.Fuzz(func(t *testing.T, header string) {
		tok := ParseBearer(header)
		if tok == "" {
			return
		}
		if len(tok) > 512 || strings.ContainsAny(tok, " \t\r\n\",") {
			t.Fatalf("accepted token %q", tok)
		}
		if !strings.HasSuffix(header, tok) {
			t.Fatalf("token %q is not the header's credentials", tok)
		}
	})
}
