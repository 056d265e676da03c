package rest

import (
	"encoding/json"
	"runtime"
	"strings"
	"testing"

	"loginsign/internal/apperr"
	"loginsign/internal/httpx"
)

// codesBody is the JSON of a code upload, as UploadCodes decodes it.
type codesBody struct {
	VariantID string      `json:"variantId"`
	Codes     uploadCodes `json:"codes"`
}

// A JSON code upload of 700,000 empty codes (2 MiB, within the body limit) is refused at its
// 10,001st code, without decoding the rest: decoded whole it made 700,000 strings and some
// 70 MiB of allocations before the domain counted them.
func TestACodeUploadOfHundredsOfThousandsOfCodesIsRefusedAtItsLimit(t *testing.T) {
	n := (MaxUploadBody - 64) / 3
	body := []byte(`{"variantId":"var_x","codes":[` + strings.Repeat(`"",`, n-1) + `""]}`)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var b codesBody
	err := json.Unmarshal(body, &b)
	runtime.ReadMemStats(&after)
	if err == nil {
		err = httpx.Errorf("decoded %d codes", len(b.Codes))
	}
	if ae := apperr.As(err); ae.Code != apperr.Invalid || !strings.Contains(ae.Message, "at most 10000 codes per upload") {
		t.Fatalf("err = %v, want Invalid at most 10000 codes per upload", err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 24<<20 {
		t.Errorf("%d MiB allocated reading a 2 MiB upload, want it bounded by the first 10,001 codes", got>>20)
	}
}

// Codes up to the limit still decode in order; null is none; a non-string code is Invalid.
func TestUploadCodesStillDecode(t *testing.T) {
	var b codesBody
	if err := json.Unmarshal([]byte(`{"variantId":"v","codes":["AAAA","BBBB"]}`), &b); err != nil || len(b.Codes) != 2 || b.Codes[1] != "BBBB" {
		t.Fatalf("two codes: %q, %v", b.Codes, err)
	}
	b = codesBody{}
	if err := json.Unmarshal([]byte(`{"codes":null}`), &b); err != nil || b.Codes != nil {
		t.Fatalf("null codes: %q, %v", b.Codes, err)
	}
	for _, bad := range []string{`{"codes":[1]}`, `{"codes":"AAAA"}`, `{"codes":{}}`} {
		if err := json.Unmarshal([]byte(bad), &codesBody{}); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}
