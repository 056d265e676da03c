package server

import (
	"testing"

	"loginsign/internal/licenses"
	"loginsign/internal/store/storetest"
)

// TestAnUnpairedSurrogateEscapeIsRefused: encoding/json turns a \uD800–\uDFFF escape that is
// not half of a pair into U+FFFD, as it does a byte that is not UTF-8 (which the JSON routes
// already refuse): a status sync of {"status":"\ud800"} created a license variant named "�"
// on the person's subscriptions. Such a body answers 400 and changes nothing; a real pair (an
// emoji) and an escaped backslash before "ud800" still pass.
func TestAnUnpairedSurrogateEscapeIsRefused(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t, storetest.URLs(t)["sqlite"], licenses.RedeemLimits{})
	ann := e.person("ann@example.com", "Ann")
	e.connect(ann, e.app, e.now)
	h := map[string]string{"Authorization": basic(e.app.ID, e.secret)}
	path := "/api/applications/" + e.app.ID + "/users/" + ann.GlobalID + "/status"
	for _, body := range []string{
		`{"status":"\ud800"}`, `{"status":"PRO\uDBFF"}`, `{"status":"\udc00PRO"}`,
		`{"status":"\ud800\u0041"}`, `{"status":"\ud800\ud800"}`, `{"status":"PRO","variantName":"x\\\udfff"}`,
	} {
		code, _, got := e.call("PATCH", path, body, h, nil)
		if want := `{"error":"invalid_request","error_description":"the body is not valid UTF-8 (an unpaired surrogate escape)"}`; code != 400 || got != want {
			t.Errorf("%s = %d %s, want 400 %s", body, code, got, want)
		}
	}
	if _, variants := e.licenseRows(e.app); variants != 0 {
		t.Errorf("%d variants after refused syncs, want 0", variants)
	}
	for _, body := range []string{`{"status":"PRO\ud83d\ude00"}`, `{"status":"PRO\\ud800"}`, `{"status":"PRO\\\\ud800"}`} {
		if code, _, got := e.call("PATCH", path, body, h, nil); code != 200 {
			t.Errorf("%s = %d %s, want 200", body, code, got)
		}
	}
}
