package server

import (
	"testing"

	"loginsign/internal/licenses"
	"loginsign/internal/store/storetest"
)

// TestAVariantRouteRefusesDurationAndDefaultDurationTogether: over REST, a variant body giving
// both names of its duration is 400 naming both, on POST and PATCH. Before, duration silently
// won: {"duration":"YEAR","defaultDuration":"MONTH"} made a yearly variant (201).
func TestAVariantRouteRefusesDurationAndDefaultDurationTogether(t *testing.T) {
	e := newAPIEnv(t, storetest.URLs(t)["sqlite"], licenses.RedeemLimits{})
	dev := map[string]string{"Origin": e.url}
	cookie := e.cookie(e.dev)
	variants := "/api/developer/applications/" + e.app.ID + "/licenses/variants"
	const want = `{"error":"invalid_request","message":"give duration or defaultDuration, not both"}`
	if code, _, body := e.call("POST", variants, map[string]any{"name": "Pro", "duration": "YEAR", "defaultDuration": "MONTH"}, dev, cookie); code != 400 || body != want {
		t.Errorf("POST with both = %d %s, want 400 %s", code, body, want)
	}
	code, _, body := e.call("POST", variants, map[string]any{"name": "Basic", "defaultDuration": "MONTH"}, dev, cookie)
	if code != 201 {
		t.Fatalf("POST with defaultDuration = %d %s", code, body)
	}
	id := decode[map[string]any](t, body)["id"].(string)
	if code, _, body := e.call("PATCH", variants+"/"+id, map[string]any{"duration": "YEAR", "defaultDuration": "LIFETIME"}, dev, cookie); code != 400 || body != want {
		t.Errorf("PATCH with both = %d %s, want 400 %s", code, body, want)
	}
}
