package portal_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/ent/application"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/ids"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/portal"
	"loginsign/internal/ratelimit"
	"loginsign/internal/seal"
	"loginsign/internal/store/storetest"
)

// TestWebhookURLRefusesPrivateTargetsOutsideDev: the save-time SSRF check (delivery checks
// again at connect time).
func TestWebhookURLRefusesPrivateTargetsOutsideDev(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	sealer, _ := seal.New([]byte("0123456789abcdef0123456789abcdef"), "webhook secrets")
	owner := db.User.Create().SetGlobalID("AB1234").SetEmail("dev@example.com").SaveX(context.Background())
	ctx := auth.WithSession(context.Background(), auth.Session{UserID: owner.ID, SignedInAt: time.Now()})
	for _, dev := range []bool{false, true} {
		s := &portal.Service{DB: db, WebhookSecrets: sealer, Dev: dev}
		for _, target := range []string{"https://127.0.0.1/hook", "https://10.0.0.8/hook", "https://169.254.169.254/latest", "https://localhost/hook"} {
			_, err := s.CreateApplication(ctx, portal.ApplicationInput{Name: "X", WebhookURL: target})
			if dev && err != nil {
				t.Errorf("dev mode refused %s: %v", target, err)
			}
			if !dev && !apperr.Is(err, apperr.Invalid) {
				t.Errorf("outside dev mode %s: err = %v, want invalid_request", target, err)
			}
		}
	}
}

// TestUpdateApplicationResolvesOnTheRequestContext: UpdateApplication resolves the delivery
// URLs it changes before its transaction, on the caller's context: a private target is refused
// as at creation and nothing is stored; a patch that changes no URL needs no lookup.
func TestUpdateApplicationResolvesOnTheRequestContext(t *testing.T) {
	db := storetest.SQLite(t)
	sealer, _ := seal.New([]byte("0123456789abcdef0123456789abcdef"), "webhook secrets")
	owner := db.User.Create().SetGlobalID("AB1234").SetEmail("dev@example.com").SaveX(context.Background())
	ctx := auth.WithSession(context.Background(), auth.Session{UserID: owner.ID, SignedInAt: time.Now()})
	s := &portal.Service{DB: db, WebhookSecrets: sealer}
	created, err := s.CreateApplication(ctx, portal.ApplicationInput{Name: "X"})
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{"https://localhost/hook", "https://10.0.0.8/hook"} {
		hook := target
		_, err := s.UpdateApplication(ctx, created.Application.ID, portal.ApplicationPatch{WebhookURL: &hook})
		if !apperr.Is(err, apperr.Invalid) {
			t.Errorf("webhook %s: err = %v, want invalid_request", target, err)
		}
		if got := db.Application.GetX(context.Background(), created.Application.ID).WebhookURL; got != "" {
			t.Errorf("webhook %s was stored: %q", target, got)
		}
	}
	name := "Y"
	if _, err := s.UpdateApplication(ctx, created.Application.ID, portal.ApplicationPatch{Name: &name}); err != nil {
		t.Fatalf("a name change: %v", err)
	}
}

// TestAllowedOriginsAreBounded: an application holds at most MaxAllowedOrigins allowed origins,
// like redirect URIs (each embed writes them into its CSP, and the settings body alone let
// ~60,000 through), on creation and on edit alike, and each once: duplicates, also ones that
// differ only in case or a trailing slash, are saved once.
func TestAllowedOriginsAreBounded(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		dev := e.developer(t)
		origins := func(n int) []string {
			out := make([]string, n)
			for i := range out {
				out[i] = fmt.Sprintf("https://app%d.example", i)
			}
			return out
		}
		_, err := e.svc.CreateApplication(dev, portal.ApplicationInput{Name: "Shop", AllowedOrigins: origins(portal.MaxAllowedOrigins + 1)})
		if ae := apperr.As(err); ae.Code != apperr.Invalid || ae.Message != "at most 50 allowed origins" {
			t.Fatalf("create with %d origins: %v, want invalid_request", portal.MaxAllowedOrigins+1, err)
		}
		created, err := e.svc.CreateApplication(dev, portal.ApplicationInput{Name: "Shop", AllowedOrigins: origins(portal.MaxAllowedOrigins)})
		if err != nil || len(created.Application.AllowedOrigins) != portal.MaxAllowedOrigins {
			t.Fatalf("create with %d origins = %v, %v", portal.MaxAllowedOrigins, created, err)
		}
		app := created.Application
		_, err = e.svc.UpdateApplication(dev, app.ID, portal.ApplicationPatch{AllowedOrigins: origins(portal.MaxAllowedOrigins + 1)})
		if ae := apperr.As(err); ae.Code != apperr.Invalid || ae.Message != "at most 50 allowed origins" {
			t.Fatalf("edit to %d origins: %v, want invalid_request", portal.MaxAllowedOrigins+1, err)
		}
		if got := e.db.Application.GetX(context.Background(), app.ID).AllowedOrigins; len(got) != portal.MaxAllowedOrigins {
			t.Fatalf("a refused edit left %d origins", len(got))
		}
		up, err := e.svc.UpdateApplication(dev, app.ID, portal.ApplicationPatch{
			AllowedOrigins: []string{"https://a.example", "HTTPS://A.example/", " https://a.example", "https://b.example"}})
		if err != nil || !slices.Equal(up.Application.AllowedOrigins, []string{"https://a.example", "https://b.example"}) {
			t.Fatalf("edit with duplicates = %v, %v", up, err)
		}
		if got := e.db.Application.GetX(context.Background(), app.ID).AllowedOrigins; !slices.Equal(got, []string{"https://a.example", "https://b.example"}) {
			t.Fatalf("stored origins = %v", got)
		}
	})
}

// TestApplicationNamesCannotPassForLoginSign: an application's name is shown to people on the
// sign-in and consent pages and in the sign-in mail's subject ("Sign in to <name> with
// LoginSign"). A name containing LoginSign, or hiding characters (bidirectional overrides,
// zero-width spaces, controls), is refused at creation and at every edit, and stores nothing.
func TestApplicationNamesCannotPassForLoginSign(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		dev := e.developer(t)
		created, err := e.svc.CreateApplication(dev, portal.ApplicationInput{Name: "Notes"})
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"LoginSign", "loginsign security", "Login-Sign Account Team", "L0GIN SIGN", "Log1n.Sign",
			"Notes\u202egpj.exe", "Zero\u200bWidth", "Tab\tName", "Line\nBreak",
			"G\u043e\u043egle Drive", "\u0420ayPal", "App\u0391le ID", "Micr\u03bfsoft", "L\u043eginSign", "\u0561pple", "\u13aamazon"} {
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
		for _, name := range []string{"Login Notes", "Signage", "Café Légère", "東京ノート", "Яндекс Go", "LINEマンガ", "Αθήνα Notes", "Ελληνικά-Apps", "Ǆemal Đorđe"} {
			if _, err := e.svc.CreateApplication(dev, portal.ApplicationInput{Name: name}); err != nil {
				t.Errorf("create %q: %v", name, err)
			}
		}
	})
}

// TestApplicationsPerOwnerAreBounded: a developer owns at most MaxApplicationsPerOwner
// applications, exactly, however many creations race; past them creation answers
// invalid_request and stores nothing. Another developer's count is their own.
func TestApplicationsPerOwnerAreBounded(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		ctx := context.Background()
		dev, other := e.developer(t), e.developer(t)
		uid, _ := auth.RequireUser(dev)
		const have = portal.MaxApplicationsPerOwner - 5
		apps := make([]*ent.ApplicationCreate, have)
		for i := range apps {
			apps[i] = e.db.Application.Create().SetOwnerID(uid).SetName(fmt.Sprintf("App %d", i)).SetSecretHash(ids.Hash(ids.Secret("t")))
		}
		if _, err := e.db.Application.CreateBulk(apps...).Save(ctx); err != nil {
			t.Fatal(err)
		}
		errs := make(chan error, 20)
		var wg sync.WaitGroup
		for range cap(errs) {
			wg.Go(func() {
				_, err := e.svc.CreateApplication(dev, portal.ApplicationInput{Name: "Race"})
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		created := 0
		for err := range errs {
			if err == nil {
				created++
				continue
			}
			if ae := apperr.As(err); ae.Code != apperr.Invalid || ae.Message != "a developer owns at most 100 applications; delete one first" {
				t.Fatalf("creation past the bound: %v, want invalid_request", err)
			}
		}
		owned := e.db.Application.Query().Where(application.OwnerID(uid)).CountX(ctx)
		if created != 5 || owned != portal.MaxApplicationsPerOwner {
			t.Fatalf("%d created, %d owned; want 5 and %d", created, owned, portal.MaxApplicationsPerOwner)
		}
		if _, err := e.svc.CreateApplication(other, portal.ApplicationInput{Name: "Mine"}); err != nil {
			t.Fatalf("another developer: %v", err)
		}
	})
}

// TestApplicationCreationsPerHour: creations count against the developer's
// DefaultApplicationCreations per hour (after validation: a refused input costs nothing); the
// next answers rate_limited with a Retry-After and stores nothing, and another developer is not
// held up.
func TestApplicationCreationsPerHour(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		ctx := context.Background()
		e.svc.Limiter = ratelimit.New(kvtest.Embedded(t))
		dev, other := e.developer(t), e.developer(t)
		uid, _ := auth.RequireUser(dev)
		if _, err := e.svc.CreateApplication(dev, portal.ApplicationInput{}); !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("create without a name: %v", err)
		}
		for i := range portal.DefaultApplicationCreations.N {
			if _, err := e.svc.CreateApplication(dev, portal.ApplicationInput{Name: fmt.Sprintf("App %d", i)}); err != nil {
				t.Fatalf("creation %d: %v", i+1, err)
			}
		}
		_, err := e.svc.CreateApplication(dev, portal.ApplicationInput{Name: "One more"})
		if ae := apperr.As(err); ae.Code != apperr.RateLimited || ae.RetryAfter < 1 {
			t.Fatalf("creation %d: %v, want rate_limited", portal.DefaultApplicationCreations.N+1, err)
		}
		if n := e.db.Application.Query().Where(application.OwnerID(uid)).CountX(ctx); n != portal.DefaultApplicationCreations.N {
			t.Fatalf("%d applications owned, want %d", n, portal.DefaultApplicationCreations.N)
		}
		if _, err := e.svc.CreateApplication(other, portal.ApplicationInput{Name: "Mine"}); err != nil {
			t.Fatalf("another developer: %v", err)
		}
	})
}
