package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"loginsign/ent"
	"loginsign/internal/activity"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/i18n"
	"loginsign/internal/identity"
	"loginsign/internal/ids"
	"loginsign/internal/kv"
	"loginsign/internal/mail"
	"loginsign/internal/ratelimit"
	"loginsign/internal/store"
)

// Flow is an authorization in progress, kept in Redis for FlowTTL while the person signs in
// and consents. Its id travels in the pages' URLs and forms; it is bound to one browser (the
// hash of that browser's random cookie), so a flow id alone is worth nothing in another
// browser. Several flows may run in one browser (tabs).
type Flow struct {
	Request AuthorizeRequest `json:"req"`
	// Browser is the hash of the browser cookie the flow is bound to.
	Browser string `json:"b"`
	// LoginUserID and LoginAt are set when the person signed in during this flow (prompt=login
	// needs that).
	LoginUserID string `json:"lu,omitempty"`
	LoginAt     int64  `json:"la,omitempty"`
	// StepUpAsked is set once the login page has asked the person for the second step that
	// acr_values asks for (flowSignIn): it asks once, and a person who signs in within the
	// flow with one step after that goes on (acr 1fa), so the application decides.
	StepUpAsked bool `json:"su,omitempty"`
	// BrowserOuts is the browser's count of sign-outs (browserSignOuts) when the flow began,
	// kept for a request with a login_hint: the login page fills the hint in only while nobody
	// signed out in the browser since (LoginHint).
	BrowserOuts int64 `json:"bo,omitempty"`
	// id is the flow's id (not stored), so that Continue can save what it adds.
	id string
}

func flowKey(id string) string { return "flow:" + ids.Hash(id) }

// StartFlow stores a validated authorization request bound to browser (the raw value of the
// browser's cookie) and returns the flow id. The request's client address may start
// Limits.FlowsPerAddress of them, and its IPv6 /48 Limits.FlowsPerNetwork (apperr
// RateLimited past either, nothing stored).
func (s *Service) StartFlow(ctx context.Context, req *AuthorizeRequest, browser string) (string, error) {
	if err := s.addressLimits(ctx, "flow", auth.ClientIP(ctx), s.Config.Limits.FlowsPerAddress, s.Config.Limits.FlowsPerNetwork); err != nil {
		return "", err
	}
	f := &Flow{Request: *req, Browser: ids.Hash(browser)}
	if req.LoginHint != "" {
		n, err := s.browserSignOuts(ctx, f.Browser)
		if err != nil {
			return "", err
		}
		f.BrowserOuts = n
	}
	id := ids.Secret(FlowPrefix)
	if err := s.saveFlow(ctx, id, f); err != nil {
		return "", err
	}
	return id, nil
}

// LoginHint is the address the login page of f (bound to browser, its cookie's raw value)
// fills in where userID is signed in ("" for nobody): the request's login_hint (OpenID
// Connect Core §3.1.2.1, a hint the OP may use), which the page presents as the
// application's proposal, or "" when it is not an address, when someone signed out in the
// browser since the flow began (the hint then names the previous person of a shared
// computer, and a pushed request, PAR, kept it out of the browser's history), or when the
// signed-in person's account does not hold it. An application cannot prefill an address of
// its choosing over the account the person is signed in to, one press away from sending
// the person's browser a sign-in for someone else's account (re-authentication, prompt=login
// or max_age, keeps the hint when it is the person's own).
func (s *Service) LoginHint(ctx context.Context, f *Flow, userID, browser string) string {
	hint := f.Request.LoginHint
	if hint == "" {
		return ""
	}
	addr, err := identity.NormalizeEmail(hint)
	if err != nil {
		return ""
	}
	if n, err := s.browserSignOuts(ctx, ids.Hash(browser)); err != nil || n != f.BrowserOuts {
		return ""
	}
	if userID != "" {
		// The signed-in account's addresses are read and the hint compared with them here:
		// the database is never asked about the address the application chose. A lookup by
		// address found another account's or nobody's a few microseconds apart, which anyone
		// signed in to an account of their own could time with login_hints of their choosing.
		u, err := s.Identity.User(ctx, userID)
		if err != nil {
			return ""
		}
		addrs, err := s.Identity.VerifiedAddresses(ctx, u)
		if err != nil || !slices.Contains(addrs, addr) {
			return ""
		}
	}
	return hint
}

func (s *Service) saveFlow(ctx context.Context, id string, f *Flow) error {
	b, _ := json.Marshal(f)
	if err := s.KV.Set(ctx, flowKey(id), b, s.Config.FlowTTL).Err(); err != nil {
		return fmt.Errorf("storing flow: %w", err)
	}
	return nil
}

// BrowserFlow returns the authorization in progress of id if it is bound to browser (the raw
// cookie value); another browser's flow answers Forbidden, an ended or expired one Gone.
func (s *Service) BrowserFlow(ctx context.Context, id, browser string) (*Flow, error) {
	f, err := s.Flow(ctx, id)
	if err != nil {
		return nil, err
	}
	if browser == "" || !s.Equal(f.Browser, ids.Hash(browser)) {
		return nil, apperr.New(apperr.Forbidden, "this sign-in was started in another browser; start again from the app")
	}
	return f, nil
}

// Flow returns the authorization in progress of id, or apperr Gone when it ended or expired.
func (s *Service) Flow(ctx context.Context, id string) (*Flow, error) {
	if id == "" || len(id) > 128 {
		return nil, apperr.New(apperr.Gone, "this sign-in has expired; start again from the app")
	}
	b, err := s.KV.Get(ctx, flowKey(id)).Bytes()
	if err == redis.Nil {
		return nil, apperr.New(apperr.Gone, "this sign-in has expired; start again from the app")
	}
	if err != nil {
		return nil, fmt.Errorf("reading flow: %w", err)
	}
	f := &Flow{id: id}
	if err := json.Unmarshal(b, f); err != nil {
		return nil, fmt.Errorf("reading flow: %w", err)
	}
	return f, nil
}

// EndFlow deletes a flow once its authorization was answered, before the answer goes to the
// client. A flow that could not be deleted must not be answered: it would live on for
// FlowTTL, and the consent page of the same browser, reloaded or posted again, would answer
// the same request with a second code, its sign-in within the flow still counting for
// prompt=login and max_age. The page shows the error instead, and the same request again
// ends the flow and answers (the code issued meanwhile is never delivered and expires). A
// flow another request ended meanwhile (two loads of the consent page at once, each issuing
// a code) is apperr Gone, as if it had expired: one request, one answer to the client.
func (s *Service) EndFlow(ctx context.Context, id string) error {
	n, err := s.KV.Del(ctx, flowKey(id)).Result()
	if err != nil {
		return serverError(fmt.Errorf("ending the flow: %w", err))
	}
	if n == 0 {
		return apperr.New(apperr.Gone, "this sign-in has expired; start again from the app")
	}
	return nil
}

// FlowApplication returns the client of a flow.
func (s *Service) FlowApplication(ctx context.Context, f *Flow) (*ent.Application, error) {
	app, err := s.application(ctx, f.Request.ClientID)
	if err != nil {
		return nil, err
	}
	if app == nil {
		return nil, apperr.New(apperr.Gone, "this application no longer exists")
	}
	return app, nil
}

// magicLink is what a magic-link token stands for, stored in Redis under its hash.
type magicLink struct {
	Email string `json:"e"`
	// UserID and EmailVersion pin an existing account: changing its primary address bumps the
	// version and voids the link.
	UserID       string `json:"u,omitempty"`
	EmailVersion int    `json:"v"`
	FlowID       string `json:"f,omitempty"`
	// Waiting is the hash of the waiting sign-in ("check your email" in the browser that
	// asked) the link belongs to, "" for links sent without one.
	Waiting string `json:"w,omitempty"`
	// ClientID is the app of the flow, kept for the error page's way back to it after the
	// flow ended.
	ClientID string `json:"c,omitempty"`
	// Asker is the hash of the browser cookie of the browser that asked for the link ("" when
	// unknown): only there does the link's error page show the whole address.
	Asker string `json:"a,omitempty"`
	// AskerOuts is how many times the person signed out in the asking browser before it
	// asked (browserSignOuts): a sign-out there since ends the link's showing of its address
	// in that browser (askedIn).
	AskerOuts int64 `json:"ao,omitempty"`
}

func magicKey(hash string) string { return "ml:" + hash }

// usedKey remembers, for a day, the address and flow of a link after it was used or
// expired, so that its error page can offer a new link to the same address. Only the
// holder of the link can look it up, and only the browser that asked for it is shown the
// whole address (a link also travels in forwarded mail, mail scanners and a shared
// computer's history).
// The embedded store evicts these before any other key (kv.UsedLinkPrefix).
func usedKey(hash string) string { return kv.UsedLinkPrefix + hash }

// usedLinkTTL is how long an old link's address is remembered for its error page.
const usedLinkTTL = 24 * time.Hour

// MagicLinkPath is the path of the link mailed to the person.
const MagicLinkPath = "/login/magic"

// SendMagicLink mails a single-use sign-in link to email that carries no authorization flow
// (a flow goes only with StartSignIn, which checks that it is the asking browser's). It is
// rate limited per mailbox (mail.MailboxKey) and per client address (apperr RateLimited with
// RetryAfter) and answers the same whether or not an account exists, so accounts cannot be
// enumerated: without one, the link creates it. StartSignIn does the same and also returns a
// waiting sign-in for the "check your email" page.
func (s *Service) SendMagicLink(ctx context.Context, email, ip string) error {
	email, err := s.signInAddress(email)
	if err != nil {
		return err
	}
	if err := s.loginLimits(ctx, email, ip, "", false); err != nil {
		return err
	}
	_, err = s.mailLink(ctx, email, "", "", "", "")
	return err
}

// signInAddress is email as a sign-in mails it, normalised. An address on the relay domain
// is refused (relay_address), whoever has it: its link would be forwarded to the person behind
// it, whose click would make the alias the primary address of a new account, whose own mail
// the relay then drops as a loop.
func (s *Service) signInAddress(email string) (string, error) {
	email, err := identity.NormalizeEmail(email)
	if err != nil {
		return "", err
	}
	if err := identity.NotRelayAddress(email, s.Identity.RelayDomain); err != nil {
		return "", err
	}
	return email, nil
}

// loginLimits counts one sign-in mail to email asked for from ip by browser (the raw value of
// its cookie; "" when none). The mailbox's caps (per 15 minutes and per day) keep anyone from
// mailing a person links without end, but they are shared by everyone who asks: a stranger
// asking twenty times a day would lock the person out of signing in by mail. So a browser
// that signed in to the account before (RememberBrowser) counts against a budget of its own
// for that mailbox, of the same size, which nobody else can spend.
//
// A mail asked for by any other browser also counts against its source's day
// (Limits.LoginPerSourceDay, ratelimit.SourceKey), before any counter of the mailbox is
// written, unless resend (a new link for a waiting sign-in, whose mailbox counters exist): it
// bounds the day-long counters of addresses one source can have the store keep.
func (s *Service) loginLimits(ctx context.Context, email, ip, browser string, resend bool) error {
	addr, err := s.mailboxBudget(ctx, email, browser)
	if err != nil {
		return err
	}
	// The source's day is read first, so that a source past it writes no counter at all (not
	// even one per /64 its requests come from), and counted once the quarter's budgets let the
	// mail go, so that requests refused for those spend none of it.
	day := s.Config.Limits.LoginPerSourceDay
	day.Name, day.Message = "login:srcday", "too many attempts; try again in a few minutes"
	source, ok := ratelimit.SourceKey(ip)
	if !ok {
		source = ip
	}
	counted := !resend && addr == ids.Hash(mail.MailboxKey(email))
	if counted {
		if err := ratelimit.New(s.KV).Check(ctx, day, source); err != nil {
			return err
		}
	}
	if err := s.addressLimits(ctx, "login", ip, s.Config.Limits.LoginPerIP, s.Config.Limits.LoginPerNetwork); err != nil {
		return err
	}
	if counted {
		if err := ratelimit.New(s.KV).Take(ctx, day, source); err != nil {
			return err
		}
	}
	if err := s.pageLimit(ctx, "login:addr", addr, s.Config.Limits.LoginPerAddress); err != nil {
		return err
	}
	return s.mailboxDay(ctx, addr, s.Config.Limits.LoginPerAddressDay, dayMails)
}

// The fields of a mailbox budget's day counter (mailboxDay): the codes tried for it in the
// low one, which nothing else bounds, and its sign-in mails in the high one, which
// LoginPerAddress bounds to a few hundred a day.
const (
	dayCodes = 0
	dayMails = 1
)

// mailboxDay counts one hit of the mailbox budget (mailboxBudget) against l, one of its day
// budgets: field dayMails of LoginPerAddressDay, dayCodes of CodePerAddress. The two share one
// counter per budget when their windows are the same, as they are by default
// (ratelimit.Limiter.TakeField): each sign-in mail to a new address left two counters that
// live a day, the codes' written by a wrong code at the sign-in a stranger asked for, and
// the embedded store never evicts counters and keeps them to half of it, so a source's day
// of LoginPerSourceDay mails kept twice as many. Counted from the first of either, the
// codes' day starts no later than it did (a code comes with a mail).
func (s *Service) mailboxDay(ctx context.Context, budget string, l Limit, field int) error {
	l.Name, l.Message = "mailbox:"+l.Window.String(), "too many attempts; try again in a few minutes"
	return ratelimit.New(s.KV).TakeField(ctx, l, budget, field)
}

// mailboxBudget is the subject under which the budgets of the mailbox of email (its sign-in
// mails, loginLimits; the 6-digit codes typed for it, UseCode) count a request from browser
// (the raw value of its cookie, "" when none): the mailbox's, shared by everyone who asks,
// unless browser signed in to the account before (RememberBrowser), which has its own.
func (s *Service) mailboxBudget(ctx context.Context, email, browser string) (string, error) {
	if browser != "" {
		known := knownBrowserKey(browser, email)
		v, err := s.KV.Get(ctx, known).Result()
		if err != nil && err != redis.Nil {
			return "", err
		}
		if ok, err := s.stillKnown(ctx, v); err != nil {
			return "", err
		} else if ok {
			return known, nil
		}
	}
	return ids.Hash(mail.MailboxKey(email)), nil
}

// stillKnown reports whether v, the value of a knownBrowserKey record ("" for none), names a
// browser its account still knows: "<user id> <generation>" of RememberBrowser, whose
// generation the person's ending of every session moves on (identity.Sessions.KnownBrowser).
// A record from before generations were kept ("1") names no account and stays known until it
// expires.
func (s *Service) stillKnown(ctx context.Context, v string) (bool, error) {
	if v == "" {
		return false, nil
	}
	uid, gen, ok := strings.Cut(v, " ")
	if !ok {
		return true, nil
	}
	cur, err := s.Identity.Sessions.BrowserGeneration(ctx, uid)
	return err == nil && cur == gen, err
}

// knownBrowserTTL is how long a browser that signed in keeps its own budget of sign-in mails
// for the account's address (loginLimits), renewed at each sign-in.
const knownBrowserTTL = 90 * 24 * time.Hour

// knownBrowserKey names the record that browser (its cookie's raw value) signed in to the
// account whose address is email; it is also that browser's own counter of mails to email.
func knownBrowserKey(browser, email string) string {
	return "knownbr:" + ids.Hash(browser+"\x00"+mail.MailboxKey(email))
}

// RememberBrowser notes, at a sign-in of u in browser (its cookie's raw value), that it
// signed in to the account, whose primary address is u.Email: its later requests for sign-in
// links to that address are counted apart from everyone else's (loginLimits), and so are the
// codes of its later second steps (CompleteSecondStep), until the person ends every session
// (identity.Sessions.KnownBrowser; the mail budget's record carries the account and its
// generation of browsers for that, stillKnown).
func (s *Service) RememberBrowser(ctx context.Context, browser string, u *ent.User) error {
	if browser == "" || u == nil {
		return nil
	}
	gen, err := s.Identity.Sessions.BrowserGeneration(ctx, u.ID)
	if err != nil {
		return err
	}
	key := knownBrowserKey(browser, u.Email)
	if err := s.KV.Set(ctx, key, u.ID+" "+gen, knownBrowserTTL).Err(); err != nil {
		return err
	}
	// The account forgets it with the browser (at most identity.MaxKnownBrowsers are known).
	return s.Identity.Sessions.RememberBrowser(ctx, browser, u.ID, key)
}

// knownBrowser is the key under which CompleteSecondStep counts the codes of browser (its
// cookie's raw value) when it signed in to userID's account before and was not forgotten
// since (identity.Sessions.KnownBrowser), "" for any other browser.
func (s *Service) knownBrowser(ctx context.Context, browser, userID string) (string, error) {
	return s.Identity.Sessions.KnownBrowser(ctx, browser, userID)
}

// KnownBrowser reports whether browser (its cookie's raw value) signed in to userID's account
// in the last 90 days (RememberBrowser) and was not forgotten since: signing out everywhere
// forgets it (identity.Sessions.KnownBrowser).
func (s *Service) KnownBrowser(ctx context.Context, browser, userID string) (bool, error) {
	key, err := s.knownBrowser(ctx, browser, userID)
	return key != "", err
}

// mailLink stores a new magic link for email (flowID may be "", waiting is the hash of the
// waiting sign-in it belongs to, code the 6-digit code printed beside it, asker the hash of
// the asking browser's cookie, all may be "") and mails it. It returns the hash of the link's
// token.
func (s *Service) mailLink(ctx context.Context, email, flowID, waiting, code, asker string) (string, error) {
	ml := magicLink{Email: email, Waiting: waiting, Asker: asker}
	if asker != "" {
		n, err := s.browserSignOuts(ctx, asker)
		if err != nil {
			return "", err
		}
		ml.AskerOuts = n
	}
	// A verified alternative address signs in to its account too (recovery when the primary
	// mailbox is lost).
	u, err := s.Identity.AccountByAddress(ctx, email)
	loc := i18n.FromContext(ctx)
	switch {
	case err == nil:
		ml.UserID, ml.EmailVersion = u.ID, u.EmailVersion
		if u.Language != "" {
			// The mail goes to the account's own address: its setting comes first. The page
			// that asked shows nothing of it (it would tell whether the address has an account).
			loc = i18n.Choose(u.Language, "", "")
		}
	case !apperr.Is(err, apperr.NotFound):
		return "", err
	}
	appName := ""
	if flowID != "" {
		if f, err := s.Flow(ctx, flowID); err == nil {
			ml.FlowID, ml.ClientID = flowID, f.Request.ClientID
			if app, err := s.FlowApplication(ctx, f); err == nil {
				appName = app.Name
			}
		}
	}
	raw := ids.Secret(MagicLinkPrefix)
	hash := ids.Hash(raw)
	b, _ := json.Marshal(ml)
	if err := s.KV.Set(ctx, magicKey(hash), b, s.Config.MagicLinkTTL).Err(); err != nil {
		return "", fmt.Errorf("storing magic link: %w", err)
	}
	if err := s.KV.Set(ctx, usedKey(hash), b, usedLinkTTL).Err(); err != nil {
		return "", fmt.Errorf("storing magic link: %w", err)
	}
	link := s.Config.Issuer + MagicLinkPath + "?" + url.Values{"token": {raw}}.Encode()
	if err := s.Mail.Send(ctx, mail.MagicLinkIn(loc, email, link, code, appName, s.Config.MagicLinkTTL)); err != nil {
		return "", fmt.Errorf("sending magic link: %w", err)
	}
	return hash, nil
}

// OldLink is what the error page of an unusable link may offer: a new link to the same
// address, and the way back to the app whose sign-in it was.
type OldLink struct {
	// Email is the whole address, set only in the browser that asked for the link; Masked
	// is the address with most of its local part hidden, always set. Elsewhere the page
	// names Masked and asks for the address to be typed (StartSignInFromLink works only in
	// the browser that asked).
	Email, Masked string
	FlowID        string // "" when the link carried no flow
	// AppName and AppURL name the flow's app and its website, "" without a flow.
	AppName, AppURL string
}

// UsedLink returns the address and flow of a magic link that can no longer be used (used,
// expired) when it was sent within the last day, as browser (the raw cookie) may see them;
// nil for a link that never existed.
func (s *Service) UsedLink(ctx context.Context, raw, browser string) *OldLink {
	ml := s.oldLink(ctx, raw)
	if ml == nil {
		return nil
	}
	out := &OldLink{Masked: MaskEmail(ml.Email), FlowID: ml.FlowID}
	if s.askedIn(ctx, ml, browser) {
		out.Email = ml.Email
	}
	if ml.ClientID != "" {
		if app, err := s.application(ctx, ml.ClientID); err == nil && app != nil {
			out.AppName, out.AppURL = app.Name, app.Website
		}
	}
	return out
}

// oldLink is the day-long record of the link raw, nil when there is none.
func (s *Service) oldLink(ctx context.Context, raw string) *magicLink {
	if raw == "" || len(raw) > 128 {
		return nil
	}
	b, err := s.KV.Get(ctx, usedKey(ids.Hash(raw))).Bytes()
	if err != nil {
		return nil
	}
	var ml magicLink
	if json.Unmarshal(b, &ml) != nil {
		return nil
	}
	return &ml
}

// askedIn reports whether browser (the raw cookie) is the one that asked for ml, and nobody
// signed out in it since (BrowserSignedOut). The browser cookie outlives a sign-out (it names
// the browser, not the person), and on a shared computer the next person to use the browser
// found the link in its history: its page named the previous person's address whole, and
// mailed them a new link from there with a press, the waiting page naming it again.
func (s *Service) askedIn(ctx context.Context, ml *magicLink, browser string) bool {
	if ml.Asker == "" || browser == "" {
		return false
	}
	hash := ids.Hash(browser)
	if !s.Equal(ml.Asker, hash) {
		return false
	}
	n, err := s.browserSignOuts(ctx, hash)
	return err == nil && n == ml.AskerOuts
}

// SignOutNotes caps the sign-outs of one account that BrowserSignedOut notes in a day.
var SignOutNotes = ratelimit.Rule{Name: "brout-notes", N: 50, Window: 24 * time.Hour}

// signOutsKey counts the sign-outs in the browser whose cookie hashes to hash. It is a kv
// counter (kv.CounterPrefix), which the embedded store never evicts for room: an evicted
// count read as none again, and a link asked for before the first sign-out named its
// address again.
func signOutsKey(hash string) string { return kv.CounterPrefix + "brout:" + hash }

// signOutsTTL is how long a browser's count of sign-outs lives after the last one: longer than
// any link asked for before it is remembered (usedLinkTTL from its mailing), so that by the
// time the count is gone (and starts again from none), no link it was to hide is left.
func (s *Service) signOutsTTL() time.Duration { return usedLinkTTL + s.Config.MagicLinkTTL + time.Hour }

// browserSignOuts is the count of sign-outs in the browser whose cookie hashes to hash (0
// when none is kept).
func (s *Service) browserSignOuts(ctx context.Context, hash string) (int64, error) {
	n, err := s.KV.Get(ctx, signOutsKey(hash)).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("reading the browser's sign-outs: %w", err)
	}
	return n, nil
}

// BrowserSignedOut notes that the person signed out in browser (its cookie's raw value; ""
// notes nothing): the sign-in links asked for in it before no longer count as asked for
// there (askedIn), so their pages name the address only masked and mail no new link to it
// without it being typed (UsedLink, StartSignInFromLink), as in any other browser. Signing out
// ends what identifies the person in the browser; its cookie stays, and with it the browser's
// own budget of sign-in mails (loginLimits), which names no one.
//
// Only a signed-in person's sign-out is noted (the session in ctx), at most
// SignOutNotes.N times a day per account: each note is a kept key (never evicted) for a
// browser cookie the client chooses, and a person with a passkey signs in and out in two
// requests, so one account, signing out each time with a new cookie, wrote as many kept keys
// as its address's sign-in budget allowed (thousands a day per IP address). Past the cap the
// sign-out goes on, unnoted; no one signs out of one account that often in a day.
func (s *Service) BrowserSignedOut(ctx context.Context, browser string) error {
	if browser == "" || len(browser) > 128 {
		return nil
	}
	sess, ok := auth.SessionFrom(ctx)
	if !ok {
		return nil
	}
	return s.noteSignOut(ctx, sess.UserID, ids.Hash(browser))
}

// SignedOutElsewhere notes a sign-out of userID in each of browsers (the hashes of their
// cookies, as sessions keep them: identity.SessionInfo.BrowserHash, those seen last first)
// whose sessions the person ended from elsewhere (identity.Service.BrowsersSignedOut): the
// sign-in links asked for in them before no longer count as asked for there (askedIn), as
// after a sign-out in each. A person who left their account signed in on a shared computer
// and ended that session from their phone otherwise left the next user of the computer their
// address, named whole on the pages of the links in its history, and a new link mailed to it
// with a press. One ending counts once against the same daily cap (SignOutNotes) as a
// sign-out, whatever the number of its browsers, and notes at most SignOutNotes.N of them:
// counted per browser, one "sign out everywhere else" from more than SignOutNotes.N browsers
// spent the day's notes, and every ending after it that day noted nothing. Each browser noted
// had a session that ended, so the notes of one ending are bounded by its sign-ins too.
func (s *Service) SignedOutElsewhere(ctx context.Context, userID string, browsers []string) error {
	browsers = slices.DeleteFunc(slices.Clone(browsers), func(h string) bool { return h == "" })
	if len(browsers) == 0 {
		return nil
	}
	return s.noteSignOut(ctx, userID, browsers[:min(len(browsers), SignOutNotes.N)]...)
}

// noteSignOut counts a sign-out of userID in each browser whose cookie hashes to one of
// hashes, unless the account's SignOutNotes are spent for the day; it takes one of them.
//
// A note the store cannot take (apperr.DependencyDown: above all the embedded store's
// counters filling their half, which distinct counters from enough addresses bring about)
// leaves the sign-out unnoted, as past the cap, and logged: the sign-out or the ending of
// sessions that asked for it goes on, and a store that is down fails that by itself. Returned,
// the error refused the sign-out and every "sign out everywhere else", so whoever filled the
// counters kept a stolen session alive for as long as they kept them full.
func (s *Service) noteSignOut(ctx context.Context, userID string, hashes ...string) error {
	err := s.countSignOut(ctx, userID, hashes)
	if apperr.DependencyDown(err) {
		slog.WarnContext(ctx, "a sign-out goes unnoted: the store took no note", "err", err)
		return nil
	}
	return err
}

// countSignOut is noteSignOut's count, its errors returned.
func (s *Service) countSignOut(ctx context.Context, userID string, hashes []string) error {
	if err := ratelimit.New(s.KV).Take(ctx, SignOutNotes, userID); apperr.Is(err, apperr.RateLimited) {
		return nil
	} else if err != nil {
		return fmt.Errorf("noting the browser's sign-out: %w", err)
	}
	ttl := strconv.FormatInt(s.signOutsTTL().Milliseconds(), 10)
	var cmds [][]string
	for _, hash := range hashes {
		key := signOutsKey(hash)
		cmds = append(cmds, []string{"INCR", key}, []string{"PEXPIRE", key, ttl})
	}
	if _, err := s.KV.Transact(ctx, cmds...); err != nil {
		return fmt.Errorf("noting the browser's sign-out: %w", err)
	}
	return nil
}

// MaskEmail hides most of an address's local part ("an•••@example.com"), for pages that
// must name an address to someone who may not own it.
func MaskEmail(email string) string {
	at := strings.LastIndexByte(email, '@')
	if at < 0 {
		return "•••"
	}
	local := []rune(email[:at])
	keep := 1
	if len(local) > 4 {
		keep = 2
	}
	if len(local) < keep {
		keep = len(local)
	}
	return string(local[:keep]) + "•••" + email[at:]
}

// MagicLinkPending reports whether raw is a magic link that can still be used; it does not
// use it (GET of the link only shows a confirmation, so that mail scanners do not burn it).
func (s *Service) MagicLinkPending(ctx context.Context, raw string) bool {
	if raw == "" || len(raw) > 128 {
		return false
	}
	n, err := s.KV.Exists(ctx, magicKey(ids.Hash(raw))).Result()
	return err == nil && n == 1
}

// MagicLinkFlow is the authorization the pending magic link raw continues, "" when none.
func (s *Service) MagicLinkFlow(ctx context.Context, raw string) string {
	if raw == "" || len(raw) > 128 {
		return ""
	}
	b, err := s.KV.Get(ctx, magicKey(ids.Hash(raw))).Bytes()
	if err != nil {
		return ""
	}
	var ml magicLink
	if json.Unmarshal(b, &ml) != nil {
		return ""
	}
	return ml.FlowID
}

// LinkAccount names whose account the pending magic link raw signs in to: its address,
// masked (MaskEmail), and the id of its account when it had one as the link was sent ("" for
// a link that creates the account); "" and "" for a link that cannot be used. The page of a
// link opened in the browser that asked for it names the account too: that browser need not
// have typed the address (an authorization's login_hint fills it in, and any site can start
// one), and a link its asker sent there would otherwise sign it in to the asker's account
// without a word of whose it is.
func (s *Service) LinkAccount(ctx context.Context, raw string) (masked, userID string) {
	if raw == "" || len(raw) > 128 {
		return "", ""
	}
	b, err := s.KV.Get(ctx, magicKey(ids.Hash(raw))).Bytes()
	if err != nil {
		return "", ""
	}
	var ml magicLink
	if json.Unmarshal(b, &ml) != nil || ml.Email == "" {
		return "", ""
	}
	return MaskEmail(ml.Email), ml.UserID
}

// SignIn is the outcome of a used magic link.
type SignIn struct {
	User    *ent.User
	Created bool
	// FlowID is the authorization that was in progress, "" when none (or it expired).
	FlowID string
	// AMR are the methods the sign-in used (RFC 8176), kept with the session.
	AMR []string
	// Address is the mailbox a mailbox sign-in proved (the link's address, for its code, an
	// approval from another device and the second step after them too), "" for a passkey: the
	// session keeps a digest of it, so that removing the address ends the session
	// (identity.NewSession.Address).
	Address string
	// SecondStep, when set, means the person has two-step verification: nobody is signed in
	// yet; CompleteSecondStep with this token and a code finishes the sign-in.
	SecondStep string
}

// UseMagicLink spends a magic link (single use, even when it then fails) and signs the person
// in: it creates the account with its Global User ID on first use, marks the flow in progress
// as signed in when browser is the one it is bound to (the one that asked for the link; opened
// in another browser, the link signs in there without the flow: ownFlow), and records the
// sign-in time. An unknown, used or expired link, one voided by a change of the primary
// address, or one sent to an alternative address the account no longer holds answers apperr
// Gone.
//
// The link is a single-use secret no one can guess, so its client address's limit fails open:
// a store that takes no count (apperr.DependencyDown: above all the embedded store's counters
// filling their half, which distinct counters from enough addresses bring about) lets the
// link go on, and a store that is down fails it by itself when the link is read. Refused, every
// person who had asked for a link before the flood, and opened it on another network than the
// one they asked from (a phone's), answered 503 for as long as the counters were kept full.
func (s *Service) UseMagicLink(ctx context.Context, raw, ip, browser string) (*SignIn, error) {
	if err := s.pageLimit(ctx, "magic:ip", ip, s.Config.Limits.MagicConfirmPerIP); apperr.DependencyDown(err) {
		slog.WarnContext(ctx, "a sign-in link is used uncounted: the store took no count", "err", err)
	} else if err != nil {
		return nil, err
	}
	gone := apperr.New(apperr.Gone, "this sign-in link was already used or has expired; ask for a new one")
	if raw == "" || len(raw) > 128 {
		return nil, gone
	}
	ml, err := s.spendMagicLink(ctx, ids.Hash(raw))
	if err != nil {
		return nil, err
	}
	if ml == nil {
		return nil, gone
	}
	out, err := s.signInLink(ctx, ml, browser)
	if err != nil {
		return nil, err
	}
	s.linkUsed(ctx, ml, browser, out.User.ID)
	return out, nil
}

// spendMagicLink takes the link whose token hashes to hash out of Redis (once: a concurrent
// use finds nothing). It returns nil without an error when there is no such link (used,
// expired or unknown).
func (s *Service) spendMagicLink(ctx context.Context, hash string) (*magicLink, error) {
	b, err := s.KV.GetDel(ctx, magicKey(hash)).Bytes()
	if err == redis.Nil {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading magic link: %w", err)
	}
	var ml magicLink
	if err := json.Unmarshal(b, &ml); err != nil {
		return nil, fmt.Errorf("reading magic link: %w", err)
	}
	return &ml, nil
}

// linkAccount returns the account a used link signs in to, creating it on first use. An
// account that no longer holds the link's address (accountHolding) answers Gone.
func (s *Service) linkAccount(ctx context.Context, ml *magicLink) (*ent.User, bool, error) {
	if ml.UserID == "" {
		return s.Identity.EnsureUser(ctx, ml.Email)
	}
	u, err := s.accountHolding(ctx, ml.UserID, ml.Email, ml.EmailVersion)
	if err != nil {
		return nil, false, err
	}
	return u, false, nil
}

// accountHolding returns the account userID when it still holds email, the address a mailbox
// sign-in went through, as it did then: its primary address has not changed since (version
// is the account's EmailVersion then) and email is that address or one of its verified
// alternatives. A link is checked when it is used; what a used link leaves waiting (an
// approval from another device, a second step) is checked again when it finishes, so that a
// change of the primary address, or the removal of the address, ends it as it ends the
// unused links. Otherwise, and when the account is gone, it answers apperr Gone, as a used
// link does.
func (s *Service) accountHolding(ctx context.Context, userID, email string, version int) (*ent.User, error) {
	u, err := s.Identity.User(ctx, userID)
	if err != nil {
		if apperr.Is(err, apperr.NotFound) {
			return nil, apperr.New(apperr.Gone, "this sign-in link was already used or has expired; ask for a new one")
		}
		return nil, err
	}
	holds := u.EmailVersion == version
	if holds && u.Email != email {
		if holds, err = s.Identity.HoldsAddress(ctx, u, email); err != nil {
			return nil, err
		}
	}
	if !holds {
		return nil, ErrLinkVoided()
	}
	return u, nil
}

// ErrLinkVoided is the answer to a mailbox sign-in (a link, its code, an approval from another
// device, a second step after them) whose account no longer holds its address as it did, or
// whose person signed out everywhere else since: apperr Gone.
func ErrLinkVoided() error {
	return apperr.New(apperr.Gone, "this sign-in link is no longer valid: the account's addresses or sessions changed; ask for a new one")
}

// signInLink signs in with a spent link (or its code) in browser: the account, then the
// second step when the person has one, else the flow in progress continues in browser.
func (s *Service) signInLink(ctx context.Context, ml *magicLink, browser string) (*SignIn, error) {
	u, created, err := s.linkAccount(ctx, ml)
	if err != nil {
		return nil, err
	}
	return s.finishSignIn(ctx, u, created, ml.Email, ml.FlowID, browser)
}

// finishSignIn is the end of every mailbox sign-in (link, code, approval from another
// device) through the mailbox address, which the caller checked the account holds
// (accountHolding): the second step when the person has one, else the sign-in is recorded
// and the flow in progress (may be "") continues in browser. The sign-in carries address
// (SignIn.Address) for its session. created (SignIn.Created) says whether the sign-in made
// the account; it does not decide the second step, which is read from the account as it is
// now: an approval from another device creates the account when it is made and the waiting
// browser finishes later (FinishApproved), and two-step verification turned on for the new
// account in between must be asked for. Before, a created account skipped the check.
func (s *Service) finishSignIn(ctx context.Context, u *ent.User, created bool, address, flowID, browser string) (*SignIn, error) {
	out := &SignIn{User: u, Created: created, Address: address}
	var err error
	flowID = s.ownFlow(ctx, flowID, browser)
	if s.MFA != nil {
		on, err := s.MFA.Enabled(ctx, out.User.ID)
		if err != nil {
			return nil, err
		}
		if on {
			if out.SecondStep, err = s.startSecondStep(ctx, out.User, address, flowID, browser); err != nil {
				return nil, err
			}
			return out, nil
		}
	}
	if out.FlowID, err = s.signedIn(ctx, out.User.ID, flowID, browser, "magic_link"); err != nil {
		return nil, err
	}
	return out, nil
}

// ownFlow is flowID when that authorization is bound to browser (the raw value of its cookie:
// the browser that asked for the link, StartSignIn), else "" (also when it ended, expired or
// cannot be read): a mailbox sign-in finished in another browser signs the person in there
// without the flow. Whoever asked for the link may not be the person: someone who typed the
// person's address into the sign-in of their own application (their client, their
// redirect_uri) would otherwise have the person's "sign in on this device" carry that
// authorization into the person's browser, to a consent screen for an application the person
// never opened, or, with the consent remembered, straight to a code for it. The person who
// did ask on the other device approves it there with the number it shows (ApproveOther),
// which finishes the flow in the browser it belongs to.
func (s *Service) ownFlow(ctx context.Context, flowID, browser string) string {
	if flowID == "" {
		return ""
	}
	if _, err := s.BrowserFlow(ctx, flowID, browser); err != nil {
		return ""
	}
	return flowID
}

// signedIn records a finished sign-in of userID by method (an activity.SignIn detail): the
// sign-in time and its activity event in one transaction, and the flow in progress (flowID,
// may be "") marked as signed in when it is bound to browser. It returns the flow's id, "" when
// there was none, it expired, or it is another browser's (ownFlow).
func (s *Service) signedIn(ctx context.Context, userID, flowID, browser, method string) (string, error) {
	now := s.Now()
	var f *Flow
	if flowID != "" {
		f, _ = s.Flow(ctx, flowID)
	}
	if f != nil && !s.Equal(f.Browser, ids.Hash(browser)) {
		// Another browser's authorization (ownFlow): signed in without it.
		f = nil
	}
	ev := activity.Event{Type: activity.SignIn, Actor: activity.ByPerson, UserID: userID,
		Details: map[string]string{"method": method}, At: now}
	if f != nil {
		ev.ApplicationID = f.Request.ClientID
	}
	err := s.DB.Tx(ctx, func(tx *ent.Tx) error {
		if err := tx.User.UpdateOneID(userID).SetLastLoginAt(now).Exec(ctx); store.NotFound(err) {
			// The account closed since the link was used (the update waits for the closing's
			// lock): the link signs in no more, as the page says of a link to an account gone.
			return apperr.New(apperr.Gone, "this sign-in link was already used or has expired; ask for a new one")
		} else if err != nil {
			return err
		}
		if s.Config.ActivityOff {
			return nil
		}
		return activity.Record(ctx, tx, ev)
	})
	if apperr.Is(err, apperr.Gone) {
		return "", err
	} else if err != nil {
		return "", fmt.Errorf("recording sign-in: %w", err)
	}
	if f == nil {
		return "", nil
	}
	f.LoginUserID, f.LoginAt = userID, now.Unix()
	if err := s.saveFlow(ctx, flowID, f); err != nil {
		return "", err
	}
	return flowID, nil
}

// addressLimits counts one hit of the client address ip against perAddress under name+":ip"
// (an IPv6 client by its /64) and, for an IPv6 client, of its /48 against perNetwork under
// name+":net" (ratelimit.NetworkKey): a /48 holds 65,536 /64s. The /48 is counted after the
// /64, so that a /64 past its own budget spends none of its neighbours'.
func (s *Service) addressLimits(ctx context.Context, name, ip string, perAddress, perNetwork Limit) error {
	if err := s.pageLimit(ctx, name+":ip", ip, perAddress); err != nil {
		return err
	}
	if network, ok := ratelimit.NetworkKey(ip); ok {
		return s.pageLimit(ctx, name+":net", network, perNetwork)
	}
	return nil
}

// pageLimit counts one hit of subject against l under name (ratelimit.Limiter): apperr
// RateLimited with RetryAfter past it.
func (s *Service) pageLimit(ctx context.Context, name, subject string, l Limit) error {
	l.Name, l.Message = name, "too many attempts; try again in a few minutes"
	return ratelimit.New(s.KV).Take(ctx, l, subject)
}
