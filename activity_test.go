package main

import (
	"context"
	"encoding/json"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/ent/activityevent"
	"loginsign/ent/pendinglink"
	"loginsign/internal/activity"
	"loginsign/internal/auth"
	"loginsign/internal/licenses"
	"loginsign/internal/oauth"
	"loginsign/internal/portal"
	"loginsign/internal/store/storetest"
)

var mailTokenRe = regexp.MustCompile(`token=([A-Za-z0-9_\-%]+)`)

// mailToken reads mail until one to `to` whose link token starts with prefix, and returns it.
func (e *oauthEnv) mailToken(to, prefix string) string {
	e.t.Helper()
	for range 6 {
		m := e.smtp.Next(e.t, 10*time.Second)
		if len(m.To) != 1 || !strings.EqualFold(m.To[0], to) {
			continue
		}
		for _, match := range mailTokenRe.FindAllStringSubmatch(strings.ReplaceAll(m.Text, "=\r\n", ""), -1) {
			tok, _ := url.QueryUnescape(match[1])
			if strings.HasPrefix(tok, prefix) {
				return tok
			}
		}
	}
	e.t.Fatalf("no mail to %s with a %s token", to, prefix)
	return ""
}

// countEvents counts the events of type t about user or application app.
func (e *oauthEnv) countEvents(t activity.Type, userID, appID string) int {
	e.t.Helper()
	q := e.srv.db.ActivityEvent.Query().Where(activityevent.Type(string(t)))
	if userID != "" {
		q.Where(activityevent.UserID(userID))
	}
	if appID != "" {
		q.Where(activityevent.ApplicationID(appID))
	}
	n, err := q.Count(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func as(uid string) context.Context {
	return auth.WithSession(context.Background(), auth.Session{UserID: uid, ID: "test-session"})
}

// activityStep is one operation of the table: ok must record exactly one event of typ about
// (user, app); fail is the same operation refused, which must record none.
type activityStep struct {
	typ       activity.Type
	user, app func() string
	fail, ok  func() error
}

// Every event type is written by the operation that causes it, once, and not when that
// operation fails; no event ever holds a secret or another person's data. On SQLite and
// PostgreSQL.
func TestActivityRecordedByEachOperation(t *testing.T) {
	for name, dbURL := range storetest.URLs(t) {
		t.Run(name, func(t *testing.T) { testActivityRecorded(t, dbURL) })
	}
}

func testActivityRecorded(t *testing.T, dbURL string) {
	e := newOAuthEnv(t, dbURL)
	ctx := context.Background()
	const annMail, altMail, newMail, zoeMail = "ann@example.com", "ann.alt@example.com", "ann.new@example.com", "zoe@example.com"
	dev, err := e.srv.identity.UserByEmail(ctx, "dev@example.com")
	if err != nil {
		t.Fatal(err)
	}
	zoe, err := e.srv.identity.CreateUser(ctx, zoeMail, "Zoe Secret-Name")
	if err != nil {
		t.Fatal(err)
	}
	app2 := e.createApp("Second App", rpCallback)
	app3 := e.createApp("Third App", rpCallback)
	var secrets []string // what must never appear in an event
	secrets = append(secrets, e.app.Secret, app2.Secret, zoeMail, zoe.GlobalID, zoe.ID, "Zoe Secret-Name")

	var ann *ent.User
	var conn *ent.AppConnection
	annID := func() string { return ann.ID }
	none := func() string { return "" }
	appID := func() string { return e.app.ID }
	devCtx := func() context.Context { return as(dev.ID) }
	var altID, importID, pendingID string
	var totpSecret string
	var recovery []string

	steps := []activityStep{
		{typ: activity.SignIn, user: annID, app: appID,
			fail: func() error { _, err := e.srv.oauth.UseMagicLink(ctx, "mlk_unknown", "127.0.0.1", "b"); return err },
			ok: func() error {
				code, _ := e.authorizeCode(e.browser(), annMail)
				secrets = append(secrets, code)
				var err error
				ann, err = e.srv.identity.UserByEmail(ctx, annMail)
				if err == nil {
					conn, err = e.srv.db.AppConnection.Query().Where().Only(ctx)
				}
				return err
			}},
		{typ: activity.ConsentGiven, user: annID, app: func() string { return app2.ID },
			fail: func() error {
				_, err := e.srv.oauth.Approve(ctx, &oauth.AuthorizeRequest{ClientID: app2.ID, Scopes: []string{"openid"}}, ann.ID, "not-hers@example.com", time.Now())
				return err
			},
			ok: func() error {
				code, err := e.srv.oauth.Approve(ctx, &oauth.AuthorizeRequest{ClientID: app2.ID, Scopes: []string{"openid", "email"}}, ann.ID, oauth.ShareAlias, time.Now())
				secrets = append(secrets, code)
				return err
			}},
		{typ: activity.AddressAdded, user: annID, app: none,
			fail: func() error { _, err := e.srv.account.AddAlternativeEmail(as(ann.ID), annMail); return err },
			ok: func() error {
				ue, err := e.srv.account.AddAlternativeEmail(as(ann.ID), altMail)
				if err == nil {
					altID = ue.ID
				}
				return err
			}},
		{typ: activity.AddressVerified, user: annID, app: none,
			fail: func() error { _, err := e.srv.account.VerifyAlternativeEmail(as(ann.ID), "ver_unknown"); return err },
			ok: func() error {
				tok := e.mailToken(altMail, "ver_")
				secrets = append(secrets, tok)
				_, err := e.srv.account.VerifyAlternativeEmail(as(ann.ID), tok)
				return err
			}},
		{typ: activity.AddressMadePrimary, user: annID, app: none,
			fail: func() error { _, err := e.srv.account.MakePrimaryEmail(as(ann.ID), "eml_unknown"); return err },
			ok: func() error { _, err := e.srv.account.MakePrimaryEmail(as(ann.ID), altID); return err }},
		{typ: activity.AddressRemoved, user: annID, app: none,
			fail: func() error { return e.srv.account.RemoveAlternativeEmail(as(ann.ID), "eml_unknown") },
			ok: func() error {
				ue, err := e.srv.account.AddAlternativeEmail(as(ann.ID), "ann.pending@example.com")
				if err != nil {
					return err
				}
				e.mailToken("ann.pending@example.com", "ver_")
				return e.srv.account.RemoveAlternativeEmail(as(ann.ID), ue.ID)
			}},
		{typ: activity.EmailChangeRequest, user: annID, app: appID,
			fail: func() error { _, err := e.srv.portal.SyncEmail(devCtx(), e.app.ID, conn.ID, "not an address"); return err },
			ok: func() error { _, err := e.srv.portal.SyncEmail(devCtx(), e.app.ID, conn.ID, newMail); return err }},
		{typ: activity.EmailChangeCancel, user: annID, app: appID,
			fail: func() error { _, err := e.srv.identity.CancelEmailChange(ctx, "ecx_unknown"); return err },
			ok: func() error {
				e.mailToken(newMail, "lsec_")
				tok := e.mailToken(altMail, "lsex_")
				secrets = append(secrets, tok)
				_, err := e.srv.identity.CancelEmailChange(ctx, tok)
				return err
			}},
		{typ: activity.EmailChangeConfirm, user: annID, app: appID,
			fail: func() error {
				if _, err := e.srv.portal.SyncEmail(devCtx(), e.app.ID, conn.ID, newMail); err != nil {
					return nil // the step must fail at the confirmation, not here
				}
				tok := e.mailToken(newMail, "lsec_")
				e.mailToken(altMail, "lsex_")
				secrets = append(secrets, tok)
				pendingID = tok
				_, err := e.srv.identity.ConfirmEmailChange(as(zoe.ID), tok) // another account
				return err
			},
			ok: func() error {
				_, err := e.srv.identity.ConfirmEmailChange(as(ann.ID), pendingID)
				return err
			}},
		{typ: activity.ImportRun, user: none, app: func() string { return app2.ID },
			fail: func() error {
				_, err := e.srv.portal.Import(as(zoe.ID), app2.ID, portal.ImportRequest{Kind: "json", Users: []portal.ImportUser{{ExternalUserID: "u1", Email: annMail}}})
				return err
			},
			ok: func() error {
				// ann is connected to app2 already; a third app proposes a link.
				r, err := e.srv.portal.Import(devCtx(), app2.ID, portal.ImportRequest{Kind: "json", SourceName: "crm",
					Users: []portal.ImportUser{{ExternalUserID: "ext-1", Email: "someone.else@example.com"}}})
				if err == nil {
					importID = r.Source.ID
				}
				return err
			}},
		{typ: activity.ImportRolledBack, user: none, app: func() string { return app2.ID },
			fail: func() error { _, err := e.srv.portal.RollbackImport(devCtx(), app2.ID, "imp_unknown"); return err },
			ok:   func() error { _, err := e.srv.portal.RollbackImport(devCtx(), app2.ID, importID); return err }},
		{typ: activity.PendingLinkRefused, user: annID, app: func() string { return app3.ID },
			fail: func() error { return e.srv.account.RefusePendingLink(as(ann.ID), "pln_unknown") },
			ok: func() error {
				if _, err := e.srv.portal.Import(devCtx(), app3.ID, portal.ImportRequest{Kind: "json",
					Users: []portal.ImportUser{{ExternalUserID: "ext-ann", Email: annMail}}}); err != nil {
					return err
				}
				l, err := e.srv.db.PendingLink.Query().Where(pendinglink.ApplicationID(app3.ID)).Only(ctx)
				if err != nil {
					return err
				}
				return e.srv.account.RefusePendingLink(as(ann.ID), l.ID)
			}},
		{typ: activity.PendingLinkAccepted, user: annID, app: func() string { return app2.ID },
			fail: func() error {
				_, err := e.srv.oauth.Approve(ctx, &oauth.AuthorizeRequest{ClientID: app2.ID, Scopes: []string{"openid"}}, ann.ID, "not-hers@example.com", time.Now())
				return err
			},
			ok: func() error {
				if _, err := e.srv.portal.Import(devCtx(), app2.ID, portal.ImportRequest{Kind: "json",
					Users: []portal.ImportUser{{ExternalUserID: "ext-ann-2", Email: annMail}}}); err != nil {
					return err
				}
				_, err := e.srv.oauth.Approve(ctx, &oauth.AuthorizeRequest{ClientID: app2.ID, Scopes: []string{"openid"}}, ann.ID, oauth.ShareAlias, time.Now())
				return err
			}},
		{typ: activity.SessionsEnded, user: annID, app: none,
			fail: func() error { return e.srv.identity.SignOutSession(as(ann.ID), "unknown") },
			ok: func() error {
				raw, err := e.srv.identity.Sessions.Create(ctx, ann.ID, "test", "127.0.0.1")
				if err != nil {
					return err
				}
				secrets = append(secrets, raw)
				_, err = e.srv.identity.SignOutOtherSessions(as(ann.ID))
				return err
			}},
		{typ: activity.TOTPEnabled, user: annID, app: none,
			fail: func() error {
				en, err := e.srv.mfa.BeginTOTP(as(ann.ID), annMail)
				if err != nil {
					return nil
				}
				totpSecret = en.Secret
				secrets = append(secrets, en.Secret)
				_, err = e.srv.mfa.ConfirmTOTP(as(ann.ID), "000000x")
				return err
			},
			ok: func() error {
				var err error
				recovery, err = e.srv.mfa.ConfirmTOTP(as(ann.ID), totpCode(t, totpSecret, time.Now()))
				secrets = append(secrets, recovery...)
				return err
			}},
		{typ: activity.RecoveryCodesNew, user: annID, app: none,
			fail: func() error { _, err := e.srv.mfa.RegenerateRecoveryCodes(as(ann.ID), "wrong-code"); return err },
			ok: func() error {
				codes, err := e.srv.mfa.RegenerateRecoveryCodes(as(ann.ID), recovery[0])
				recovery = codes
				secrets = append(secrets, codes...)
				return err
			}},
		{typ: activity.TOTPDisabled, user: annID, app: none,
			fail: func() error { return e.srv.mfa.DisableTOTP(as(ann.ID), "wrong-code") },
			ok:   func() error { return e.srv.mfa.DisableTOTP(as(ann.ID), recovery[0]) }},
		{typ: activity.PasskeyRenamed, user: annID, app: none,
			fail: func() error { _, err := e.srv.passkeys.Rename(as(ann.ID), "pky_unknown", "Laptop"); return err },
			ok: func() error {
				k, err := e.srv.db.Passkey.Create().SetUserID(ann.ID).SetName("Key").SetCredentialID([]byte("cred-1")).
					SetPublicKey([]byte("pk")).Save(ctx)
				if err == nil {
					_, err = e.srv.passkeys.Rename(as(ann.ID), k.ID, "Laptop")
				}
				return err
			}},
		{typ: activity.PasskeyRemoved, user: annID, app: none,
			fail: func() error { return e.srv.passkeys.Delete(as(zoe.ID), "pky_unknown") },
			ok: func() error {
				k, err := e.srv.db.Passkey.Query().Only(ctx)
				if err == nil {
					err = e.srv.passkeys.Delete(as(ann.ID), k.ID)
				}
				return err
			}},
		{typ: activity.AppSettingsChanged, user: none, app: appID,
			fail: func() error {
				bad := "javascript:alert(1)"
				_, err := e.srv.portal.UpdateApplication(devCtx(), e.app.ID, portal.ApplicationPatch{Website: &bad})
				return err
			},
			ok: func() error {
				name := "Demo App Renamed"
				_, err := e.srv.portal.UpdateApplication(devCtx(), e.app.ID, portal.ApplicationPatch{Name: &name})
				return err
			}},
		{typ: activity.WebhookChanged, user: none, app: appID,
			fail: func() error {
				bad := "ftp://hooks.example.com/x"
				_, err := e.srv.portal.UpdateApplication(devCtx(), e.app.ID, portal.ApplicationPatch{WebhookURL: &bad})
				return err
			},
			ok: func() error {
				hook := "https://hooks.example.com/in"
				out, err := e.srv.portal.UpdateApplication(devCtx(), e.app.ID, portal.ApplicationPatch{WebhookURL: &hook})
				if err == nil {
					secrets = append(secrets, out.WebhookSecret)
				}
				return err
			}},
		{typ: activity.ClientSecretRotated, user: none, app: appID,
			fail: func() error { _, err := e.srv.portal.RotateClientSecret(as(zoe.ID), e.app.ID); return err },
			ok: func() error {
				s, err := e.srv.portal.RotateClientSecret(devCtx(), e.app.ID)
				secrets = append(secrets, s)
				return err
			}},
		{typ: activity.WebhookSecretRotated, user: none, app: func() string { return app2.ID },
			fail: func() error { _, err := e.srv.portal.RotateWebhookSecret(devCtx(), app2.ID); return err }, // no webhook
			ok: func() error {
				hook := "https://hooks.example.com/two"
				if _, err := e.srv.portal.UpdateApplication(devCtx(), app2.ID, portal.ApplicationPatch{WebhookURL: &hook}); err != nil {
					return err
				}
				s, err := e.srv.portal.RotateWebhookSecret(devCtx(), app2.ID)
				secrets = append(secrets, s)
				return err
			}},
		{typ: activity.ConnectionEdited, user: annID, app: appID,
			fail: func() error {
				f := false
				_, err := e.srv.portal.UpdateConnection(devCtx(), e.app.ID, "con_unknown", portal.ConnectionPatch{IsForwarding: &f})
				return err
			},
			ok: func() error {
				f := false
				_, err := e.srv.portal.UpdateConnection(devCtx(), e.app.ID, conn.ID, portal.ConnectionPatch{IsForwarding: &f})
				return err
			}},
		{typ: activity.LicenseAction, user: none, app: appID,
			fail: func() error {
				_, err := e.srv.licenses.GenerateCodes(devCtx(), e.app.ID, licenses.GenerateInput{VariantID: "var_unknown", Count: 2})
				return err
			},
			ok: func() error {
				v, err := e.srv.licenses.CreateVariant(devCtx(), e.app.ID, licenses.VariantInput{Name: "Pro"})
				if err != nil {
					return err
				}
				g, err := e.srv.licenses.GenerateCodes(devCtx(), e.app.ID, licenses.GenerateInput{VariantID: v.ID, Count: 2})
				if err == nil {
					secrets = append(secrets, g.Codes...)
				}
				return err
			}},
		{typ: activity.ConnectionDeleted, user: annID, app: appID,
			fail: func() error { return e.srv.portal.DeleteConnection(devCtx(), e.app.ID, "con_unknown") },
			ok:   func() error { return e.srv.portal.DeleteConnection(devCtx(), e.app.ID, conn.ID) }},
		{typ: activity.ConsentWithdrawn, user: annID, app: func() string { return app2.ID },
			fail: func() error { return e.srv.account.RemoveConnection(as(zoe.ID), "con_unknown") },
			ok: func() error {
				c, err := e.srv.db.AppConnection.Query().Only(ctx) // ann's connection to app2
				if err == nil {
					err = e.srv.account.RemoveConnection(as(ann.ID), c.ID)
				}
				return err
			}},
	}
	covered := map[activity.Type]bool{}
	for _, st := range steps {
		covered[st.typ] = true
		count := func() int {
			if ann == nil {
				return e.countEvents(st.typ, "", "")
			}
			return e.countEvents(st.typ, st.user(), st.app())
		}
		before := count()
		if err := st.fail(); err == nil {
			t.Fatalf("%s: the failing operation succeeded", st.typ)
		}
		if got := count(); got != before {
			t.Fatalf("%s: a failed operation recorded %d events", st.typ, got-before)
		}
		if err := st.ok(); err != nil {
			t.Fatalf("%s: %v", st.typ, err)
		}
		if got := count(); got != before+1 {
			t.Fatalf("%s: recorded %d events about user %q app %q, want 1", st.typ, got-before, st.user(), st.app())
		}
	}
	// The types not in the table are written by operations tested elsewhere in this file.
	for _, typ := range []activity.Type{activity.PasskeyAdded, activity.DataExported, activity.UsersExported} {
		covered[typ] = true
	}
	for _, typ := range activity.Types {
		if !covered[typ] {
			t.Errorf("no step records %s", typ)
		}
	}

	// No event holds a secret, and none about Ann or the apps mentions Zoe.
	all, err := e.srv.db.ActivityEvent.Query().All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range all {
		b, _ := json.Marshal(ev.Details)
		for _, s := range secrets {
			if s != "" && strings.Contains(string(b), s) {
				t.Errorf("%s event holds %q: %s", ev.Type, s, b)
			}
		}
		if ev.ApplicationID != "" && strings.Contains(string(b), "@") {
			t.Errorf("%s event of an application holds an address: %s", ev.Type, b)
		}
	}
}
