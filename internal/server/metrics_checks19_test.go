package server

import (
	"io"
	"testing"

	"loginsign/internal/licenses"
	"loginsign/internal/store/storetest"
)

// TestAWrongMetricsTokenGetsTheAnswerOfAPathThatDoesNotExist: with LOGINSIGN_METRICS_TOKEN
// set, a request without it, with a wrong one or with another method is answered exactly as
// /metrics is without any token set (and as any unknown page): nobody learns that a token is
// set, or which methods the route takes.
func TestAWrongMetricsTokenGetsTheAnswerOfAPathThatDoesNotExist(t *testing.T) {
	plain := newAPIEnv(t, storetest.URLs(t)["sqlite"], licenses.RedeemLimits{})
	guarded := newAPIEnvWith(t, storetest.URLs(t)["sqlite"], licenses.RedeemLimits{},
		map[string]string{"LOGINSIGN_METRICS_TOKEN": "metrics-token-0123456789"}, io.Discard)
	wrong := map[string]string{"Authorization": "Bearer wrong-token-0123456789"}
	for _, tt := range []struct {
		method string
		header map[string]string
	}{{"GET", nil}, {"GET", wrong}, {"POST", nil}, {"DELETE", wrong}, {"HEAD", nil}} {
		wantCode, wantHeader, wantBody := plain.call(tt.method, "/metrics", nil, tt.header, nil)
		code, header, body := guarded.call(tt.method, "/metrics", nil, tt.header, nil)
		if code != wantCode || body != wantBody || header.Get("Content-Type") != wantHeader.Get("Content-Type") || header.Get("Allow") != wantHeader.Get("Allow") {
			t.Errorf("%s /metrics %v with a token set = %d %q %q %.200q; without one = %d %q %q %.200q", tt.method, tt.header,
				code, header.Get("Content-Type"), header.Get("Allow"), body, wantCode, wantHeader.Get("Content-Type"), wantHeader.Get("Allow"), wantBody)
		}
	}
}
