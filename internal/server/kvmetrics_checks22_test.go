package server

import (
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"loginsign/internal/kv/kvtest"
	"loginsign/internal/store/storetest"
)

// TestTheEmbeddedStoresFillIsOnTheMetricsListener: on the embedded store the metrics listener
// shows how full it is (loginsign_kv_used_ratio) and how full its rate-limit counters' half is
// (loginsign_kv_counters_used_ratio), which refuses new counters at 1: a sign-in adds to both.
// A Redis server has its own metrics, and neither gauge.
func TestTheEmbeddedStoresFillIsOnTheMetricsListener(t *testing.T) {
	gauges := func(e *oauthEnv) map[string]float64 {
		t.Helper()
		rec := httptest.NewRecorder()
		e.srv.metricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		out := map[string]float64{}
		for line := range strings.Lines(rec.Body.String()) {
			name, v, ok := strings.Cut(strings.TrimSpace(line), " ")
			if !ok || !strings.HasPrefix(name, "loginsign_kv_") {
				continue
			}
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metrics line %q: %v", line, err)
			}
			out[name] = f
		}
		return out
	}
	dbURL := storetest.URLs(t)["sqlite"]
	e := newOAuthEnv(t, dbURL, withEnv("REDIS_URL", ""))
	before := gauges(e)
	e.signedIn(defaultTestEmail)
	after := gauges(e)
	for _, name := range []string{"loginsign_kv_used_ratio", "loginsign_kv_counters_used_ratio"} {
		if a, ok := after[name]; !ok || a <= before[name] || a >= 1 {
			t.Errorf("%s: %v before a sign-in, %v (present %v) after", name, before[name], a, ok)
		}
	}
	if g := gauges(newOAuthEnv(t, dbURL, withEnv("REDIS_URL", kvtest.URL(t)))); len(g) != 0 {
		t.Errorf("a Redis server's LoginSign shows %v", g)
	}
}
