package server

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"loginsign/ent"
	"loginsign/ent/licensecode"
	"loginsign/internal/auth"
	"loginsign/internal/connections"
	"loginsign/internal/portal"
	"loginsign/internal/store/storetest"
)

// TestPortalInBrowser drives the Developer Portal in headless Chromium on every backend: each
// screen shows what the server holds after every action (variant counts after generating codes,
// the delivery log after a test webhook, a redirect URI saved by Add), errors appear next to the
// control they are about (aria-invalid, aria-describedby, focus), the overview has headline
// numbers and readable chart labels, and no portal page is wider than a 390 px phone.
func TestPortalInBrowser(t *testing.T) {
	for name, dbURL := range storetest.URLs(t) {
		t.Run(name, func(t *testing.T) { portalStory(t, dbURL, name == "sqlite") })
	}
}

func portalStory(t *testing.T, dbURL string, photograph bool) {
	ls := startLiveServer(t, dbURL)
	b := newChrome(t)
	if !photograph {
		b.shots = t.TempDir()
	}
	defer b.report()
	sample := startSampleApp(t, ls.URL)
	ctx := context.Background()

	dev, err := ls.identity.CreateUser(ctx, "dev@example.com", "Dana Developer")
	if err != nil {
		t.Fatal(err)
	}
	devCtx := auth.WithSession(ctx, auth.Session{UserID: dev.ID, SignedInAt: time.Now()})
	created, err := ls.portal.CreateApplication(devCtx, portal.ApplicationInput{
		Name: "Sample Notes", Website: sample.URL, RedirectURIs: []string{sample.RedirectURI()},
		WebhookURL: sample.URL + "/webhook", AllowedOrigins: []string{sample.SameSiteURL},
	})
	if err != nil {
		t.Fatal(err)
	}
	appID := created.Application.ID
	sample.setClient(appID, created.ClientSecret)
	empty, err := ls.portal.CreateApplication(devCtx, portal.ApplicationInput{Name: "Quiet App", RedirectURIs: []string{"https://quiet.example/cb"}})
	if err != nil {
		t.Fatal(err)
	}

	// Three people connected the way sign-in leaves them, with sign-ins and regions.
	now := time.Now()
	var conns []*ent.AppConnection
	for i, p := range []struct {
		email, name, region string
		logins              int
	}{{"ann@example.com", "Ann Example", "DE", 3}, {"bob@example.com", "Bob Example", "FR", 1}, {"cy@example.com", "Cy Example", "DE", 12}} {
		u, err := ls.identity.CreateUser(ctx, p.email, p.name)
		if err != nil {
			t.Fatal(err)
		}
		var c *ent.AppConnection
		err = ls.db.Tx(ctx, func(tx *ent.Tx) error {
			var err error
			c, err = connections.Create(ctx, tx, u.ID, appID, ls.cfg.RelayDomain, now.Add(-time.Duration(i*50)*time.Hour), func(cc *ent.AppConnectionCreate) {
				cc.SetLoginCount(p.logins).SetRegion(p.region).SetLastSessionAt(now.Add(-time.Duration(i*30) * time.Hour))
			})
			if err != nil {
				return err
			}
			return tx.Consent.Create().SetConnectionID(c.ID).SetScopes([]string{"openid", "email", "profile"}).Exec(ctx)
		})
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}

	devTab := b.tab("portal developer")
	ls.signInByCookie(t, devTab, dev.ID)

	t.Run("overview shows headline numbers and charts with readable labels", func(t *testing.T) {
		devTab.measure(t, "portal-overview", ls.URL+"/portal?app="+appID, "#headline .stat")
		devTab.waitFor(t, `document.querySelector('#signups .x-axis span')`)
		stats := evalIn[[]string](t, devTab, `[...document.querySelectorAll('#headline .headline')].map(h => h.innerText.replace(/\s+/g, " ").trim())`)
		if len(stats) != 4 || stats[0] != "3 connected users" || !strings.HasSuffix(stats[1], "sign-ups, last 30 days") || !strings.HasSuffix(stats[2], "active, last 30 days") {
			t.Fatalf("headline numbers: %q", stats)
		}
		if signups, _ := strconv.Atoi(strings.Fields(stats[1])[0]); signups != 3 {
			t.Errorf("headline sign-ups %q, want 3", stats[1])
		}
		// Dates along the axis are HTML text at a readable size, not SVG text scaled down.
		ticks := evalIn[int](t, devTab, `document.querySelectorAll('#signups .x-axis span').length`)
		svgText := evalIn[int](t, devTab, `document.querySelectorAll('.chart svg text').length`)
		if ticks != 5 || svgText != 0 {
			t.Errorf("sign-up chart: %d date labels (want 5), %d SVG text labels (want 0)", ticks, svgText)
		}
		// The sessions distribution and the license states the API computes are charted.
		if n := evalIn[int](t, devTab, `document.querySelectorAll('#sessions .bars li').length`); n != 7 {
			t.Errorf("sessions distribution has %d buckets, want 7", n)
		}
		if !evalIn[bool](t, devTab, `!!document.querySelector('#license-states')`) {
			t.Error("no license card")
		}
		// A tooltip names the day and its count when the chart has focus.
		devTab.do(t, chromedp.Focus(`#signups .plot`))
		devTab.waitFor(t, `!document.querySelector('#signups .tip').hidden`)
		if tip := devTab.text(t, `#signups .tip`); !strings.Contains(tip, ":") || !strings.Contains(tip, "sign-up") {
			t.Errorf("tooltip %q", tip)
		}
		devTab.shot(t, "portal-overview")
		devTab.phoneFits(t, "portal overview")
		devTab.darkShot(t, "portal-overview")

		// An app nobody signed in to yet: one helpful card, not three empty charts.
		devTab.open(t, ls.URL+"/portal?app="+empty.Application.ID, "#analytics-empty")
		if n := evalIn[int](t, devTab, `document.querySelectorAll('.line-chart').length`); n != 0 {
			t.Errorf("%d empty charts shown", n)
		}
		devTab.shot(t, "portal-overview-empty")
	})

	t.Run("licenses: counts follow generated codes; errors next to their field; variants can be edited", func(t *testing.T) {
		devTab.measure(t, "portal-licenses", ls.URL+"/portal/licenses?app="+appID, "#variant-form")
		// An empty name is refused next to the Name field.
		devTab.do(t, chromedp.Click(`#variant-form button[type=submit]`))
		devTab.expectFieldError(t, "variant-name")
		devTab.do(t, chromedp.SendKeys(`#variant-name`, "Pro"), chromedp.SendKeys(`#variant-description`, "Everything, forever"),
			chromedp.Click(`#variant-form button[type=submit]`))
		devTab.waitFor(t, `document.querySelector('#generate-variant option') && !document.querySelector('#variant-name[aria-invalid]')`)
		// A count out of range: inline, and nothing generated.
		devTab.do(t, chromedp.SetValue(`#generate-count`, "0"), chromedp.Click(`#generate-form button[type=submit]`))
		devTab.expectFieldError(t, "generate-count")
		devTab.do(t, chromedp.SetValue(`#generate-count`, "12"), chromedp.Click(`#generate-form button[type=submit]`), chromedp.WaitVisible(`#generated-codes`))
		devTab.waitFor(t, `document.querySelector('[data-variant="Pro"] [data-counts]').textContent.startsWith("12 unused · 0 active")`)
		// The counts are drawn before the form reports its outcome: wait for the report too.
		devTab.waitFor(t, `document.querySelector('#generate-form .form-status').textContent !== ""`)
		if got := devTab.text(t, `#generate-form .form-status`); got != "12 codes generated." {
			t.Errorf("generate says %q next to its button", got)
		}
		if lbl := evalIn[string](t, devTab, `document.querySelector('#generated-codes').labels[0].textContent`); lbl != "Generated codes" {
			t.Errorf("generated codes are labelled %q", lbl)
		}
		if n := evalIn[int](t, devTab, `document.querySelectorAll('#generate-form [data-copy]').length`); n != 1 {
			t.Errorf("%d copy buttons for the generated codes", n)
		}
		devTab.waitFor(t, `document.querySelector('[data-slot="code-count"]').textContent === "12 codes"`)
		// Uploading codes and deleting one update the counts too.
		devTab.do(t, chromedp.SendKeys(`#upload-codes`, "SHOP-2026-0001\nSHOP-2026-0002\n"), chromedp.Click(`#upload-form button[type=submit]`))
		devTab.waitFor(t, `document.querySelector('[data-variant="Pro"] [data-counts]').textContent.startsWith("14 unused")`)
		if got := devTab.text(t, `#upload-form .alert`); got != "2 added, 0 duplicates, 0 invalid." {
			t.Errorf("upload says %q", got)
		}
		devTab.shot(t, "portal-licenses-generated")
		// Edit the variant in place.
		devTab.do(t, chromedp.Click(`//li[@data-variant="Pro"]//button[text()="Edit"]`), chromedp.WaitVisible(`[data-edit-variant="Pro"]`))
		devTab.clear(t, `[data-edit-variant="Pro"] input[type=text]`)
		devTab.do(t, chromedp.Click(`[data-edit-variant="Pro"] button[type=submit]`))
		devTab.waitFor(t, `document.querySelector('[data-edit-variant="Pro"] input[aria-invalid=true]')`)
		devTab.do(t, chromedp.SendKeys(`[data-edit-variant="Pro"] input[type=text]`, "Pro Plus"), chromedp.Click(`[data-edit-variant="Pro"] button[type=submit]`))
		devTab.waitFor(t, `document.querySelector('[data-variant="Pro Plus"] [data-counts]') && document.querySelector('[data-variant="Pro Plus"] [data-counts]').textContent.startsWith("14 unused")`)
		devTab.phoneFits(t, "portal licenses")
		devTab.phoneActionsVisible(t, "#codes tbody tr")
		devTab.shot(t, "portal-licenses-edited")
	})

	t.Run("app settings: redirect URI Add saves; Check agrees; errors inline; reset secret with Copy", func(t *testing.T) {
		devTab.measure(t, "portal-app-settings", ls.URL+"/portal/apps/"+appID, "#redirects")
		// A refused URI: the server's reason next to the input, which keeps focus.
		devTab.do(t, chromedp.SendKeys(`#new-uri`, "http://notes.example/cb"), chromedp.Click(`#redirects button[type=submit]`))
		devTab.expectFieldError(t, "new-uri")
		added := "https://notes.example/oauth/cb"
		devTab.do(t, chromedp.SetValue(`#new-uri`, added), chromedp.Click(`#redirects button[type=submit]`))
		devTab.waitFor(t, `document.querySelector('#redirect-list li[data-uri="`+added+`"]') && !document.querySelector('#new-uri[aria-invalid]')`)
		app, err := ls.db.Application.Get(ctx, appID)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(strings.Join(app.RedirectUris, " "), added) {
			t.Fatalf("Add did not save: the app has %v", app.RedirectUris)
		}
		// After a reload it is still listed, and Check finds it registered.
		devTab.open(t, ls.URL+"/portal/apps/"+appID, `#redirect-list li[data-uri="`+added+`"] button`)
		devTab.do(t, chromedp.Click(`#redirect-list li[data-uri="`+added+`"] button`))
		devTab.waitFor(t, `document.querySelector('[data-health="`+added+`"]').textContent === "ok"`)
		// A settings error is shown next to its field; fixing it clears the error.
		devTab.do(t, chromedp.SetValue(`#settings input[type=url]`, "ftp://nope"), chromedp.Click(`#settings button[type=submit]`))
		devTab.waitFor(t, `document.querySelector('#settings input[type=url][aria-invalid=true]') && document.activeElement === document.querySelector('#settings input[type=url]')`)
		devTab.shot(t, "portal-app-settings-error")
		devTab.do(t, chromedp.SetValue(`#settings input[type=url]`, sample.URL), chromedp.Click(`#settings button[type=submit]`))
		devTab.waitFor(t, `!document.querySelector('#settings [aria-invalid]') && !document.querySelector('.field-error') && document.querySelector('#settings .form-status').textContent === "Settings saved."`)
		// Requiring pushed authorization requests is a checkbox of the same form.
		devTab.do(t, chromedp.Click(`#settings input[name=requirePushedAuthorizationRequests]`), chromedp.Click(`#settings button[type=submit]`))
		devTab.waitFor(t, `document.querySelector('#settings .form-status').textContent === "Settings saved." && !document.querySelector('#settings button[type=submit][disabled]')`)
		if app, err := ls.db.Application.Get(ctx, appID); err != nil || !app.RequirePushedAuthorizationRequests {
			t.Fatalf("the checked box did not save: %+v, %v", app, err)
		}
		devTab.open(t, ls.URL+"/portal/apps/"+appID, `#settings input[name=requirePushedAuthorizationRequests]:checked`)
		devTab.do(t, chromedp.Click(`#settings input[name=requirePushedAuthorizationRequests]`), chromedp.Click(`#settings button[type=submit]`))
		devTab.waitFor(t, `document.querySelector('#settings .form-status').textContent === "Settings saved." && !document.querySelector('#settings button[type=submit][disabled]')`)
		if app, err := ls.db.Application.Get(ctx, appID); err != nil || app.RequirePushedAuthorizationRequests {
			t.Fatalf("the cleared box did not save: %+v, %v", app, err)
		}
		// An application whose deletion failed half-way says so above everything else.
		if err := ls.db.Application.UpdateOneID(appID).SetDeletingSince(time.Now()).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		devTab.open(t, ls.URL+"/portal/apps/"+appID, `#deleting`)
		if err := ls.db.Application.UpdateOneID(appID).ClearDeletingSince().Exec(ctx); err != nil {
			t.Fatal(err)
		}
		devTab.open(t, ls.URL+"/portal/apps/"+appID, `#settings`)
		if evalIn[bool](t, devTab, `!!document.querySelector('#deleting')`) {
			t.Error("an application not being deleted is said to be")
		}
		// Reset the client secret: the result sits under its button with a Copy button.
		devTab.do(t, chromedp.Click(`//button[text()="Reset client secret"]`), chromedp.Click(`//button[starts-with(text(), "Confirm: the old secret")]`),
			chromedp.WaitVisible(`#client-secret-result [data-secret="Client secret"]`))
		if s := devTab.text(t, `#client-secret-result [data-secret="Client secret"]`); !strings.HasPrefix(s, "lss_") {
			t.Fatalf("reset secret %q", s)
		}
		if !evalIn[bool](t, devTab, `!!document.querySelector('#client-secret-result [data-copy]') && document.activeElement.closest('#client-secret-result') !== null`) {
			t.Error("the new secret has no Copy button or does not have focus")
		}
		devTab.shot(t, "portal-app-settings-secret")
		devTab.phoneFits(t, "portal app settings")
	})

	t.Run("sync: a test webhook appears in the delivery log without a reload", func(t *testing.T) {
		devTab.measure(t, "portal-synchronisation", ls.URL+"/portal/synchronisation?app="+appID, "#sync-tests button")
		devTab.waitFor(t, `document.querySelector('#deliveries .empty-row')`)
		devTab.do(t, chromedp.Click(`//button[text()="Send a test webhook"]`))
		sample.waitWebhook(t, "ping")
		devTab.waitFor(t, `document.querySelector('#deliveries tr[data-event="ping"][data-status="delivered"]') && !document.querySelector('#deliveries .empty-row')`)
		if nav := evalIn[string](t, devTab, `document.querySelector('nav a[aria-current=page]').textContent`); nav != "Sync & import" {
			t.Errorf("the nav names this page %q", nav)
		}
		devTab.shot(t, "portal-synchronisation")
		devTab.phoneFits(t, "portal sync and import")
		devTab.phoneActionsVisible(t, "#deliveries tbody tr")
	})

	t.Run("import from a CSV file, listed under past imports, rolled back there", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "users.csv")
		if err := os.WriteFile(file, []byte("externalUserId,email,name\n42,ann@example.com,Ann Example\n43,nobody@example.com,No One\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		devTab.open(t, ls.URL+"/portal/synchronisation?app="+appID+"#import-existing-users", "#import-form")
		devTab.do(t, chromedp.Click(`#import-form button[type=submit]`))
		devTab.expectFieldError(t, "import-csv")
		devTab.do(t, chromedp.SendKeys(`#import-name`, "Old accounts"), chromedp.SetUploadFiles(`#import-file`, []string{file}))
		devTab.waitFor(t, `document.querySelector('#import-csv').value.includes("nobody@example.com")`)
		devTab.do(t, chromedp.Click(`#import-form button[type=submit]`))
		devTab.waitFor(t, `document.querySelectorAll('#import-results tbody tr').length === 2 && document.querySelector('#past-imports tr[data-import="Old accounts"]')`)
		devTab.shot(t, "portal-import")
		devTab.do(t, chromedp.Click(`#past-imports tr[data-import="Old accounts"] button`), chromedp.Click(`#past-imports tr[data-import="Old accounts"] button`))
		devTab.waitFor(t, `document.querySelector('#imports-status').textContent.includes("rolled back") && document.querySelector('#past-imports tr[data-import="Old accounts"]').textContent.includes("rolled back")`)
		if got := devTab.text(t, "#imports-status"); got != "Import rolled back: 2 proposals withdrawn, 0 connections removed." {
			t.Errorf("rollback says %q", got)
		}
		devTab.shot(t, "portal-past-imports")
	})

	t.Run("users: filters, counts, the developer's address record and an email-sync request", func(t *testing.T) {
		devTab.measure(t, "portal-users", ls.URL+"/portal/users?app="+appID, "#users")
		devTab.waitFor(t, `document.querySelector('[data-slot="user-count"]').textContent === "3 users"`)
		devTab.do(t, chromedp.Click(`#user-filters summary`), chromedp.SendKeys(`#filter-region`, "FR"), chromedp.Click(`#user-filters button[type=submit]`))
		devTab.waitFor(t, `document.querySelector('[data-slot="user-count"]').textContent === "1 user" && document.querySelectorAll('[data-user]').length === 1`)
		devTab.clear(t, `#filter-region`)
		devTab.do(t, chromedp.SetValue(`#filter-status`, "blocked"), chromedp.Click(`#user-filters button[type=submit]`))
		devTab.waitFor(t, `document.querySelector('[data-slot="user-count"]').textContent === "0 users" && document.querySelector('#users .empty').textContent === "No user matches these filters."`)
		devTab.clear(t, `#filter-status`)
		devTab.do(t, chromedp.Click(`#user-filters button[type=submit]`))
		devTab.waitFor(t, `document.querySelectorAll('[data-user]').length === 3`)
		devTab.phoneFits(t, "portal users")
		devTab.phoneActionsVisible(t, "#users tbody tr[data-user]")
		devTab.shot(t, "portal-users")

		ann := conns[0]
		devTab.do(t, chromedp.Click(`//tr[td[contains(., "Ann Example")]]//button[text()="Email…"]`), chromedp.WaitVisible(`#app-email-`+ann.ID))
		devTab.do(t, chromedp.SendKeys(`#app-email-`+ann.ID, "ann@corp.example"), chromedp.Click(`//input[@id="app-email-`+ann.ID+`"]/ancestor::form//button`))
		devTab.waitFor(t, `document.querySelector('#app-email-`+ann.ID+`').closest('form').querySelector('.form-status').textContent === "Saved."`)
		devTab.waitFor(t, `[...document.querySelectorAll('tr[data-user]')].some(tr => tr.textContent.includes("Ann Example") && tr.querySelector('[data-email]').textContent.includes("your record: ann@corp.example"))`)
		devTab.do(t, chromedp.Click(`//input[@id="sync-email-`+ann.ID+`"]/ancestor::form//button`))
		devTab.expectFieldError(t, "sync-email-"+ann.ID)
		devTab.do(t, chromedp.SendKeys(`#sync-email-`+ann.ID, "ann.new@example.com"), chromedp.Click(`//input[@id="sync-email-`+ann.ID+`"]/ancestor::form//button`))
		devTab.waitFor(t, `document.querySelector('#sync-email-`+ann.ID+`').closest('form').querySelector('.form-status').textContent.startsWith("Request sent.")`)
		devTab.shot(t, "portal-users-email")
		c, err := ls.db.AppConnection.Get(ctx, ann.ID)
		if err != nil || c.DeveloperEmail != "ann@corp.example" {
			t.Fatalf("developer email %+v (%v)", c, err)
		}
		u, err := ls.identity.User(ctx, ann.UserID)
		if err != nil || u.Email != "ann@example.com" {
			t.Fatalf("the request changed the person's address before they confirmed: %+v (%v)", u, err)
		}
		ls.nextLink(t, "ann.new@example.com")
	})
	t.Run("dashboard: a refused code is explained next to the code field, also on a phone", func(t *testing.T) {
		annTab := b.tab("ann")
		ls.signInByCookie(t, annTab, conns[0].UserID)
		annTab.open(t, ls.URL+"/dashboard", "#redeem-form")
		annTab.waitFor(t, `document.querySelector('#redeem-app option')`)
		annTab.do(t, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
		annTab.do(t, chromedp.SendKeys(`#redeem-code`, "NOPE-0000-0000"), chromedp.Click(`#redeem-form button[type=submit]`))
		annTab.expectFieldError(t, "redeem-code")
		gap := evalIn[float64](t, annTab, `Math.abs(document.querySelector('#redeem-code-error').getBoundingClientRect().top - document.querySelector('#redeem-form button[type=submit]').getBoundingClientRect().top)`)
		if gap > 200 {
			t.Errorf("on a phone the redeem error is %.0f px from the Redeem button", gap)
		}
		if s := evalIn[string](t, annTab, `document.querySelector('#status').textContent`); s != "" {
			t.Errorf("the page-wide status box says %q as well", s)
		}
		annTab.shot(t, "dashboard-redeem-error")

		// A good code: redeemed, and the code field is no longer marked invalid.
		lc, err := ls.db.LicenseCode.Query().Where(licensecode.ApplicationID(appID), licensecode.StateEQ(licensecode.StateUNUSED)).First(ctx)
		if err != nil {
			t.Fatal(err)
		}
		annTab.clear(t, "#redeem-code")
		annTab.do(t, chromedp.SendKeys(`#redeem-code`, lc.Code), chromedp.Click(`#redeem-form button[type=submit]`))
		annTab.waitFor(t, `document.querySelector('#redeem-form .form-status').textContent === "Code redeemed." && !document.querySelector('#redeem-code[aria-invalid]') && !document.querySelector('.field-error')`)
		annTab.waitFor(t, `document.querySelector('#licenses').textContent.includes("`+lc.Code+`")`)
	})

	t.Run("licenses: deleting a variant whose codes are in use asks before ending those licenses", func(t *testing.T) {
		devTab.open(t, ls.URL+"/portal/licenses?app="+appID, `[data-variant="Pro Plus"] [data-counts]`)
		devTab.waitFor(t, `document.querySelector('[data-variant="Pro Plus"] [data-counts]').textContent.includes("1 active")`)
		devTab.do(t, chromedp.Click(`//li[@data-variant="Pro Plus"]//button[text()="Delete"]`), chromedp.Click(`//li[@data-variant="Pro Plus"]//button[text()="Confirm delete"]`))
		devTab.waitFor(t, `document.querySelector('#variants .form-status .alert.warn')`)
		if n, _ := ls.db.LicenseVariant.Query().Count(ctx); n != 1 {
			t.Fatalf("%d variants after a refused delete, want 1", n)
		}
		devTab.shot(t, "portal-licenses-delete-in-use")
		devTab.do(t, chromedp.Click(`//button[text()="Delete Pro Plus and its codes"]`), chromedp.Click(`//button[text()="Confirm: end those licenses"]`))
		devTab.waitFor(t, `document.querySelector('#variants .form-status').textContent === "Pro Plus and its codes were deleted." && !document.querySelector('[data-variant]')`)
		devTab.waitFor(t, `document.querySelector('[data-slot="code-count"]').textContent === "0 codes"`)
	})

	t.Run("the user-menu widget opens on screen at the right edge of a phone", func(t *testing.T) {
		menuTab := b.tab("menu")
		menuTab.do(t, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
		menuTab.open(t, sample.URL+"/", "#menu summary")
		evalIn[bool](t, menuTab, `(document.querySelector('#menu').style.cssText = "position: absolute; right: 4px; top: 4px", true)`)
		menuTab.do(t, chromedp.Click(`#menu summary`), chromedp.WaitVisible(`.loginsign-menu-panel`))
		// The widget places the panel when the menu's toggle event runs, a task after the click.
		menuTab.waitFor(t, `(() => { const r = document.querySelector('.loginsign-menu-panel').getBoundingClientRect(); return r.left >= 0 && r.right <= document.documentElement.clientWidth; })()`)
		r := evalIn[[]float64](t, menuTab, `(() => { const r = document.querySelector('.loginsign-menu-panel').getBoundingClientRect(); return [r.left, r.right, document.documentElement.clientWidth]; })()`)
		if r[0] < 0 || r[1] > r[2] {
			t.Errorf("the open user menu spans %.0f–%.0f px in a %.0f px viewport", r[0], r[1], r[2])
		}
		// The widget itself passes axe-core (the sample page around it is the test's own).
		found, err := chromedp.Run(menuTab.ctx, chromedp.Evaluate[[]string](`axe.run(document.querySelector('#menu'), {resultTypes: ["violations"], preload: false,
			rules: {"label-content-name-mismatch": {enabled: true}}}).then(r => r.violations.map(v => v.id + ": " + v.help))`, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("axe-core on the user menu: %v", err)
		}
		if len(found) > 0 {
			t.Errorf("axe-core on the user-menu widget: %v", found)
		}
	})
}

// expectFieldError waits until the control #id is marked invalid, is described by an error
// message shown right after it, and has focus.
func (tb *tab) expectFieldError(t *testing.T, id string) {
	t.Helper()
	sel := `document.getElementById(` + strconv.Quote(id) + `)`
	tb.waitFor(t, sel+`.getAttribute('aria-invalid') === 'true'`)
	ok := evalIn[bool](t, tb, `(() => { const c = `+sel+`; const e = c.nextElementSibling;
		return !!e && e.classList.contains('field-error') && e.textContent.trim() !== '' &&
			(c.getAttribute('aria-describedby') || '').split(' ').includes(e.id) && document.activeElement === c; })()`)
	if !ok {
		t.Fatalf("%s: no error message next to the control, or not described by it, or not focused", id)
	}
}

// phoneFits shows the page at 390×844 as a phone does and fails when it is wider than the
// viewport or a navigation link lies off screen.
func (tb *tab) phoneFits(t *testing.T, page string) {
	t.Helper()
	tb.do(t, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile), chromedp.Sleep(200*time.Millisecond))
	defer tb.do(t, chromedp.EmulateViewport(1280, 800))
	width := evalIn[int](t, tb, `Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)`)
	if width > 390 {
		wide := evalIn[[]string](t, tb, `[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 391).slice(0, 5).map(e => e.tagName + '.' + e.className + '#' + e.id)`)
		t.Errorf("%s is %d px wide in a 390 px viewport; too wide: %v", page, width, wide)
	}
	off := evalIn[[]string](t, tb, `[...document.querySelectorAll('header nav a')].filter(a => { const r = a.getBoundingClientRect(); return r.right > innerWidth || r.left < 0 || r.width === 0; }).map(a => a.textContent)`)
	if len(off) > 0 {
		t.Errorf("%s: navigation links off screen on a phone: %v", page, off)
	}
}

// phoneActionsVisible checks at phone width that each row matching rowSel keeps its action
// buttons on screen.
func (tb *tab) phoneActionsVisible(t *testing.T, rowSel string) {
	t.Helper()
	tb.do(t, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile), chromedp.Sleep(200*time.Millisecond))
	defer tb.do(t, chromedp.EmulateViewport(1280, 800))
	bad := evalIn[[]string](t, tb, `[...document.querySelectorAll(`+strconv.Quote(rowSel)+`)].filter(tr => {
		const bs = [...tr.querySelectorAll('button')];
		return bs.length === 0 || bs.some(b => { const r = b.getBoundingClientRect(); return r.width === 0 || r.right > innerWidth || r.left < 0; });
	}).map(tr => tr.textContent.slice(0, 60))`)
	if len(bad) > 0 {
		t.Errorf("rows whose actions are hidden or off screen on a phone: %v", bad)
	}
}

// clear empties the value of the control sel (chromedp's SetValue refuses "").
func (tb *tab) clear(t *testing.T, sel string) {
	t.Helper()
	evalIn[bool](t, tb, `(document.querySelector(`+strconv.Quote(sel)+`).value = "", true)`)
}
