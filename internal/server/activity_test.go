package server

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
	"loginsign/ent/licensecode"
	"loginsign/ent/pendinglink"
	"loginsign/internal/activity"
	"loginsign/internal/auth"
	"loginsign/internal/licenses"
	"loginsign/internal/oauth"
	"loginsign/internal/passkey/passkeytest"
	"loginsign/internal/portal"
	"loginsign/internal/store/storetest"
	"loginsign/internal/team"
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
	return auth.WithSession(context.Background(), auth.Session{UserID: uid, ID: "test-session", SignedInAt: time.Now()})
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
	t.Parallel()
	for name, dbURL := range storetest.URLs(t) {
		t.Run(name, func(t *testing.T) { testActivityRecorded(t, dbURL) })
	}
}

func testActivityRecorded(t *testing.T, dbURL string) {
	e := newOAuthEnv(t, dbURL, withLocalhost)
	ctx := context.Background()
	const annMail, altMail, newMail, zoeMail = "ann@example.com", "ann.alt@example.com", "ann.new@example.com", "zoe@example.com"
	const tessMail, umaMail = "tess@example.com", "uma@example.com"
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
	// Changes that could take the account take a mailed confirmation code each (ann has no
	// two-step verification); the refused ones get a valid code too, so the code is not what
	// refuses them.
	// More than the 5 codes an hour of a person, and each code is a try of the 10 a quarter
	// of an hour (AccountAttempts) the two-step steps below also take.
	e.srv.mfa.ChangeCodeSends.N = 50
	e.srv.mfa.AccountAttempts.N = 50
	code := func(uid string) string { return e.changeCodeAs(as(uid)) }
	var secrets []string // what must never appear in an event
	secrets = append(secrets, e.app.Secret, app2.Secret, zoeMail, tessMail, umaMail, zoe.GlobalID, zoe.ID, "Zoe Secret-Name")
	// Colleagues for the team's events; their addresses never appear in an event.
	tess, err := e.srv.identity.CreateUser(ctx, tessMail, "Tess Team")
	if err != nil {
		t.Fatal(err)
	}
	uma, err := e.srv.identity.CreateUser(ctx, umaMail, "Uma Team")
	if err != nil {
		t.Fatal(err)
	}
	tm := e.srv.portal.Team()
	var tessInvitation string

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
			fail: func() error {
				_, err := e.srv.account.AddAlternativeEmail(as(ann.ID), annMail, code(ann.ID))
				return err
			},
			ok: func() error {
				ue, err := e.srv.account.AddAlternativeEmail(as(ann.ID), altMail, code(ann.ID))
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
			fail: func() error {
				_, err := e.srv.account.MakePrimaryEmail(as(ann.ID), "eml_unknown", code(ann.ID))
				return err
			},
			ok: func() error { _, err := e.srv.account.MakePrimaryEmail(as(ann.ID), altID, code(ann.ID)); return err }},
		{typ: activity.AddressRemoved, user: annID, app: none,
			fail: func() error { return e.srv.account.RemoveAlternativeEmail(as(ann.ID), "eml_unknown", code(ann.ID)) },
			ok: func() error {
				ue, err := e.srv.account.AddAlternativeEmail(as(ann.ID), "ann.pending@example.com", code(ann.ID))
				if err != nil {
					return err
				}
				e.mailToken("ann.pending@example.com", "ver_")
				return e.srv.account.RemoveAlternativeEmail(as(ann.ID), ue.ID, code(ann.ID))
			}},
		{typ: activity.EmailChangeRequest, user: annID, app: appID,
			fail: func() error {
				_, err := e.srv.portal.SyncEmail(devCtx(), e.app.ID, conn.ID, "not an address")
				return err
			},
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
				_, err := e.srv.identity.ConfirmEmailChange(as(zoe.ID), tok, code(zoe.ID)) // another account
				return err
			},
			ok: func() error {
				_, err := e.srv.identity.ConfirmEmailChange(as(ann.ID), pendingID, code(ann.ID))
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
				// The consent page names the app's record of her; her answer accepts that one.
				req := &oauth.AuthorizeRequest{ClientID: app2.ID, Scopes: []string{"openid"}}
				if _, err := e.srv.oauth.Consent(ctx, req, e.srv.db.Application.GetX(ctx, app2.ID), ann.ID); err != nil {
					return err
				}
				_, err := e.srv.oauth.Approve(ctx, req, ann.ID, oauth.ShareAlias, time.Now())
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
				_, err = e.srv.mfa.ConfirmTOTP(as(ann.ID), "000000x", "")
				return err
			},
			ok: func() error {
				var err error
				confirmation, _, err := e.srv.mfa.IssuePasskeyConfirmation(as(ann.ID), ann.ID)
				if err != nil {
					return err
				}
				recovery, err = e.srv.mfa.ConfirmTOTP(as(ann.ID), totpCode(t, totpSecret, time.Now()), confirmation)
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
		{typ: activity.PasskeyAdded, user: annID, app: none,
			fail: func() error {
				_, err := e.srv.passkeys.FinishRegistrationWithCode(as(ann.ID), "Laptop", `{"id":"x"}`, code(ann.ID))
				return err
			},
			ok: func() error {
				options, err := e.srv.passkeys.BeginRegistration(as(ann.ID))
				if err != nil {
					return err
				}
				_, err = e.srv.passkeys.FinishRegistrationWithCode(as(ann.ID), "Laptop", passkeytest.New(t, false).Register(t, options, e.base, 0), code(ann.ID))
				return err
			}},
		{typ: activity.PasskeyRenamed, user: annID, app: none,
			fail: func() error { _, err := e.srv.passkeys.Rename(as(ann.ID), "pky_unknown", "Laptop"); return err },
			ok: func() error {
				k, err := e.srv.db.Passkey.Query().Only(ctx)
				if err == nil {
					_, err = e.srv.passkeys.Rename(as(ann.ID), k.ID, "Laptop")
				}
				return err
			}},
		{typ: activity.PasskeyRemoved, user: annID, app: none,
			fail: func() error { return e.srv.passkeys.Delete(as(zoe.ID), "pky_unknown", code(zoe.ID)) },
			ok: func() error {
				k, err := e.srv.db.Passkey.Query().Only(ctx)
				if err == nil {
					err = e.srv.passkeys.Delete(as(ann.ID), k.ID, code(ann.ID))
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
			fail: func() error { _, err := e.srv.portal.RotateWebhookSecret(devCtx(), app2.ID, false); return err }, // no webhook
			ok: func() error {
				hook := "https://hooks.example.com/two"
				if _, err := e.srv.portal.UpdateApplication(devCtx(), app2.ID, portal.ApplicationPatch{WebhookURL: &hook}); err != nil {
					return err
				}
				s, err := e.srv.portal.RotateWebhookSecret(devCtx(), app2.ID, false)
				secrets = append(secrets, s.Secret)
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
		{typ: activity.LicenseEnded, user: annID, app: appID,
			fail: func() error { return e.srv.licenses.DeleteVariant(devCtx(), e.app.ID, "var_unknown", true) },
			ok: func() error {
				v, err := e.srv.licenses.CreateVariant(devCtx(), e.app.ID, licenses.VariantInput{Name: "Ends"})
				if err != nil {
					return err
				}
				if _, err := e.srv.licenses.GenerateCodes(devCtx(), e.app.ID, licenses.GenerateInput{VariantID: v.ID, Count: 1}); err != nil {
					return err
				}
				// Ann holds it (as a redemption leaves it): the forced delete ends her license.
				if err := e.srv.db.LicenseCode.Update().Where(licensecode.VariantID(v.ID)).SetState(licensecode.StateACTIVE).
					SetLinkedConnectionID(conn.ID).Exec(ctx); err != nil {
					return err
				}
				return e.srv.licenses.DeleteVariant(devCtx(), e.app.ID, v.ID, true)
			}},
		{typ: activity.LicenseRedeemed, user: annID, app: appID,
			fail: func() error { _, err := e.srv.licenses.Redeem(as(ann.ID), e.app.ID, "ZZZZ-ZZZZ-ZZZZ-ZZZZ"); return err },
			ok: func() error {
				v, err := e.srv.licenses.CreateVariant(devCtx(), e.app.ID, licenses.VariantInput{Name: "Redeemed"})
				if err != nil {
					return err
				}
				g, err := e.srv.licenses.GenerateCodes(devCtx(), e.app.ID, licenses.GenerateInput{VariantID: v.ID, Count: 1})
				if err != nil {
					return err
				}
				secrets = append(secrets, g.Codes...)
				_, err = e.srv.licenses.Redeem(as(ann.ID), e.app.ID, g.Codes[0])
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
		// The team (internal/team), on e.app; the ownership moves to Tess at the end.
		{typ: activity.MemberInvited, user: none, app: appID,
			fail: func() error { _, err := tm.Invite(devCtx(), e.app.ID, tessMail, team.Owner); return err },
			ok:   func() error { _, err := tm.Invite(devCtx(), e.app.ID, tessMail, team.Support); return err }},
		{typ: activity.MemberJoined, user: func() string { return tess.ID }, app: appID,
			fail: func() error {
				invs, err := tm.ViewerInvitations(as(tess.ID))
				if err != nil || len(invs) != 1 {
					t.Fatalf("Tess's invitations: %v %v", invs, err)
				}
				tessInvitation = invs[0].ID
				_, _, err = tm.Accept(as(zoe.ID), "", tessInvitation) // another account
				return err
			},
			ok: func() error { _, _, err := tm.Accept(as(tess.ID), "", tessInvitation); return err }},
		{typ: activity.MemberRoleChanged, user: none, app: appID,
			fail: func() error { _, err := tm.ChangeRole(devCtx(), e.app.ID, dev.ID, team.Admin); return err },
			ok:   func() error { _, err := tm.ChangeRole(devCtx(), e.app.ID, tess.ID, team.Developer); return err }},
		{typ: activity.InvitationRevoked, user: none, app: appID,
			fail: func() error { return tm.Revoke(devCtx(), e.app.ID, "inv_unknown") },
			ok: func() error {
				inv, err := tm.Invite(devCtx(), e.app.ID, umaMail, team.Admin)
				if err != nil {
					return err
				}
				return tm.Revoke(devCtx(), e.app.ID, inv.ID)
			}},
		{typ: activity.MemberRemoved, user: none, app: appID,
			fail: func() error { return tm.Remove(as(tess.ID), e.app.ID, dev.ID) },
			ok: func() error {
				inv, err := tm.Invite(devCtx(), e.app.ID, umaMail, team.Support)
				if err != nil {
					return err
				}
				if _, _, err := tm.Accept(as(uma.ID), "", inv.ID); err != nil {
					return err
				}
				return tm.Remove(devCtx(), e.app.ID, uma.ID)
			}},
		{typ: activity.OwnershipTransferProposed, user: none, app: appID,
			fail: func() error { _, err := tm.ProposeTransfer(devCtx(), e.app.ID, uma.ID); return err },
			ok:   func() error { _, err := tm.ProposeTransfer(devCtx(), e.app.ID, tess.ID); return err }},
		{typ: activity.OwnershipTransferCancelled, user: none, app: appID,
			fail: func() error { return tm.CancelTransfer(as(zoe.ID), e.app.ID) },
			ok:   func() error { return tm.CancelTransfer(as(tess.ID), e.app.ID) }}, // Tess declines
		{typ: activity.OwnershipTransferred, user: none, app: appID,
			fail: func() error { _, err := tm.AcceptTransfer(as(tess.ID), e.app.ID); return err },
			ok: func() error {
				if _, err := tm.ProposeTransfer(devCtx(), e.app.ID, tess.ID); err != nil {
					return err
				}
				_, err := tm.AcceptTransfer(as(tess.ID), e.app.ID)
				return err
			}},
		{typ: activity.MemberLeft, user: func() string { return dev.ID }, app: appID,
			fail: func() error { return tm.Leave(as(tess.ID), e.app.ID) }, // the owner now
			ok:   func() error { return tm.Leave(devCtx(), e.app.ID) }},
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
	for _, typ := range []activity.Type{activity.DataExported, activity.UsersExported} { // TestDataExport, TestUsersCSVExport
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

// record writes events directly, as the domain functions do.
func (e *portalEnv) record(evs ...activity.Event) {
	e.t.Helper()
	err := e.srv.db.Tx(context.Background(), func(tx *ent.Tx) error {
		for _, ev := range evs {
			if err := activity.Record(context.Background(), tx, ev); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

func eventIDs(page map[string]any) []string {
	var out []string
	for _, ev := range page["events"].([]any) {
		out = append(out, ev.(map[string]any)["id"].(string))
	}
	return out
}

// A person reads only their own events, a developer only their application's; a second
// developer with a free account gets NOT_FOUND (404) on every route and field, and learns
// nothing of where a person signed in.
func TestActivityVisibility(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, e *portalEnv) {
		dev := e.person("dev@example.com", "Dev", true)
		appID := dev.createApp("Visible", false)
		ann := e.person("ann@example.com", "Ann", true)
		bob := e.person("bob@example.com", "Bob", true)
		mallory := e.person("mallory@example.com", "Mallory", true)
		malloryApp := mallory.createApp("Mallory", false)
		conn := e.connect(ann, appID)
		e.record(
			activity.Event{Type: activity.SignIn, Actor: activity.ByPerson, UserID: ann.user.ID, ApplicationID: appID,
				Details: map[string]string{"method": "passkey", "location": "FR"}},
			activity.Event{Type: activity.AddressAdded, Actor: activity.ByPerson, UserID: ann.user.ID,
				Details: map[string]string{"address": "ann.alt@example.com"}},
			activity.Event{Type: activity.ConnectionEdited, Actor: activity.ByDeveloper, UserID: ann.user.ID, ApplicationID: appID,
				ConnectionID: conn.ID, Details: map[string]string{"fields": "isForwarding"}},
			activity.Event{Type: activity.SignIn, Actor: activity.ByPerson, UserID: bob.user.ID,
				Details: map[string]string{"method": "magic_link"}},
			activity.Event{Type: activity.ClientSecretRotated, Actor: activity.ByDeveloper, ApplicationID: appID},
			activity.Event{Type: activity.ClientSecretRotated, Actor: activity.ByDeveloper, ApplicationID: malloryApp},
		)
		const viewerQ = `query($types: [ActivityEventType!], $app: ID, $first: Int, $after: String) { viewer { activity(types: $types, applicationId: $app, first: $first, after: $after) {
			events { id type actor applicationId applicationName connectionId details { key value } at } nextCursor } } }`
		mine := ann.mustGQL(viewerQ, nil)["viewer"].(map[string]any)["activity"].(map[string]any)
		if got := mine["events"].([]any); len(got) != 3 {
			t.Fatalf("Ann sees %d events, want her 3: %v", len(got), got)
		}
		newest := mine["events"].([]any)[0].(map[string]any)
		if newest["type"] != "CONNECTION_EDITED" || newest["actor"] != "DEVELOPER" || newest["applicationName"] != "Visible" || newest["connectionId"] != conn.ID {
			t.Fatalf("newest event = %v", newest)
		}
		// Filters and pages.
		signIns := ann.mustGQL(viewerQ, map[string]any{"types": []string{"SIGN_IN"}})["viewer"].(map[string]any)["activity"].(map[string]any)
		if got := signIns["events"].([]any); len(got) != 1 || got[0].(map[string]any)["details"].([]any)[0].(map[string]any)["value"] != "FR" {
			t.Fatalf("Ann's sign-ins = %v", got)
		}
		ofApp := ann.mustGQL(viewerQ, map[string]any{"app": appID})["viewer"].(map[string]any)["activity"].(map[string]any)
		if got := ofApp["events"].([]any); len(got) != 2 {
			t.Fatalf("Ann's events of the app = %v", got)
		}
		var paged []string
		var after any
		for range 4 {
			p := ann.mustGQL(viewerQ, map[string]any{"first": 1, "after": after})["viewer"].(map[string]any)["activity"].(map[string]any)
			paged = append(paged, eventIDs(p)...)
			if after = p["nextCursor"]; after == nil {
				break
			}
		}
		if want := eventIDs(mine); strings.Join(paged, ",") != strings.Join(want, ",") {
			t.Fatalf("paged %v, want %v", paged, want)
		}
		for want, bad := range map[string]map[string]any{"bad_page_size": {"first": 101}, "bad_page_size ": {"first": 0}, "bad_cursor": {"after": "not-a-cursor"}} {
			if g := ann.gql(viewerQ, bad); g.code() != strings.TrimSpace(want) {
				t.Errorf("%v: code %q, want %s", bad, g.code(), want)
			}
		}
		if got := bob.mustGQL(viewerQ, nil)["viewer"].(map[string]any)["activity"].(map[string]any)["events"].([]any); len(got) != 1 {
			t.Fatalf("Bob sees %v", got)
		}

		// The developer: GraphQL and REST, the app's events only, not the person's sign-in
		// (recorded for the flow's app before the consent page is answered).
		const appQ = `query($id: ID!) { application(id: $id) { activity { events { id type details { key value } } nextCursor } } }`
		devPage := dev.mustGQL(appQ, map[string]any{"id": appID})["application"].(map[string]any)["activity"].(map[string]any)
		if got := devPage["events"].([]any); len(got) != 2 {
			t.Fatalf("developer sees %d events, want 2 of the app: %v", len(got), got)
		}
		rest := dev.json("GET", "/api/developer/applications/"+appID+"/activity", nil, 200)
		if strings.Join(eventIDs(rest), ",") != strings.Join(eventIDs(devPage), ",") {
			t.Fatalf("REST %v and GraphQL %v differ", eventIDs(rest), eventIDs(devPage))
		}
		b, _ := json.Marshal(rest)
		if strings.Contains(string(b), "FR") || strings.Contains(string(b), ann.user.ID) || strings.Contains(string(b), "@") {
			t.Fatalf("the developer's view shows the person's location, id or address: %s", b)
		}
		if v := dev.json("GET", "/api/developer/applications/"+appID+"/activity?type=client_secret_rotated&limit=1", nil, 200); len(v["events"].([]any)) != 1 {
			t.Fatalf("filtered REST page = %v", v)
		}
		for _, q := range []string{"?limit=0", "?limit=101", "?cursor=bad", "?type=nonsense"} {
			if status, body := dev.do("GET", "/api/developer/applications/"+appID+"/activity"+q, nil); status != 400 {
				t.Errorf("GET …/activity%s = %d %s, want 400", q, status, body)
			}
		}

		// Another developer with a free account: every route and field answers as for nothing.
		if status, _ := mallory.do("GET", "/api/developer/applications/"+appID+"/activity", nil); status != 404 {
			t.Errorf("another developer's REST read = %d, want 404", status)
		}
		if g := mallory.gql(appQ, map[string]any{"id": appID}); g.code() != "not_found" {
			t.Errorf("another developer's GraphQL read: code %q, want not_found", g.code())
		}
		nodeQ := `query($id: ID!) { node(id: $id) { ... on User { activity { events { id } } } ... on Application { activity { events { id } } } } }`
		for _, id := range []string{ann.user.ID, appID} {
			g := mallory.gql(nodeQ, map[string]any{"id": id})
			if b, _ := json.Marshal(g.Data); g.code() == "" || strings.Contains(string(b), "evt_") || strings.Contains(string(b), "act_") {
				t.Errorf("node(%s) as another developer: %s, errors %v", id, b, g.Errors)
			}
		}
		if got := eventIDs(mallory.json("GET", "/api/developer/applications/"+malloryApp+"/activity", nil, 200)); len(got) != 1 {
			t.Errorf("Mallory's own app: %v", got)
		}
		if got := mallory.mustGQL(viewerQ, nil)["viewer"].(map[string]any)["activity"].(map[string]any)["events"].([]any); len(got) != 0 {
			t.Errorf("Mallory's own log shows %v", got)
		}
		// A person connected to the application reaches it through their connection, never its log.
		if g := ann.gql(`{ viewer { connections(first: 10) { edges { node { application { activity { events { id } } } } } } } }`, nil); g.code() != "not_found" {
			t.Errorf("the application's log through a connection: %+v, want not_found", g)
		}
		if status, _ := e.anonymous().do("GET", "/api/developer/applications/"+appID+"/activity", nil); status != 401 {
			t.Errorf("anonymous REST read = %d, want 401", status)
		}
	})
}

// Events older than the retention period are deleted in batches by the purge the background
// worker runs; newer ones stay.
func TestActivityRetention(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, e *portalEnv) {
		ann := e.person("ann@example.com", "Ann", false)
		now := e.srv.now()
		var evs []activity.Event
		for i := range 2100 {
			evs = append(evs, activity.Event{Type: activity.SignIn, Actor: activity.ByPerson, UserID: ann.user.ID,
				At: now.Add(-401*24*time.Hour - time.Duration(i)*time.Minute)})
		}
		evs = append(evs, activity.Event{Type: activity.SignIn, Actor: activity.ByPerson, UserID: ann.user.ID, At: now.Add(-399 * 24 * time.Hour)})
		e.record(evs...)
		if e.srv.activity.Retention != 400*24*time.Hour {
			t.Fatalf("default retention = %v, want 400 days", e.srv.activity.Retention)
		}
		n, err := e.srv.activity.Purge(context.Background())
		if err != nil || n != 2100 {
			t.Fatalf("Purge = %d, %v; want 2100", n, err)
		}
		if left, _ := e.srv.db.ActivityEvent.Query().Count(context.Background()); left != 1 {
			t.Fatalf("%d events left, want the 1 within retention", left)
		}
	})
}

// BenchmarkSignInActivity is a whole magic-link sign-in over HTTP (POST /login, the mail, the
// link's page, its POST), with and without the sign-in's activity event, in the same run.
func BenchmarkSignInActivity(b *testing.B) {
	e := benchEnv(b)
	for _, c := range []struct {
		name string
		off  bool
	}{{"with_event", false}, {"without_event", true}, {"with_event_again", false}} {
		b.Run(c.name, func(b *testing.B) {
			e.srv.oauth.Config.ActivityOff = c.off
			br := e.browser()
			b.ResetTimer()
			for range b.N {
				if p := br.signIn(br.get(e.base+"/login"), defaultTestEmail); p.StatusCode != 200 {
					b.Fatalf("sign-in: %d", p.StatusCode)
				}
			}
		})
	}
	e.srv.oauth.Config.ActivityOff = false
}
