package rest

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"loginsign/internal/apperr"
	"loginsign/internal/oauth"
)

// An internal failure reaches the caller as the bare "internal error" of its route family,
// never with the text of the failure (a driver's message names hosts, users and tables).
const leakyFailure = "loading connections: pq: password authentication failed for user \"loginsign\" at db-primary.internal:5432"

func TestAppBackendInternalErrorsTellNothingOfTheFailure(t *testing.T) {
	t.Parallel()
	for _, err := range []error{errors.New(leakyFailure), apperr.New(apperr.Internal, "%s", leakyFailure)} {
		rec := httptest.NewRecorder()
		writeAppError(rec, httptest.NewRequest(http.MethodGet, "/api/applications/app_x/users", nil), err)
		body := rec.Body.String()
		if rec.Code != http.StatusInternalServerError || strings.Contains(body, "db-primary") || !strings.Contains(body, `"error_description":"internal error"`) {
			t.Errorf("%T internal error on the app-backend API: %d %s, want 500 with error_description \"internal error\" only", err, rec.Code, strings.TrimSpace(body))
		}
	}
}

func TestOAuthInternalErrorsTellNothingOfTheFailure(t *testing.T) {
	t.Parallel()
	a := &API{Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, err := range []error{fmt.Errorf("%s", leakyFailure), oauth.ErrServer.WithDescription("%s", leakyFailure)} {
		rec := httptest.NewRecorder()
		a.writeOAuthError(rec, httptest.NewRequest(http.MethodPost, "/oauth/token", nil), err)
		body := rec.Body.String()
		if rec.Code != http.StatusInternalServerError || strings.Contains(body, "db-primary") || !strings.Contains(body, `"error":"server_error"`) {
			t.Errorf("%T internal error on a token endpoint: %d %s, want 500 server_error without the failure's text", err, rec.Code, strings.TrimSpace(body))
		}
	}
}
