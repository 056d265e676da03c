package portal_test

import (
	"context"
	"testing"

	"loginsign/internal/apperr"
	"loginsign/internal/portal"
)

// An application's name is written into the mails LoginSign sends: team invitations, to any
// address a developer names, and the sign-in mail, whose subject is its first line. A mail
// program turns a URL, a "www." word, an address or a host with a path into a link there, so
// a name like "Acme: confirm at https://evil.example/confirm" put the developer's link in a
// mail from LoginSign, in LoginSign's words. Such a name is refused at creation and at every
// edit; names with dots, slashes or at signs that are no link are kept.
func TestApplicationNamesCannotHoldALink(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		dev := e.developer(t)
		created, err := e.svc.CreateApplication(dev, portal.ApplicationInput{Name: "Notes"})
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{
			"Acme: confirm at https://evil.example/confirm?token=1",
			"Click here: http://evil.example",
			"Acme ｈｔｔｐｓ：／／evil.example",
			"Acme (www.evil.example)",
			"WWW.EVIL.EXAMPLE",
			"Write to security@evil.example now",
			"Acme. Confirm at evil.example/confirm",
		} {
			if _, err := e.svc.CreateApplication(dev, portal.ApplicationInput{Name: name}); apperr.As(err).Code != apperr.Invalid {
				t.Errorf("create %q: %v, want invalid_request", name, err)
			}
			if _, err := e.svc.UpdateApplication(dev, created.Application.ID, portal.ApplicationPatch{Name: &name}); apperr.As(err).Code != apperr.Invalid {
				t.Errorf("rename to %q: %v, want invalid_request", name, err)
			}
		}
		if got := e.db.Application.GetX(context.Background(), created.Application.ID).Name; got != "Notes" {
			t.Errorf("the name after refused renames: %q", got)
		}
		for _, name := range []string{"Booking.com", "AC/DC Fan Club", "Notes @Home", "Notes 2.0", "Web 3.0/Beta", "Flowww.io"} {
			if _, err := e.svc.CreateApplication(dev, portal.ApplicationInput{Name: name}); err != nil {
				t.Errorf("create %q: %v", name, err)
			}
		}
	})
}
