package server

import (
	"strings"
	"testing"

	"loginsign/internal/licenses"
	"loginsign/internal/store/storetest"
)

// TestAnyoneCannotGrowTheMetricsWithMadeUpMethods: net/http takes any token as a request's
// method, and the request metrics were labelled with the method as sent, so every made-up
// method (of any length a request line allows) made new series that stay for the life of the
// process. The label is now a known method or "other".
func TestAnyoneCannotGrowTheMetricsWithMadeUpMethods(t *testing.T) {
	e := newAPIEnv(t, storetest.URLs(t)["sqlite"], licenses.RedeemLimits{})
	long := "PROBE" + strings.Repeat("X", 2000)
	for _, m := range []string{"PROBE1", "PROBE2", "PROBE3", long, "GET"} {
		for _, path := range []string{"/healthz", "/no-such-page", "/api/user"} {
			e.call(m, path, nil, nil, nil)
		}
	}
	families, err := e.s.metrics.Gather()
	if err != nil {
		t.Fatal(err)
	}
	methods := map[string]bool{}
	for _, f := range families {
		if f.GetName() != "loginsign_http_request_duration_seconds" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "method" {
					methods[l.GetValue()] = true
				}
			}
		}
	}
	if !methods["GET"] || !methods["other"] {
		t.Errorf("method labels = %.200v, want GET and other among them", methods)
	}
	for m := range methods {
		if strings.HasPrefix(m, "PROBE") {
			t.Errorf("a made-up method became a label: %.40q", m)
		}
	}
}
