package widgets_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"loginsign/ent"
	"loginsign/internal/identity"
	"loginsign/internal/web/page"
	"loginsign/internal/web/static"
	"loginsign/internal/web/widgets"
)

// downClients answers every lookup as a database whose connection was refused.
type downClients struct{}

func (downClients) Client(context.Context, string) (*ent.Application, error) {
	return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}
}

// The embed pages of an application looked up while the database is down answer an outage:
// 503 with Retry-After and the "try again in a few seconds" page, never a 500 nor the cause.
// Before, both answered 500 "Something went wrong".
func TestTheEmbedPagesAnswer503WhileTheDatabaseIsDown(t *testing.T) {
	t.Parallel()
	h := widgets.New(downClients{}, &identity.Service{}, page.New(static.Assets()))
	for path, serve := range map[string]http.HandlerFunc{
		"/embed/banner?client_id=app_aaaaaaaaaaaaaaaaaaaaaaaa": h.Banner,
		"/embed/login?client_id=app_aaaaaaaaaaaaaaaaaaaaaaaa":  h.Login,
	} {
		rec := httptest.NewRecorder()
		serve(rec, httptest.NewRequest(http.MethodGet, path, nil))
		body := rec.Body.String()
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
			t.Errorf("%s with the database down: %d Retry-After=%q, want 503 with Retry-After", path, rec.Code, rec.Header().Get("Retry-After"))
		}
		if !strings.Contains(body, "try again in a few seconds") || strings.Contains(body, "refused") {
			t.Errorf("%s with the database down shows:\n%s", path, body)
		}
	}
}
