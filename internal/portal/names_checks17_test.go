package portal_test

import (
	"context"
	"testing"

	"loginsign/ent/pendinglink"
	"loginsign/internal/apperr"
	"loginsign/internal/portal"
)

// TestBlankLettersDoNotSplitOrHideWordsInDeveloperText: the Hangul fillers (U+115F, U+1160,
// U+3164, U+FFA0) are letters to Unicode and the Braille pattern blank (U+2800) a symbol, but
// fonts draw them blank. An application name "Login\u3164Sign Security" shows as "Login Sign
// Security" while the reserved-name check read one word "login\u1160sign"; an
// externalUserId "Account\u3164locked…" passed "one word without spaces" and showed as a
// sentence on the dashboard of whoever holds the address; and digits set apart by them, or
// by a minus sign or middle dots, read as a phone number the phone check did not see. Before,
// every name and id below was accepted.
func TestBlankLettersDoNotSplitOrHideWordsInDeveloperText(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		ctx := context.Background()
		dev := e.developer(t)
		for _, name := range []string{
			"Login\u3164Sign Security",            // Hangul filler
			"Login\u115fSign Security",            // Hangul choseong filler
			"Login\uffa0Sign",                     // halfwidth Hangul filler
			"Call 555\u2212010\u22120199",         // minus signs
			"Call 555\u00b7010\u00b70199",         // middle dots
			"Call 555\u2022010\u20220199",         // bullets
			"Call 555_010_0199",                   // underscores
			"Call 555\u3164010\u31640199",         // Hangul fillers
			"Call +1\u2800555\u2800010\u28000199", // Braille blanks
		} {
			if _, err := e.svc.CreateApplication(dev, portal.ApplicationInput{Name: name}); apperr.As(err).Code != apperr.Invalid {
				t.Errorf("create %q: %v, want invalid_request", name, err)
			}
		}
		for _, name := range []string{"Notes 2024", "Season 2024\u22122025", "Route 66 / 101", "한국 노트"} {
			if _, err := e.svc.CreateApplication(dev, portal.ApplicationInput{Name: name}); err != nil {
				t.Errorf("create %q: %v", name, err)
			}
		}

		refused := []portal.ImportUser{
			{ExternalUserID: "Account\u3164locked\u3164call\u3164support", Email: "b1@example.com"},
			{ExternalUserID: "Account\u2800locked\u2800call\u2800support", Email: "b2@example.com"},
			{ExternalUserID: "Account\uffa0locked", Email: "b3@example.com"},
			{ExternalUserID: "Login\u3164Sign-support", Email: "b4@example.com"},
		}
		accepted := []portal.ImportUser{{ExternalUserID: "u-77", Email: "b5@example.com"}, {ExternalUserID: "사용자-12", Email: "b6@example.com"}}
		res, err := e.svc.Import(dev, e.app(t, dev).ID, portal.ImportRequest{Users: append(append([]portal.ImportUser{}, refused...), accepted...), SourceName: "CRM"})
		if err != nil {
			t.Fatalf("import: %v", err)
		}
		if n := res.Source.Counts[portal.ImportInvalidRow]; n != len(refused) {
			t.Errorf("counts %v, want %d invalid rows", res.Source.Counts, len(refused))
		}
		if n := res.Source.Counts[portal.ImportImported]; n != len(accepted) {
			t.Errorf("counts %v, want %d imported rows", res.Source.Counts, len(accepted))
		}
		for _, u := range refused {
			if n, _ := e.db.PendingLink.Query().Where(pendinglink.Email(u.Email)).Count(ctx); n != 0 {
				t.Errorf("id %q was proposed to %s", u.ExternalUserID, u.Email)
			}
		}
	})
}
