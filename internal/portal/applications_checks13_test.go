package portal_test

import (
	"testing"

	"loginsign/internal/apperr"
	"loginsign/internal/portal"
)

// An application's name goes into the mails LoginSign sends (the sign-in mail's subject,
// team invitations to any address). A host with a port before its path, or with a query or a
// fragment, is a link to a mail program as much as a host with a path: "Acme. Confirm at
// evil.example:8443/confirm" passed the rule against links in names and put the developer's
// link in a mail from LoginSign. A bare domain, with or without a closing question mark,
// stays a name.
func TestApplicationNamesCannotHoldALinkWithAPortOrQuery(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		dev := e.developer(t)
		for _, name := range []string{
			"Acme. Confirm at evil.example:8443/confirm",
			"Acme: verify at evil.example?token=1",
			"Acme: verify at evil.example#confirm",
		} {
			if _, err := e.svc.CreateApplication(dev, portal.ApplicationInput{Name: name}); apperr.As(err).Code != apperr.Invalid {
				t.Errorf("create %q: %v, want invalid_request", name, err)
			}
		}
		for _, name := range []string{"Booking.com?", "Is it Booking.com? Yes", "Notes 2.0", "C# Notes.app", "Web 3.0/Beta"} {
			if _, err := e.svc.CreateApplication(dev, portal.ApplicationInput{Name: name}); err != nil {
				t.Errorf("create %q: %v", name, err)
			}
		}
	})
}
