package portal

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"loginsign/ent"
	"loginsign/ent/appconnection"
	"loginsign/ent/appinvitation"
	"loginsign/ent/emailchange"
	"loginsign/ent/importrow"
	"loginsign/ent/importsource"
	"loginsign/ent/licensecode"
	"loginsign/ent/licensevariant"
	"loginsign/ent/pendinglink"
	"loginsign/ent/webhookattempt"
	"loginsign/ent/webhookevent"
	"loginsign/internal/activity"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/connections"
	"loginsign/internal/ids"
	"loginsign/internal/store"
	"loginsign/internal/team"
)

// ApplicationPatch changes some settings of an application; nil fields stay as they are.
// RedirectURIs and AllowedOrigins replace the whole list. An empty WebhookURL removes the
// webhook (and its secret).
type ApplicationPatch struct {
	Name           *string
	Website        *string
	IconURL        *string
	TermsURL       *string
	PrivacyURL     *string
	RedirectURIs   []string // nil: unchanged
	AllowedOrigins []string // nil: unchanged
	WebhookURL     *string
	// IDTokenSigningAlg is ES256 or RS256.
	IDTokenSigningAlg *string
	// PostLogoutRedirectURIs replaces the whole list; nil: unchanged.
	PostLogoutRedirectURIs []string
	// BackchannelLogoutURI: an empty string removes it.
	BackchannelLogoutURI *string
	// ClientRequestsPerMinute is the application's quota of successful client-authenticated
	// requests (token endpoint, app-backend API), 1 to MaxClientRequestsPerMinute.
	ClientRequestsPerMinute *int
	// RequirePushedAuthorizationRequests: see ApplicationInput.
	RequirePushedAuthorizationRequests *bool
}

// MaxClientRequestsPerMinute is the largest quota an application may set.
const MaxClientRequestsPerMinute = 1000000

// UpdatedApplication is an application after an update. WebhookSecret is set, this once, when
// the update gave the application its first webhook URL.
type UpdatedApplication struct {
	Application   *ent.Application
	WebhookSecret string
}

// UpdateApplication changes the settings of the signed-in developer's application appID with
// the same validation as CreateApplication. Setting a webhook URL when none was set creates a
// webhook secret, returned once; changing the URL keeps the secret; clearing it drops both.
// A patch that changes where the application's people or events go (redirectsPeople), or that
// stops requiring pushed authorization requests (opensSignIns), needs a sign-in of the last
// auth.RecentSignIn (Unauthorized, reauthentication_required); the other settings, and those
// fields sent unchanged (the portal's form sends every field), do not. A patch that changes
// nothing writes and records nothing; any other counts against the developer's changes
// (team.TakeWrite). A redirect or post-logout redirect URI of a host or private-use scheme
// the application did not have, which another developer's application registers, is refused
// as at creation (Conflict, redirect_uri_taken: checkRedirectClaims); those it has stay.
func (s *Service) UpdateApplication(ctx context.Context, appID string, p ApplicationPatch) (*UpdatedApplication, error) {
	if p.Name == nil && p.Website == nil && p.IconURL == nil && p.TermsURL == nil && p.PrivacyURL == nil &&
		p.WebhookURL == nil && p.RedirectURIs == nil && p.AllowedOrigins == nil && p.ClientRequestsPerMinute == nil &&
		p.IDTokenSigningAlg == nil && p.PostLogoutRedirectURIs == nil && p.BackchannelLogoutURI == nil &&
		p.RequirePushedAuthorizationRequests == nil {
		return nil, apperr.New(apperr.Invalid, "nothing to update: give at least one field")
	}
	if q := p.ClientRequestsPerMinute; q != nil && (*q < 1 || *q > MaxClientRequestsPerMinute) {
		return nil, apperr.New(apperr.Invalid, "clientRequestsPerMinute must be between 1 and %d", MaxClientRequestsPerMinute)
	}
	uid, err := auth.RequireUser(ctx)
	if err != nil {
		return nil, err
	}
	// The delivery URLs' targets are checked only for a caller who may edit the settings
	// (checked again in the transaction): anyone else would learn from the answer which
	// targets LoginSign refuses. (The check looks no name up: webhooks.CheckTarget.)
	if p.WebhookURL != nil || p.BackchannelLogoutURI != nil {
		if _, err := s.Authorize(ctx, appID, team.EditSettings); err != nil {
			return nil, err
		}
		if err := s.resolveDeliveryURLs(ctx, p.WebhookURL, p.BackchannelLogoutURI); err != nil {
			return nil, err
		}
	}
	// A patch whose URIs claim a host or scheme takes the claims' lock first, before the
	// application's row (lockRedirectClaims).
	mayClaim := len(redirectClaims(p.RedirectURIs, p.PostLogoutRedirectURIs)) > 0
	var out UpdatedApplication
	var changed []string // the settings the owner and admins are told of (noticedSettings)
	err = s.DB.Tx(ctx, func(tx *ent.Tx) error {
		if mayClaim {
			if err := lockRedirectClaims(ctx, tx, s.DB.Dialect); err != nil {
				return err
			}
		}
		app, role, err := team.AuthorizeTx(ctx, tx, s.DB.Dialect, appID, team.EditSettings)
		if err != nil {
			return err
		}
		// A role that may not rotate secrets may not see one either: setting the first
		// webhook URL still creates the secret, which an owner or admin then rotates to read.
		mayReadSecret := team.Allows(role, team.RotateSecrets)
		in := ApplicationInput{Name: app.Name, Website: app.Website, IconURL: app.IconURL, TermsURL: app.TermsURL,
			PrivacyURL: app.PrivacyURL, RedirectURIs: app.RedirectUris, AllowedOrigins: app.AllowedOrigins, WebhookURL: app.WebhookURL,
			IDTokenSigningAlg: app.IDTokenSigningAlg, PostLogoutRedirectURIs: app.PostLogoutRedirectUris, BackchannelLogoutURI: app.BackchannelLogoutURI,
			RequirePushedAuthorizationRequests: app.RequirePushedAuthorizationRequests}
		set := func(dst *string, v *string) {
			if v != nil {
				*dst = *v
			}
		}
		set(&in.Name, p.Name)
		set(&in.Website, p.Website)
		set(&in.IconURL, p.IconURL)
		set(&in.TermsURL, p.TermsURL)
		set(&in.PrivacyURL, p.PrivacyURL)
		set(&in.WebhookURL, p.WebhookURL)
		set(&in.IDTokenSigningAlg, p.IDTokenSigningAlg)
		set(&in.BackchannelLogoutURI, p.BackchannelLogoutURI)
		if p.RequirePushedAuthorizationRequests != nil {
			in.RequirePushedAuthorizationRequests = *p.RequirePushedAuthorizationRequests
		}
		if p.PostLogoutRedirectURIs != nil {
			in.PostLogoutRedirectURIs = p.PostLogoutRedirectURIs
		}
		if p.RedirectURIs != nil {
			in.RedirectURIs = p.RedirectURIs
		}
		if p.AllowedOrigins != nil {
			in.AllowedOrigins = p.AllowedOrigins
		}
		if err := s.validate(ctx, &in, false, app); err != nil {
			return err
		}
		if redirectsPeople(app, in) || opensSignIns(app, in) {
			if _, err := auth.RequireRecentSignIn(ctx, s.now()); err != nil {
				return err
			}
		}
		if settingsUnchanged(app, in, p) {
			// The portal's form sends every field: saved unchanged, it writes nothing, records
			// nothing and counts nothing.
			out.Application = app
			return nil
		}
		if err := team.TakeWrite(ctx, s.Limiter, s.Writes); err != nil {
			return err
		}
		if err := s.takeDeliveryTargets(ctx, uid, []string{app.WebhookURL, app.BackchannelLogoutURI},
			in.WebhookURL, in.BackchannelLogoutURI); err != nil {
			return err
		}
		// Counted first: each refusal tells whether another developer holds a host.
		if added := newRedirectClaims(app, in); len(added) > 0 {
			if !mayClaim {
				return apperr.New(apperr.Internal, "redirect URIs claimed without the claims' lock")
			}
			if err := checkRedirectClaims(ctx, tx, app.ID, uid, added); err != nil {
				return err
			}
		}
		upd := tx.Application.UpdateOne(app).
			SetName(in.Name).SetWebsite(in.Website).SetIconURL(in.IconURL).SetTermsURL(in.TermsURL).
			SetPrivacyURL(in.PrivacyURL).SetRedirectUris(in.RedirectURIs).SetAllowedOrigins(in.AllowedOrigins).
			SetIDTokenSigningAlg(in.IDTokenSigningAlg).SetPostLogoutRedirectUris(in.PostLogoutRedirectURIs).
			SetBackchannelLogoutURI(in.BackchannelLogoutURI).SetRequirePushedAuthorizationRequests(in.RequirePushedAuthorizationRequests).
			SetUpdatedAt(s.now())
		if p.ClientRequestsPerMinute != nil {
			upd.SetClientRequestsPerMinute(*p.ClientRequestsPerMinute)
		}
		// Removing the webhook keeps its secret, and a URL set again signs with it: only a
		// rotation (RotateSecrets, owner and admin) makes a new one. Replacing it on a URL
		// cleared and set again let any member who may edit settings break the signature the
		// application's receiver checks, without seeing the new secret.
		switch {
		case in.WebhookURL == "":
			upd.ClearWebhookURL().ClearWebhookDisabledAt()
		case len(app.WebhookSecret) == 0:
			secret := NewWebhookSecret()
			if mayReadSecret {
				out.WebhookSecret = secret
			}
			upd.SetWebhookURL(in.WebhookURL).SetWebhookSecret(s.WebhookSecrets.Seal([]byte(secret))).ClearWebhookDisabledAt()
		default:
			upd.SetWebhookURL(in.WebhookURL)
			if in.WebhookURL != app.WebhookURL {
				upd.ClearWebhookDisabledAt()
			}
		}
		if out.Application, err = upd.Save(ctx); err != nil {
			return store.Err(err, "application")
		}
		changed = noticedSettings(app, in)
		return recordSettings(ctx, tx, app, p, s.now())
	})
	if err != nil {
		return nil, err
	}
	if len(changed) > 0 {
		s.notify(ctx, team.Notice{Event: team.RedirectsChanged, ApplicationID: out.Application.ID, ActorID: uid, Settings: changed, At: s.now()})
	}
	return &out, nil
}

// noticedSettings names the settings of app that the validated settings in change and that
// need a recent sign-in (redirectsPeople, opensSignIns): the application's owner and admins
// are told of them (team.RedirectsChanged), by name, never their values. The others (name,
// pages, quota, signing algorithm) are told of by no mail.
func noticedSettings(app *ent.Application, in ApplicationInput) []string {
	var out []string
	for _, c := range []struct {
		name    string
		changed bool
	}{
		{"redirect_uris", !slices.Equal(in.RedirectURIs, app.RedirectUris)},
		{"post_logout_redirect_uris", !slices.Equal(in.PostLogoutRedirectURIs, app.PostLogoutRedirectUris)},
		{"allowed_origins", !slices.Equal(in.AllowedOrigins, app.AllowedOrigins)},
		{"webhook_url", in.WebhookURL != app.WebhookURL},
		{"backchannel_logout_uri", in.BackchannelLogoutURI != app.BackchannelLogoutURI},
		{"pushed_authorization", opensSignIns(app, in)},
	} {
		if c.changed {
			out = append(out, c.name)
		}
	}
	return out
}

// settingsUnchanged reports whether the validated settings in, with patch p's request quota,
// are app's own.
func settingsUnchanged(app *ent.Application, in ApplicationInput, p ApplicationPatch) bool {
	return in.Name == app.Name && in.Website == app.Website && in.IconURL == app.IconURL && in.TermsURL == app.TermsURL &&
		in.PrivacyURL == app.PrivacyURL && in.IDTokenSigningAlg == app.IDTokenSigningAlg &&
		in.RequirePushedAuthorizationRequests == app.RequirePushedAuthorizationRequests &&
		!redirectsPeople(app, in) && slices.Equal(in.PostLogoutRedirectURIs, app.PostLogoutRedirectUris) &&
		(p.ClientRequestsPerMinute == nil || *p.ClientRequestsPerMinute == app.ClientRequestsPerMinute)
}

// redirectsPeople reports whether the validated settings in change where app sends its
// people's authorization codes (redirect URIs) or their browsers after a sign-out
// (post-logout redirect URIs), who may call it from a browser or embed it (allowed origins),
// or where LoginSign posts its events and logout tokens (webhook URL, back-channel logout
// URI). With a stolen session and the client secret (RotateClientSecret) a thief who adds
// their own redirect URI exchanges the codes of everyone who signs in to the application:
// these changes need a recent sign-in, as RequireRecentSignIn guards a person's own sign-in
// methods. A post-logout redirect URI receives nothing but state, yet LoginSign sends a
// browser there on the word of any link naming the client (client_id alone), under the
// application's name: from an old cookie a thief registered their own page (a copy of the
// application's sign-in) and had LoginSign's /oauth/logout send people to it, and claimed its
// host in the developer's name (checkRedirectClaims), as a redirect URI does.
func redirectsPeople(app *ent.Application, in ApplicationInput) bool {
	return !slices.Equal(in.RedirectURIs, app.RedirectUris) || !slices.Equal(in.AllowedOrigins, app.AllowedOrigins) ||
		!slices.Equal(in.PostLogoutRedirectURIs, app.PostLogoutRedirectUris) ||
		in.WebhookURL != app.WebhookURL || in.BackchannelLogoutURI != app.BackchannelLogoutURI
}

// opensSignIns reports whether the validated settings in stop app requiring pushed
// authorization requests: required, only the holder of the client secret starts a sign-in to
// the application (RFC 9126 §6), so a stolen session that turns the requirement off opens
// sign-ins to anyone's crafted request, and needs a recent sign-in, as redirectsPeople's
// changes do. Turning it on needs none.
func opensSignIns(app *ent.Application, in ApplicationInput) bool {
	return app.RequirePushedAuthorizationRequests && !in.RequirePushedAuthorizationRequests
}

// RotateClientSecret replaces the client secret of appID and returns the new one, this once.
// The old secret stops working at once. It needs a recent sign-in (Unauthorized,
// reauthentication_required): the secret exchanges the application's people's codes.
func (s *Service) RotateClientSecret(ctx context.Context, appID string) (string, error) {
	secret := ids.Secret(ClientSecretPrefix)
	var uid, id string
	err := s.DB.Tx(ctx, func(tx *ent.Tx) error {
		app, err := s.authorizeTx(ctx, tx, appID, team.RotateSecrets)
		if err != nil {
			return err
		}
		id = app.ID
		if uid, err = auth.RequireRecentSignIn(ctx, s.now()); err != nil {
			return err
		}
		if err := team.TakeAccessChange(ctx, s.Limiter, s.AccessChanges); err != nil {
			return err
		}
		if err := tx.Application.UpdateOne(app).SetSecretHash(ids.Hash(secret)).SetUpdatedAt(s.now()).Exec(ctx); err != nil {
			return err
		}
		return activity.Record(ctx, tx, activity.Event{Type: activity.ClientSecretRotated, Actor: activity.ByDeveloper,
			ApplicationID: app.ID, At: s.now()})
	})
	if err != nil {
		return "", err
	}
	s.notify(ctx, team.Notice{Event: team.ClientSecretReplaced, ApplicationID: id, ActorID: uid, At: s.now()})
	return secret, nil
}

// WebhookSecretOverlap is how long the secret a reset replaces still signs events, next to
// the new one (Standard Webhooks: one signature per secret in webhook-signature), so that a
// receiver checking either keeps accepting deliveries while it is switched over.
const WebhookSecretOverlap = 24 * time.Hour

// WebhookSecretReset is the answer of RotateWebhookSecret: the new secret (Standard Webhooks
// whsec_ form), shown this once, and until when the one it replaced also signs events (nil: it
// signs nothing any more).
type WebhookSecretReset struct {
	Secret             string
	PreviousValidUntil *time.Time
}

// RotateWebhookSecret replaces the webhook signing secret of appID. For WebhookSecretOverlap
// the old secret signs events too, unless revokePrevious (a secret that leaked): then it signs
// nothing from now on.
// An application without a webhook URL answers Conflict: set the URL first, which creates the
// first secret. It needs a recent sign-in (Unauthorized, reauthentication_required): whoever
// holds the secret signs events the application's backend believes.
func (s *Service) RotateWebhookSecret(ctx context.Context, appID string, revokePrevious bool) (WebhookSecretReset, error) {
	out := WebhookSecretReset{Secret: NewWebhookSecret()}
	var uid, id string
	err := s.DB.Tx(ctx, func(tx *ent.Tx) error {
		app, err := s.authorizeTx(ctx, tx, appID, team.RotateSecrets)
		if err != nil {
			return err
		}
		id = app.ID
		if uid, err = auth.RequireRecentSignIn(ctx, s.now()); err != nil {
			return err
		}
		if app.WebhookURL == "" {
			return apperr.WithReason(apperr.Conflict, "no_webhook", "the application has no webhook URL; set one first")
		}
		if err := team.TakeAccessChange(ctx, s.Limiter, s.AccessChanges); err != nil {
			return err
		}
		upd := tx.Application.UpdateOne(app).SetWebhookSecret(s.WebhookSecrets.Seal([]byte(out.Secret))).SetUpdatedAt(s.now())
		if revokePrevious || len(app.WebhookSecret) == 0 {
			upd.ClearWebhookPreviousSecret().ClearWebhookPreviousSecretUntil()
		} else {
			until := s.now().Add(WebhookSecretOverlap).Truncate(time.Second) // as every database stores it
			out.PreviousValidUntil = &until
			upd.SetWebhookPreviousSecret(app.WebhookSecret).SetWebhookPreviousSecretUntil(until)
		}
		if err := upd.Exec(ctx); err != nil {
			return err
		}
		return activity.Record(ctx, tx, activity.Event{Type: activity.WebhookSecretRotated, Actor: activity.ByDeveloper,
			ApplicationID: app.ID, At: s.now()})
	})
	if err != nil {
		return WebhookSecretReset{}, err
	}
	s.notify(ctx, team.Notice{Event: team.WebhookSecretReplaced, ApplicationID: id, ActorID: uid, At: s.now()})
	return out, nil
}

// DeleteApplication deletes appID and everything that belongs to it. Each connection ends
// through connections.Delete (tokens revoked, licenses expired, alias retired for good, the
// application's open address change request superseded), without the event it would queue,
// and the application's outbox goes too: a deleted application has no webhook left to
// deliver to. The application's proposals go with it: its address change requests, whatever
// their state (each holds a person's old and new address, and no foreign key deletes it),
// and its pending links, open or refused, so that no person is shown, or can accept, a
// proposal of an application that is gone. It needs a recent sign-in (Unauthorized,
// reauthentication_required): it cannot be undone.
//
// The connections end endBatch at a time, each batch in a transaction of its own
// (endConnections); the rest, the application's row last, goes in a final one. An
// application with a million people is a quarter of an hour of writes: in one transaction
// they held SQLite's one writer all along, and any failure lost them all, so the request
// made again started from nothing and never got further. A failure is reported with the
// connections ended so far ended, and the same request again (the application is still
// there) goes on from them.
func (s *Service) DeleteApplication(ctx context.Context, appID string) error {
	now := s.now()
	notice, err := s.beginDeletion(ctx, appID, now)
	if err != nil {
		return err
	}
	if notice != nil {
		s.notify(ctx, *notice)
	}
	for {
		n, err := s.endConnections(ctx, appID, now)
		if err != nil {
			return err
		}
		if n < endBatch {
			break
		}
	}
	return s.DB.Tx(ctx, func(tx *ent.Tx) error {
		app, err := s.authorizeDeleteTx(ctx, tx, appID, now)
		if err != nil {
			return err
		}
		// People who connected since the last batch.
		for {
			n, err := endSomeConnections(ctx, tx, app, now)
			if err != nil {
				return err
			}
			if n == 0 {
				break
			}
		}
		steps := []struct {
			what string
			del  func() error
		}{
			{"webhook attempts", func() error {
				_, err := tx.WebhookAttempt.Delete().Where(webhookattempt.HasEventWith(webhookevent.ApplicationID(app.ID))).Exec(ctx)
				return err
			}},
			{"webhook events", func() error {
				_, err := tx.WebhookEvent.Delete().Where(webhookevent.ApplicationID(app.ID)).Exec(ctx)
				return err
			}},
			{"license codes", func() error {
				_, err := tx.LicenseCode.Delete().Where(licensecode.ApplicationID(app.ID)).Exec(ctx)
				return err
			}},
			{"license variants", func() error {
				_, err := tx.LicenseVariant.Delete().Where(licensevariant.ApplicationID(app.ID)).Exec(ctx)
				return err
			}},
			{"address change requests", func() error {
				_, err := tx.EmailChange.Delete().Where(emailchange.ApplicationID(app.ID)).Exec(ctx)
				return err
			}},
			{"pending links", func() error {
				_, err := tx.PendingLink.Delete().Where(pendinglink.ApplicationID(app.ID)).Exec(ctx)
				return err
			}},
			{"import rows", func() error {
				_, err := tx.ImportRow.Delete().Where(importrow.HasSourceWith(importsource.ApplicationID(app.ID))).Exec(ctx)
				return err
			}},
			{"import sources", func() error {
				_, err := tx.ImportSource.Delete().Where(importsource.ApplicationID(app.ID)).Exec(ctx)
				return err
			}},
			{"team", func() error { return team.DeleteApplication(ctx, tx, app.ID) }},
		}
		for _, st := range steps {
			if err := st.del(); err != nil {
				return fmt.Errorf("deleting %s: %w", st.what, err)
			}
		}
		uid, _ := auth.RequireUser(ctx)
		if err := tx.AuditEvent.Create().SetActorID(uid).SetApplicationID(app.ID).SetAction("application.deleted").
			SetTarget(app.ID).SetCreatedAt(now).Exec(ctx); err != nil {
			return fmt.Errorf("auditing: %w", err)
		}
		return tx.Application.DeleteOne(app).Exec(ctx)
	})
}

// endBatch is how many connections of an application being deleted end in one transaction:
// about half a second of writes.
const endBatch = 500

// authorizeDeleteTx is the check of every transaction of DeleteApplication: the role may
// delete appID (locked on PostgreSQL), and the sign-in is recent.
func (s *Service) authorizeDeleteTx(ctx context.Context, tx *ent.Tx, appID string, now time.Time) (*ent.Application, error) {
	app, err := s.authorizeTx(ctx, tx, appID, team.DeleteApp)
	if err != nil {
		return nil, err
	}
	if _, err := auth.RequireRecentSignIn(ctx, now); err != nil {
		return nil, err
	}
	return app, nil
}

// beginDeletion marks appID as being deleted, in a transaction of its own before any
// connection ends: from then on the application authenticates nowhere (clientauth), signs
// nobody in and continues no flow (oauth), and its team may only read it, take access away
// and delete it again (team.AuthorizeTx, AuthorizeTakingAwayTx). Before, it kept working while its batches ran, for a quarter of an
// hour with a million people, or for good after a failure: a developer who deletes an
// application whose secret leaked expects it to stop now. What it offered people ends too: an
// ownership transfer (nobody takes over an application being deleted), invitations to its
// team, and its address change proposals (a person confirming one would change their primary
// address for an application that is going). Nothing is queued or delivered to it any more
// (webhooks.Enqueue, the worker's hasTarget).
//
// The first marking returns the security notice of the deletion (team.DeletionBegun), with
// the application's name, owner and admins and the owner's address read now: the application
// and its team may be gone when it is mailed. A deletion begun before returns none: it was
// told.
func (s *Service) beginDeletion(ctx context.Context, appID string, now time.Time) (*team.Notice, error) {
	var notice *team.Notice
	err := s.DB.Tx(ctx, func(tx *ent.Tx) error {
		app, err := s.authorizeDeleteTx(ctx, tx, appID, now)
		if err != nil || app.DeletingSince != nil {
			return err
		}
		uid, err := auth.RequireUser(ctx)
		if err != nil {
			return err
		}
		to, err := team.NoticeRecipients(ctx, tx.Client(), app)
		if err != nil {
			return err
		}
		actor, err := team.TeamAddress(ctx, tx.Client(), app, uid)
		if err != nil {
			return err
		}
		notice = &team.Notice{Event: team.DeletionBegun, ApplicationID: app.ID, ActorID: uid, ActorAddress: actor,
			AppName: app.Name, Recipients: to, At: now}
		if err := tx.Application.UpdateOne(app).SetDeletingSince(now).ClearTransferTo().ClearTransferExpiresAt().Exec(ctx); err != nil {
			return err
		}
		if _, err := tx.AppInvitation.Update().Where(appinvitation.ApplicationID(app.ID), appinvitation.AcceptedAtIsNil(),
			appinvitation.RevokedAtIsNil()).SetRevokedAt(now).Save(ctx); err != nil {
			return err
		}
		_, err = tx.EmailChange.Update().Where(emailchange.ApplicationID(app.ID), emailchange.StatusEQ(emailchange.StatusPending)).
			SetStatus(emailchange.StatusSuperseded).SetClosedAt(now).Save(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	return notice, nil
}

// endConnections ends up to endBatch connections of appID, which the signed-in developer is
// deleting, in a transaction of its own, and returns how many it ended.
func (s *Service) endConnections(ctx context.Context, appID string, now time.Time) (int, error) {
	n := 0
	err := s.DB.Tx(ctx, func(tx *ent.Tx) error {
		app, err := s.authorizeDeleteTx(ctx, tx, appID, now)
		if err != nil {
			return err
		}
		n, err = endSomeConnections(ctx, tx, app, now)
		return err
	})
	return n, err
}

// endSomeConnections ends up to endBatch connections of app inside tx (connections.Delete)
// and returns how many it ended. They queue no user_account_deleted: the application is
// going, with its outbox, and a batch committed before the end must not send its events
// meanwhile (connections.Delete queues none for an application without a webhook URL).
func endSomeConnections(ctx context.Context, tx *ent.Tx, app *ent.Application, now time.Time) (int, error) {
	conns, err := tx.AppConnection.Query().Where(appconnection.ApplicationID(app.ID)).
		WithUser().Limit(endBatch).All(ctx)
	if err != nil {
		return 0, err
	}
	going := *app
	going.WebhookURL = ""
	for _, c := range conns {
		c.Edges.Application = &going
		if err := connections.Delete(ctx, tx, c, connections.DeletedByDeveloper, now); err != nil {
			return 0, err
		}
	}
	return len(conns), nil
}

// recordSettings writes the activity of a settings change of app by patch p: the names of
// the fields sent (never their values), and a change of the webhook endpoint on its own.
func recordSettings(ctx context.Context, tx *ent.Tx, app *ent.Application, p ApplicationPatch, now time.Time) error {
	var fields []string
	for name, sent := range map[string]bool{"name": p.Name != nil, "website": p.Website != nil, "iconUrl": p.IconURL != nil,
		"termsUrl": p.TermsURL != nil, "privacyUrl": p.PrivacyURL != nil, "webhookUrl": p.WebhookURL != nil,
		"redirectUris": p.RedirectURIs != nil, "allowedOrigins": p.AllowedOrigins != nil,
		"clientRequestsPerMinute": p.ClientRequestsPerMinute != nil, "idTokenSigningAlg": p.IDTokenSigningAlg != nil,
		"postLogoutRedirectUris": p.PostLogoutRedirectURIs != nil, "backchannelLogoutUri": p.BackchannelLogoutURI != nil,
		"requirePushedAuthorizationRequests": p.RequirePushedAuthorizationRequests != nil} {
		if sent {
			fields = append(fields, name)
		}
	}
	if err := activity.Record(ctx, tx, activity.Event{Type: activity.AppSettingsChanged, Actor: activity.ByDeveloper,
		ApplicationID: app.ID, Details: map[string]string{"fields": activity.Fields(fields...)}, At: now}); err != nil {
		return err
	}
	if p.WebhookURL == nil || strings.TrimSpace(*p.WebhookURL) == app.WebhookURL {
		return nil
	}
	outcome := "changed"
	switch {
	case strings.TrimSpace(*p.WebhookURL) == "":
		outcome = "removed"
	case app.WebhookURL == "":
		outcome = "set"
	}
	return activity.Record(ctx, tx, activity.Event{Type: activity.WebhookChanged, Actor: activity.ByDeveloper,
		ApplicationID: app.ID, Details: map[string]string{"outcome": outcome}, At: now})
}
