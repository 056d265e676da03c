package portal_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"loginsign/ent"
	"loginsign/ent/application"
	"loginsign/ent/appmember"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/portal"
)

// wantHostTaken fails t unless err is the refusal of a redirect URI whose host or scheme
// another developer's application registers, naming neither that application nor its owner.
func wantHostTaken(t *testing.T, what string, err error, holder *ent.Application, holderEmail string) {
	t.Helper()
	ae := apperr.As(err)
	if ae.Code != apperr.Conflict || ae.Reason != "redirect_uri_taken" {
		t.Errorf("%s: %v, want conflict redirect_uri_taken", what, err)
		return
	}
	if strings.Contains(ae.Message, holder.ID) || strings.Contains(ae.Message, holder.Name) || strings.Contains(ae.Message, holderEmail) {
		t.Errorf("%s: the refusal names the application that holds the host: %q", what, ae.Message)
	}
}

// email is the address of the developer signed in on ctx.
func (e *portalEnv) email(t *testing.T, ctx context.Context) string {
	t.Helper()
	uid, _ := auth.RequireUser(ctx)
	return e.db.User.GetX(context.Background(), uid).Email
}

// A host (or a native app's private-use scheme) that one developer's application registers as
// a redirect or post-logout redirect URI is where its consent page says the answer goes: no
// other developer's application registers it, in any case, on any port or path, at creation
// or by an edit, and the refusal names neither the application nor its developer. A member of
// the application's team may register it for another application (the same organisation).
func TestARedirectHostBelongsToTheTeamThatRegisteredItFirst(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		owner := e.developer(t)
		created, err := e.svc.CreateApplication(owner, portal.ApplicationInput{Name: "Acme Notes",
			RedirectURIs: []string{"https://acme.example/cb", "com.acme.notes:/cb"}, PostLogoutRedirectURIs: []string{"https://logout.acme.example/bye"}})
		if err != nil {
			t.Fatal(err)
		}
		acme, acmeEmail := created.Application, e.email(t, owner)

		mallory := e.developer(t)
		own, err := e.svc.CreateApplication(mallory, portal.ApplicationInput{Name: "Mallory", RedirectURIs: []string{"https://mallory.example/cb"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range []portal.ApplicationInput{
			{RedirectURIs: []string{"https://acme.example/cb"}},
			{RedirectURIs: []string{"https://mallory.example/cb", "https://ACME.Example:8443/other"}},
			{RedirectURIs: []string{"https://logout.acme.example/cb"}},
			{RedirectURIs: []string{"https://mallory.example/cb"}, PostLogoutRedirectURIs: []string{"https://acme.example/"}},
			{RedirectURIs: []string{"COM.Acme.Notes:/other"}},
		} {
			in.Name = "Acme Notes"
			_, err := e.svc.CreateApplication(mallory, in)
			wantHostTaken(t, fmt.Sprintf("another developer creates an application with %v and %v", in.RedirectURIs, in.PostLogoutRedirectURIs), err, acme, acmeEmail)
			_, err = e.svc.UpdateApplication(mallory, own.Application.ID, portal.ApplicationPatch{RedirectURIs: in.RedirectURIs, PostLogoutRedirectURIs: in.PostLogoutRedirectURIs})
			wantHostTaken(t, fmt.Sprintf("another developer edits their application to %v and %v", in.RedirectURIs, in.PostLogoutRedirectURIs), err, acme, acmeEmail)
		}
		if got := e.db.Application.GetX(context.Background(), own.Application.ID); !slices.Equal(got.RedirectUris, []string{"https://mallory.example/cb"}) || len(got.PostLogoutRedirectUris) != 0 {
			t.Errorf("refused edits stored redirect URIs %v and %v", got.RedirectUris, got.PostLogoutRedirectUris)
		}
		if n := e.db.Application.Query().Where(application.OwnerIDNEQ(acme.OwnerID), application.NameEQ("Acme Notes")).CountX(context.Background()); n != 0 {
			t.Errorf("refused creations stored %d applications", n)
		}

		// A member of Acme's team registers Acme's host and scheme for an application of their own.
		member := e.member(t, acme, appmember.RoleDeveloper)
		mine, err := e.svc.CreateApplication(member, portal.ApplicationInput{Name: "Acme Tasks",
			RedirectURIs: []string{"https://acme.example/tasks/cb", "com.acme.notes:/tasks"}})
		if err != nil {
			t.Fatalf("a member of the team that registered the host creates an application on it: %v", err)
		}
		if _, err := e.svc.UpdateApplication(member, mine.Application.ID, portal.ApplicationPatch{
			PostLogoutRedirectURIs: []string{"https://logout.acme.example/tasks"}}); err != nil {
			t.Errorf("a member of the team adds its post-logout host to their application: %v", err)
		}
		// Mallory still cannot, though two applications now hold the host.
		_, err = e.svc.CreateApplication(mallory, portal.ApplicationInput{Name: "Acme Tasks", RedirectURIs: []string{"https://acme.example/tasks/cb"}})
		wantHostTaken(t, "another developer after a team member's application", err, mine.Application, e.email(t, member))
	})
}

// Loopback redirect URIs (127.0.0.1, [::1], localhost) are each person's own machine, where
// native apps listen on ports of their own (RFC 8252 §7.3): any developer registers them, also
// ones another developer's application has.
func TestLoopbackRedirectURIsAreShared(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		loopback := []string{"http://127.0.0.1:8080/cb", "http://localhost/cb", "http://[::1]:3000/cb", "https://localhost/cb"}
		for i := range 2 {
			dev := e.developer(t)
			if _, err := e.svc.CreateApplication(dev, portal.ApplicationInput{Name: "CLI", RedirectURIs: loopback, PostLogoutRedirectURIs: loopback}); err != nil {
				t.Errorf("developer %d registers loopback redirect URIs: %v", i+1, err)
			}
			created, err := e.svc.CreateApplication(dev, portal.ApplicationInput{Name: "Desktop"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.svc.UpdateApplication(dev, created.Application.ID, portal.ApplicationPatch{RedirectURIs: loopback}); err != nil {
				t.Errorf("developer %d adds loopback redirect URIs: %v", i+1, err)
			}
		}
	})
}

// An application keeps the redirect URIs it has on every edit, even on a host another
// developer's application registers too (as two applications could before hosts were
// checked), and may add paths on a host it has; a host it does not have, which another
// developer's application registers, is refused.
func TestAnApplicationKeepsTheRedirectHostsItHas(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		ctx := context.Background()
		first, second := e.developer(t), e.developer(t)
		a := e.app(t, first)
		b, err := e.svc.CreateApplication(second, portal.ApplicationInput{Name: "Legacy", RedirectURIs: []string{"https://legacy-b.example/cb"}})
		if err != nil {
			t.Fatal(err)
		}
		// Written as before the check: b shares a's host, and both share another one.
		shared := a.RedirectUris[0]
		e.db.Application.UpdateOneID(a.ID).SetRedirectUris([]string{shared, "https://both.example/a"}).ExecX(ctx)
		e.db.Application.UpdateOneID(b.Application.ID).SetRedirectUris([]string{"https://legacy-b.example/cb", shared, "https://both.example/b"}).ExecX(ctx)

		kept := []string{"https://legacy-b.example/cb", shared, "https://both.example/b", "https://both.example/b2"}
		up, err := e.svc.UpdateApplication(second, b.Application.ID, portal.ApplicationPatch{Name: ptr("Legacy 2"), RedirectURIs: kept,
			PostLogoutRedirectURIs: []string{"https://both.example/bye"}})
		if err != nil {
			t.Fatalf("an edit keeping the application's hosts, shared with another developer's: %v", err)
		}
		if !slices.Equal(up.Application.RedirectUris, kept) {
			t.Errorf("redirect URIs after the edit: %v, want %v", up.Application.RedirectUris, kept)
		}
		if _, err := e.svc.UpdateApplication(first, a.ID, portal.ApplicationPatch{Name: ptr("Shop 2"),
			RedirectURIs: []string{shared, "https://both.example/a", "https://both.example/a2"}}); err != nil {
			t.Errorf("the other application's edit keeping its shared hosts: %v", err)
		}
		_, err = e.svc.UpdateApplication(first, a.ID, portal.ApplicationPatch{RedirectURIs: []string{shared, "https://both.example/a", "https://legacy-b.example/a"}})
		wantHostTaken(t, "an edit adding a host of another developer's application", err, b.Application, e.email(t, second))
		// A host given up is another developer's again.
		if _, err := e.svc.UpdateApplication(first, a.ID, portal.ApplicationPatch{RedirectURIs: []string{shared}}); err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.UpdateApplication(first, a.ID, portal.ApplicationPatch{RedirectURIs: []string{shared, "https://both.example/a"}})
		wantHostTaken(t, "an edit adding back a shared host the application gave up", err, b.Application, e.email(t, second))
	})
}

// Developers racing to register one host (creating applications, or adding it to theirs by an
// edit) take turns: exactly one gets it, each other is refused with redirect_uri_taken.
func TestOneOfDevelopersRacingForAHostGetsIt(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		const creators, editors = 4, 4
		type racer struct {
			ctx context.Context
			app *ent.Application // nil: creates one
		}
		var racers []racer
		for range creators {
			racers = append(racers, racer{ctx: e.developer(t)})
		}
		for range editors {
			dev := e.developer(t)
			racers = append(racers, racer{ctx: dev, app: e.app(t, dev)})
		}
		const contested = "https://contested.example/cb"
		errs := make(chan error, len(racers))
		var wg sync.WaitGroup
		for _, r := range racers {
			wg.Go(func() {
				var err error
				if r.app == nil {
					_, err = e.svc.CreateApplication(r.ctx, portal.ApplicationInput{Name: "Racer", RedirectURIs: []string{contested}})
				} else {
					_, err = e.svc.UpdateApplication(r.ctx, r.app.ID, portal.ApplicationPatch{RedirectURIs: append(r.app.RedirectUris, contested)})
				}
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		won := 0
		for err := range errs {
			if err == nil {
				won++
				continue
			}
			if ae := apperr.As(err); ae.Code != apperr.Conflict || ae.Reason != "redirect_uri_taken" {
				t.Errorf("a racer: %v, want conflict redirect_uri_taken", err)
			}
		}
		holders := 0
		for _, a := range e.db.Application.Query().AllX(context.Background()) {
			if slices.Contains(a.RedirectUris, contested) {
				holders++
			}
		}
		if won != 1 || holders != 1 {
			t.Errorf("%d racers got the host and %d applications hold it; want 1 and 1", won, holders)
		}
	})
}

// A redirect or post-logout redirect URI on LoginSign's own site would make the consent page
// say the answer goes to LoginSign itself: it is refused, on any port of LoginSign's host; on a
// loopback LoginSign (development), only LoginSign's own origin is.
func TestRedirectURIsOnLoginSignsOwnSiteAreRefused(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		dev := e.developer(t)
		e.svc.BaseURL = "https://loginsign.example"
		for _, in := range []portal.ApplicationInput{
			{RedirectURIs: []string{"https://loginsign.example/dashboard"}},
			{RedirectURIs: []string{"https://LoginSign.Example:8443/cb"}},
			{RedirectURIs: []string{"https://app.example/cb"}, PostLogoutRedirectURIs: []string{"https://loginsign.example/login"}},
		} {
			in.Name = "Account check"
			if _, err := e.svc.CreateApplication(dev, in); apperr.As(err).Code != apperr.Invalid || !strings.Contains(err.Error(), "LoginSign's own site") {
				t.Errorf("create with %v and %v: %v, want invalid_request", in.RedirectURIs, in.PostLogoutRedirectURIs, err)
			}
		}
		created, err := e.svc.CreateApplication(dev, portal.ApplicationInput{Name: "Account check", RedirectURIs: []string{"https://app.example/cb"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.UpdateApplication(dev, created.Application.ID, portal.ApplicationPatch{
			RedirectURIs: []string{"https://app.example/cb", "https://loginsign.example/cb"}}); apperr.As(err).Code != apperr.Invalid {
			t.Errorf("an edit adding a redirect URI on LoginSign's site: %v, want invalid_request", err)
		}

		e.svc.BaseURL = "http://127.0.0.1:4000"
		if _, err := e.svc.CreateApplication(dev, portal.ApplicationInput{Name: "Account check", RedirectURIs: []string{"http://127.0.0.1:4000/dashboard"}}); apperr.As(err).Code != apperr.Invalid {
			t.Errorf("a redirect URI on a loopback LoginSign's origin: %v, want invalid_request", err)
		}
		if _, err := e.svc.CreateApplication(dev, portal.ApplicationInput{Name: "CLI", RedirectURIs: []string{"http://127.0.0.1:8080/cb", "http://localhost:4000/cb"}}); err != nil {
			t.Errorf("loopback redirect URIs on other ports or hosts than a loopback LoginSign's: %v", err)
		}
	})
}

// The reserved name LoginSign is looked for in how a name reads, not in its code points:
// compatibility letters (fullwidth, mathematical), small capitals, accents, a dotless ı, a
// capital I for the l, and digits for letters are refused; names that only share letters with
// it are not.
func TestLookalikeSpellingsOfLoginSignAreReserved(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		dev := e.developer(t)
		for _, name := range []string{
			"ＬｏｇｉｎＳｉｇｎ Security", "𝐋𝐨𝐠𝐢𝐧𝐒𝐢𝐠𝐧", "𝖑𝖔𝖌𝖎𝖓𝖘𝖎𝖌𝖓", "ʟᴏɢɪɴꜱɪɢɴ", "ʟᴏɢɪɴ ꜱɪɢɴ Team", "LoginSıgn Account Team",
			"Lógín Sígn", "IoginSign", "L0G1N SIGN", "|ogin Sign", "Loginꜱign", "LOGINSİGN",
		} {
			if _, err := e.svc.CreateApplication(dev, portal.ApplicationInput{Name: name}); apperr.As(err).Code != apperr.Invalid {
				t.Errorf("create %q: %v, want invalid_request", name, err)
			}
		}
		for _, name := range []string{"Login Notes", "Sign In Sheets", "Blog Insights", "Logic Signals", "ʟᴏɢ Viewer", "Ｎｏｔｅｓ"} {
			if _, err := e.svc.CreateApplication(dev, portal.ApplicationInput{Name: name}); err != nil {
				t.Errorf("create %q: %v", name, err)
			}
		}
	})
}
