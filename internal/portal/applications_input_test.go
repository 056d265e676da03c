package portal_test

import (
	"testing"

	"loginsign/internal/apperr"
	"loginsign/internal/portal"
)

// TestApplicationURLsAreRealURLs: every URL an application sets (the links shown to people,
// the delivery URLs, redirect URIs) has a host CheckOrigin would take (no empty DNS label), a
// port from 1 to 65535, and no space, control or format character — url.Parse lets all of
// that through. A bad one is Invalid, on creation and on edit, and changes nothing.
func TestApplicationURLsAreRealURLs(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		dev := e.developer(t)
		app := e.app(t, dev)
		bad := []struct{ name, url string }{
			{"port past 65535", "https://a.example.com:99999/"},
			{"port 0", "https://a.example.com:0/"},
			{"a space in the path", "https://a.example.com/ x"},
			{"a right-to-left override in the path", "https://a.example.com/\u202ex"},
			{"a zero-width space in the path", "https://a.example.com/a\u200bb"},
			{"an empty DNS label", "https://a..com/"},
			{"an empty first label", "https://.a.com/"},
		}
		// with sets field to u in a creation and in a patch.
		with := func(field, u string) (portal.ApplicationInput, portal.ApplicationPatch) {
			in, p := portal.ApplicationInput{Name: "X"}, portal.ApplicationPatch{}
			switch field {
			case "website":
				in.Website, p.Website = u, &u
			case "iconUrl":
				in.IconURL, p.IconURL = u, &u
			case "termsUrl":
				in.TermsURL, p.TermsURL = u, &u
			case "privacyUrl":
				in.PrivacyURL, p.PrivacyURL = u, &u
			case "webhookUrl":
				in.WebhookURL, p.WebhookURL = u, &u
			case "backchannelLogoutUri":
				in.BackchannelLogoutURI, p.BackchannelLogoutURI = u, &u
			case "redirectUris":
				in.RedirectURIs, p.RedirectURIs = []string{u}, []string{u}
			case "postLogoutRedirectUris":
				in.PostLogoutRedirectURIs, p.PostLogoutRedirectURIs = []string{u}, []string{u}
			}
			return in, p
		}
		for _, field := range []string{"website", "iconUrl", "termsUrl", "privacyUrl", "webhookUrl", "backchannelLogoutUri",
			"redirectUris", "postLogoutRedirectUris"} {
			for _, b := range bad {
				t.Run(field+"/"+b.name, func(t *testing.T) {
					in, patch := with(field, b.url)
					if _, err := e.svc.CreateApplication(dev, in); !apperr.Is(err, apperr.Invalid) {
						t.Errorf("create: err = %v, want invalid_request", err)
					}
					if _, err := e.svc.UpdateApplication(dev, app.ID, patch); !apperr.Is(err, apperr.Invalid) {
						t.Errorf("edit: err = %v, want invalid_request", err)
					}
				})
			}
		}
		after := e.db.Application.GetX(t.Context(), app.ID)
		if after.Website != "" || after.IconURL != "" || after.TermsURL != "" || after.PrivacyURL != "" || after.WebhookURL != "" ||
			after.BackchannelLogoutURI != "" || len(after.RedirectUris) != 1 || len(after.PostLogoutRedirectUris) != 0 {
			t.Fatalf("the application after the refusals: %+v", after)
		}
		if n := e.db.Application.Query().CountX(t.Context()); n != 1 {
			t.Fatalf("%d applications after the refusals, want 1", n)
		}

		// What passes: a host in any case, a port in range, a space written as %20.
		site := "https://Shop.Example:8443/a%20b?q=1"
		up, err := e.svc.UpdateApplication(dev, app.ID, portal.ApplicationPatch{Website: &site})
		if err != nil || up.Application.Website != site {
			t.Fatalf("website %q: %v", site, err)
		}
	})
}

// TestApplicationNamesAreComposed: an application's name follows the rule it shares with
// license variant names (displaytext.Line): trimmed, one line, and kept in NFC, so the same
// name is the same string however the keyboard composed it.
func TestApplicationNamesAreComposed(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		dev := e.developer(t)
		created, err := e.svc.CreateApplication(dev, portal.ApplicationInput{Name: " Cafe\u0301 "})
		if err != nil {
			t.Fatal(err)
		}
		if got := created.Application.Name; got != "Café" {
			t.Fatalf("name %+q, want %+q", got, "Café")
		}
		for _, bad := range []string{"Caf\u202eé", "Café\nBar", "Café\u2028Bar"} {
			if _, err := e.svc.CreateApplication(dev, portal.ApplicationInput{Name: bad}); !apperr.Is(err, apperr.Invalid) {
				t.Errorf("name %q: err = %v, want invalid_request", bad, err)
			}
		}
	})
}
