package server

import (
	"net/http"
	"testing"

	"github.com/emersion/go-smtp"

	"loginsign/internal/store/storetest"
)

// TestAnExportThatFailsGivesItsCountBack: an export the server cannot finish (here the mail
// server refuses its announcement) answers an error and spends none of the person's three a
// day; the fourth successful one is still refused.
func TestAnExportThatFailsGivesItsCountBack(t *testing.T) {
	t.Parallel()
	for name, dbURL := range storetest.URLs(t) {
		t.Run(name, func(t *testing.T) {
			e := newOAuthEnv(t, dbURL)
			ann := e.browser()
			e.authorizeCode(ann, "ann@example.com")
			export := func() int {
				t.Helper()
				resp, err := ann.Get(e.base + "/api/account/export")
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp.StatusCode
			}
			if status := export(); status != http.StatusOK {
				t.Fatalf("first export = %d, want 200", status)
			}
			e.smtp.FailNext(&smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "refused (injected)"})
			if status := export(); status < 500 {
				t.Fatalf("export whose announcement the mail server refuses = %d, want a 5xx", status)
			}
			for i, want := range []int{http.StatusOK, http.StatusOK, http.StatusTooManyRequests} {
				if status := export(); status != want {
					t.Errorf("export %d after the failed one = %d, want %d (the failed one spends nothing, three a day)", i+1, status, want)
				}
			}
		})
	}
}
