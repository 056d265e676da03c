package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"loginsign/ent"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/ids"
	"loginsign/internal/mfa"
)

// SecondStepPrefix is the prefix of a pending second step's token.
const SecondStepPrefix = "lsss_"

// secondStepTTL bounds the wait between the magic link and the code.
const secondStepTTL = 10 * time.Minute

// pendingSignIn is a sign-in waiting for its second step, stored in Redis under the hash of
// its token: the magic link was used, the code is still to come.
type pendingSignIn struct {
	UserID string `json:"u"`
	FlowID string `json:"f,omitempty"`
	// Browser is the hash of the browser cookie of the browser that used the magic link: only
	// that browser may finish.
	Browser string `json:"b"`
	// Email is the address the link went to, and EmailVersion the account's EmailVersion when
	// it was used: the account must still hold the address as it did then to finish
	// (accountHolding).
	Email        string `json:"e"`
	EmailVersion int    `json:"v"`
}

func secondStepKey(hash string) string { return "ss:" + hash }

// startSecondStep keeps the sign-in of u through email (the link's address) in browser waiting
// for its second step, and returns its token.
func (s *Service) startSecondStep(ctx context.Context, u *ent.User, email, flowID, browser string) (string, error) {
	raw := ids.Secret(SecondStepPrefix)
	b, _ := json.Marshal(pendingSignIn{UserID: u.ID, FlowID: flowID, Browser: ids.Hash(browser),
		Email: email, EmailVersion: u.EmailVersion})
	if err := s.KV.Set(ctx, secondStepKey(ids.Hash(raw)), b, secondStepTTL).Err(); err != nil {
		return "", fmt.Errorf("storing pending sign-in: %w", err)
	}
	return raw, nil
}

func (s *Service) pendingSecondStep(ctx context.Context, raw, browser string) (*pendingSignIn, error) {
	gone := apperr.New(apperr.Gone, "this sign-in has expired; ask for a new link")
	if raw == "" || len(raw) > 128 {
		return nil, gone
	}
	b, err := s.KV.Get(ctx, secondStepKey(ids.Hash(raw))).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, gone
	}
	if err != nil {
		return nil, fmt.Errorf("reading pending sign-in: %w", err)
	}
	var p pendingSignIn
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("reading pending sign-in: %w", err)
	}
	if browser == "" || !s.Equal(p.Browser, ids.Hash(browser)) {
		return nil, apperr.New(apperr.Forbidden, "this sign-in was started in another browser")
	}
	return &p, nil
}

// SecondStepPending reports whether raw is a sign-in waiting for its second step in browser.
func (s *Service) SecondStepPending(ctx context.Context, raw, browser string) (flowID string, err error) {
	p, err := s.pendingSecondStep(ctx, raw, browser)
	if err != nil {
		return "", err
	}
	return p.FlowID, nil
}

// CompleteSecondStep finishes a sign-in that waits for its second step (SignIn.SecondStep of
// UseMagicLink) with a TOTP or recovery code, in the browser that used the link. A wrong code
// answers Invalid and the sign-in keeps waiting (codes are rate limited per IP, and per person
// apart for each browser that signed in to the account before and for all other browsers
// together: mfa.Service.VerifyIn); a right one signs the person in with amr otp+mfa and continues the flow in progress.
// A sign-in whose account no longer holds the link's address (accountHolding: the primary
// address changed, or the address was removed, since the link was used) ends, answering Gone
// as the link then would, before any code is looked at.
func (s *Service) CompleteSecondStep(ctx context.Context, raw, code, ip, browser string) (*SignIn, error) {
	if err := s.pageLimit(ctx, "second:ip", ip, s.Config.Limits.MagicConfirmPerIP); err != nil {
		return nil, err
	}
	p, err := s.pendingSecondStep(ctx, raw, browser)
	if err != nil {
		return nil, err
	}
	if s.MFA == nil {
		return nil, apperr.New(apperr.Gone, "two-step verification is not available")
	}
	u, err := s.accountHolding(ctx, p.UserID, p.Email, p.EmailVersion)
	if apperr.Is(err, apperr.Gone) {
		s.KV.Del(ctx, secondStepKey(ids.Hash(raw)))
	}
	if err != nil {
		return nil, err
	}
	known, err := s.knownBrowser(ctx, browser, p.UserID)
	if err != nil {
		return nil, fmt.Errorf("reading the browser's sign-ins: %w", err)
	}
	amr, err := s.MFA.VerifyIn(ctx, p.UserID, known, code)
	if err != nil {
		return nil, err
	}
	// Single use: of two right codes sent at once, one finishes the sign-in.
	if n, err := s.KV.Del(ctx, secondStepKey(ids.Hash(raw))).Result(); err != nil {
		return nil, fmt.Errorf("ending pending sign-in: %w", err)
	} else if n == 0 {
		return nil, apperr.New(apperr.Gone, "this sign-in has expired; ask for a new link")
	}
	out := &SignIn{User: u, AMR: amr, Address: p.Email}
	if out.FlowID, err = s.signedIn(ctx, u.ID, p.FlowID, browser, secondStepMethod(code)); err != nil {
		return nil, err
	}
	return out, nil
}

// sessionAMR returns the sign-in methods of the session in ctx when it is userID's.
func sessionAMR(ctx context.Context, userID string) []string {
	if sess, ok := auth.SessionFrom(ctx); ok && sess.UserID == userID {
		return sess.AMR
	}
	return nil
}

// sessionLine is the line of userID's session in ctx (auth.Session.Line), "" for none.
func sessionLine(ctx context.Context, userID string) string {
	if sess, ok := auth.SessionFrom(ctx); ok && sess.UserID == userID {
		return sess.Line
	}
	return ""
}

// needsStepUp reports whether req asks (acr_values) for two factors that the session in ctx
// did not use although userID has a second factor. acr_values is voluntary (OpenID Connect
// Core §3.1.2.1): a person without a second factor goes on with one, and so does a person
// whose only one is a passkey while passkeys are off (PasskeysAvailable): the login page
// offers no way to use it.
func (s *Service) needsStepUp(ctx context.Context, req *AuthorizeRequest, userID string) (bool, error) {
	if !slices.Contains(req.ACRValues, mfa.ACRMFA) || mfa.ACR(sessionAMR(ctx, userID)) == mfa.ACRMFA || s.MFA == nil {
		return false, nil
	}
	if on, err := s.MFA.HasSecondFactor(ctx, userID); err != nil || on {
		return on, err
	}
	if !s.PasskeysAvailable() {
		return false, nil
	}
	return s.Passkeys.HasPasskey(ctx, userID)
}

// PasskeysAvailable reports whether passkey sign-in works with this server's base URL.
func (s *Service) PasskeysAvailable() bool { return s.Passkeys != nil && s.Passkeys.Available() }

// PasskeyOptions starts a passkey sign-in in browser: the request options (JSON) for
// navigator.credentials.get, whose challenge only PasskeySignIn from the same browser answers
// (passkey.Service.BeginLoginIn). Rate limited per IP.
func (s *Service) PasskeyOptions(ctx context.Context, ip, browser string) (string, error) {
	if s.Passkeys == nil {
		return "", apperr.New(apperr.NotFound, "passkeys are not available")
	}
	// Every view of the login page asks for options (the browser's passkey autofill): they
	// count against a budget of their own, as large as the authorizations an address may
	// start, so that views at a shared address (an office, a carrier's NAT) do not spend the
	// sign-ins' budget below (PasskeySignIn) and turn passkeys off for everyone there.
	if err := s.addressLimits(ctx, "passkey-options", ip, s.Config.Limits.FlowsPerAddress, s.Config.Limits.FlowsPerNetwork); err != nil {
		return "", err
	}
	return s.Passkeys.BeginLoginIn(ctx, browser)
}

// PasskeySignIn signs a person in with a passkey assertion (JSON) and continues the flow in
// progress (flowID, may be ""), exactly like a magic link: the flow is marked signed in and
// bound to browser. The assertion must answer a challenge PasskeyOptions gave browser (else
// Gone, and the challenge stays for its browser). User verification is required, so the
// sign-in has two factors (amr hwk/swk + mfa). Rate limited per IP.
func (s *Service) PasskeySignIn(ctx context.Context, flowID, response, ip, browser string) (*SignIn, error) {
	if s.Passkeys == nil {
		return nil, apperr.New(apperr.NotFound, "passkeys are not available")
	}
	if err := s.pageLimit(ctx, "passkey:ip", ip, s.Config.Limits.MagicConfirmPerIP); err != nil {
		return nil, err
	}
	uid, amr, err := s.Passkeys.FinishLoginIn(ctx, response, browser)
	if err != nil {
		return nil, err
	}
	u, err := s.Identity.User(ctx, uid)
	if err != nil {
		return nil, err
	}
	out := &SignIn{User: u, AMR: amr}
	if _, err := s.BrowserFlow(ctx, flowID, browser); err != nil {
		flowID = "" // not this browser's authorization (see startSignIn): signed in without it
	}
	if out.FlowID, err = s.signedIn(ctx, uid, flowID, browser, "passkey"); err != nil {
		return nil, err
	}
	return out, nil
}

// secondStepMethod names the second step a sign-in used for its activity event: a TOTP code
// (digits) or a recovery code.
func secondStepMethod(code string) string {
	code = strings.ReplaceAll(strings.TrimSpace(code), " ", "")
	if code != "" && strings.Trim(code, "0123456789") == "" {
		return "totp"
	}
	return "recovery_code"
}
