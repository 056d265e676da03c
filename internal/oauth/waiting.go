package oauth

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"loginsign/internal/apperr"
	"loginsign/internal/ids"
	"loginsign/internal/kv"
	"loginsign/internal/ratelimit"
)

// A waiting sign-in is the "check your email" page of one browser: the address a link was
// sent to, the 6-digit code mailed with it, and what became of it. Its id is a secret kept in
// that browser's cookie; the record in Redis (under the id's hash) is bound to the browser's
// cookie too, so the id alone is worth nothing elsewhere.
//
//   - The code (stored hashed, with the link's lifetime, at most CodeAttempts tries, single
//     use) signs in in the waiting browser, and spends the link: code and link are one
//     sign-in.
//   - The link opened in the same browser signs in there; the waiting page notices and moves on.
//   - The link opened in another browser offers two things: sign in on this device (without
//     the asking browser's authorization, which stays there: ownFlow; the waiting page says
//     so), or approve the waiting browser, which needs the
//     two-digit number the waiting page shows. A person who opens a link they did not ask
//     for cannot hand their account to whoever asked for it without reading that number off
//     the asker's screen.
type waitingSignIn struct {
	Email string `json:"e"`
	// Shown is the address as the waiting page shows it when it is not Email: masked, for a
	// sign-in asked for from an old link's page in another browser (StartSignInFromLink before
	// stop 64; such records live as long as a link, and nothing writes one now).
	Shown   string `json:"sh,omitempty"`
	FlowID  string `json:"f,omitempty"`
	Browser string `json:"b"`
	// Agent is the asking browser's name and system ("Chrome/Windows", describeAgent), and
	// Net the hash of its network (the client address's ratelimit.AddressKey): what the
	// page of the link opened on another device says about who asked (LinkAsker).
	Agent string `json:"ag,omitempty"`
	Net   string `json:"n,omitempty"`
	// Link is the hash of the current link's token; Code the hash of its code.
	Link string `json:"l"`
	Code string `json:"c"`
	// Match is the number the waiting page shows for an approval from another device.
	Match  string `json:"m"`
	SentAt int64  `json:"s"`
	// State is "" (waiting), WaitingSignedIn (the link was used in this browser),
	// WaitingElsewhere (the person signed in on another device instead) or WaitingApproved
	// (approved from another device; UserID and Created wait for this browser to finish).
	State   string `json:"st,omitempty"`
	UserID  string `json:"u,omitempty"`
	Created bool   `json:"cr,omitempty"`
	// EmailVersion is the account's EmailVersion when the approval used the link: the account
	// must still hold Email as it did then for this browser to finish (accountHolding).
	EmailVersion int `json:"ev,omitempty"`
	// Outs is how many times the person signed out in the browser before it began
	// (browserSignOuts): a sign-out there since, or the ending of its session from elsewhere,
	// ends it (signedOutSince).
	Outs int64 `json:"o,omitempty"`
}

// States of a waiting sign-in.
const (
	WaitingSignedIn  = "signed_in"
	WaitingElsewhere = "signed_in_elsewhere"
	WaitingApproved  = "approved"
)

// WaitingPrefix is the prefix of a waiting sign-in's id.
const WaitingPrefix = "lswt_"

// CodeAttempts is how many codes a waiting sign-in accepts; ApproveAttempts how many
// numbers an approval from another device may try.
const (
	CodeAttempts    = 5
	ApproveAttempts = 3
)

func waitingKey(hash string) string { return "wt:" + hash }

// The try counters are kv counters (kv.CounterPrefix), which the embedded store never evicts.
func attemptsKey(hash string) string { return kv.CounterPrefix + "wtn:" + hash }
func approveKey(hash string) string  { return kv.CounterPrefix + "wta:" + hash }

// countTry counts one more try at a waiting sign-in's code or number under key and returns
// the count. The counter lives as long as a link (MagicLinkTTL), set with the count in one
// atomic step: a failure between two calls would leave a counter that never expires.
func (s *Service) countTry(ctx context.Context, key string) (int64, error) {
	ttl := strconv.FormatInt(max(s.Config.MagicLinkTTL.Milliseconds(), 1), 10)
	r, err := s.KV.Transact(ctx, []string{"INCR", key}, []string{"PEXPIRE", key, ttl})
	if err != nil {
		return 0, err
	}
	n, _ := r[0].(int64)
	return n, nil
}

// Waiting is what the "check your email" page shows.
type Waiting struct {
	// Email is the address the link went to, masked when the sign-in was asked for from an
	// old link's page in another browser than the one that asked for that link.
	Email string
	// FlowID is the authorization in progress, "" when none.
	FlowID string
	Match  string
	State  string
	// ResendIn is how long until a new link may be sent (0: now).
	ResendIn time.Duration
}

func digits(n int) string {
	out := make([]byte, n)
	for i := range out {
		d, err := rand.Int(rand.Reader, big.NewInt(10))
		if err != nil {
			panic(err)
		}
		out[i] = byte('0' + d.Int64())
	}
	return string(out)
}

func codeHash(waiting, code string) string { return ids.Hash(waiting + ":" + code) }

// StartSignIn mails a link and a 6-digit code to email like SendMagicLink (same limits, same
// answer whether or not an account exists) and returns the id of the waiting sign-in that
// browser (the raw value of its cookie) keeps.
func (s *Service) StartSignIn(ctx context.Context, email, flowID, ip, browser, agent string) (string, error) {
	email, err := s.signInAddress(email)
	if err != nil {
		return "", err
	}
	return s.startSignIn(ctx, email, "", flowID, ip, browser, agent)
}

// StartSignInFromLink is StartSignIn to the address of the old magic link oldRaw (used or
// expired within the last day: the "email me a new link" of its error page), only in the
// browser that asked for the old link. An unknown link answers Invalid, and so does one asked
// for in another browser: there the address must be typed. Anyone can send a browser to a
// link's page (a link of their own, asked for with their own address), and a press on "email
// me a new link" there left that browser waiting for a sign-in to their account, its page
// naming the address only masked, and the new link, opened in it, signed it in to their
// account without naming it.
func (s *Service) StartSignInFromLink(ctx context.Context, oldRaw, flowID, ip, browser, agent string) (string, error) {
	ml := s.oldLink(ctx, oldRaw)
	if ml == nil {
		return "", apperr.New(apperr.Invalid, "this link is too old to send a new one; type your email address")
	}
	if !s.askedIn(ctx, ml, browser) {
		return "", apperr.New(apperr.Invalid, "this link was asked for in another browser; type your email address to get a new one")
	}
	return s.startSignIn(ctx, ml.Email, "", flowID, ip, browser, agent)
}

func (s *Service) startSignIn(ctx context.Context, email, shown, flowID, ip, browser, agent string) (string, error) {
	if browser == "" {
		return "", apperr.New(apperr.Invalid, "this browser has no cookie; allow cookies for LoginSign")
	}
	if err := s.loginLimits(ctx, email, ip, browser, false); err != nil {
		return "", err
	}
	outs, err := s.browserSignOuts(ctx, ids.Hash(browser))
	if err != nil {
		return "", err
	}
	raw := ids.Secret(WaitingPrefix)
	w := &waitingSignIn{Email: email, Shown: shown, Browser: ids.Hash(browser), Match: newMatch(""),
		Agent: describeAgent(agent), Net: s.networkOf(ip), Outs: outs}
	if flowID != "" {
		// Only this browser's own authorization: one whose id was learnt elsewhere (a pasted
		// address, a shared screen) would otherwise end, signed in as whoever asked here, and
		// give its app a code for them.
		if _, err := s.BrowserFlow(ctx, flowID, browser); err == nil {
			w.FlowID = flowID
		}
	}
	if err := s.sendWaiting(ctx, ids.Hash(raw), w); err != nil {
		return "", err
	}
	return raw, nil
}

func randInt(n int64) int {
	d, err := rand.Int(rand.Reader, big.NewInt(n))
	if err != nil {
		panic(err)
	}
	return int(d.Int64())
}

// sendWaiting mails a new link and code for w (stored under hash), replacing the previous
// ones, and saves w. The old link's end, the reset of the tries and the new code are one
// transaction, so that a failure between them cannot leave the old code with its tries
// counted afresh (five more guesses at it for every resend failing so), nor the old link
// alive after a resend that answered success.
func (s *Service) sendWaiting(ctx context.Context, hash string, w *waitingSignIn) error {
	code := digits(6)
	link, err := s.mailLink(ctx, w.Email, w.FlowID, hash, code, w.Browser)
	if err != nil {
		return err
	}
	old := w.Link
	w.Link, w.Code, w.SentAt = link, codeHash(hash, code), s.Now().Unix()
	b, _ := json.Marshal(w)
	pipe := s.KV.TxPipeline()
	if old != "" {
		pipe.Del(ctx, magicKey(old))
	}
	pipe.Del(ctx, attemptsKey(hash))
	// The tries at the number are the waiting sign-in's, not the link's: they live as long as
	// it does, however many links it is sent.
	pipe.PExpire(ctx, approveKey(hash), s.Config.MagicLinkTTL)
	pipe.Set(ctx, waitingKey(hash), b, s.Config.MagicLinkTTL)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("storing waiting sign-in: %w", err)
	}
	return nil
}

func (s *Service) saveWaiting(ctx context.Context, hash string, w *waitingSignIn) error {
	b, _ := json.Marshal(w)
	if err := s.KV.Set(ctx, waitingKey(hash), b, s.Config.MagicLinkTTL).Err(); err != nil {
		return fmt.Errorf("storing waiting sign-in: %w", err)
	}
	return nil
}

func (s *Service) loadWaiting(ctx context.Context, hash string) (*waitingSignIn, error) {
	b, err := s.KV.Get(ctx, waitingKey(hash)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, apperr.New(apperr.Gone, "this sign-in has expired; ask for a new link")
	}
	if err != nil {
		return nil, fmt.Errorf("reading waiting sign-in: %w", err)
	}
	w := &waitingSignIn{}
	if err := json.Unmarshal(b, w); err != nil {
		return nil, fmt.Errorf("reading waiting sign-in: %w", err)
	}
	return w, nil
}

// waiting returns the waiting sign-in raw of browser.
func (s *Service) waiting(ctx context.Context, raw, browser string) (string, *waitingSignIn, error) {
	if raw == "" || len(raw) > 128 {
		return "", nil, apperr.New(apperr.Gone, "this sign-in has expired; ask for a new link")
	}
	hash := ids.Hash(raw)
	w, err := s.loadWaiting(ctx, hash)
	if err != nil {
		return "", nil, err
	}
	if browser == "" || !s.Equal(w.Browser, ids.Hash(browser)) {
		return "", nil, apperr.New(apperr.Forbidden, "this sign-in was started in another browser")
	}
	if out, err := s.signedOutSince(ctx, w); err != nil {
		return "", nil, err
	} else if out {
		return "", nil, apperr.New(apperr.Gone, "this sign-in has expired; ask for a new link")
	}
	return hash, w, nil
}

// signedOutSince reports whether the person signed out in w's browser since w began
// (BrowserSignedOut), or ended its session from elsewhere (SignedOutElsewhere). A sign-out in
// the browser clears its waiting cookie, but an ending from elsewhere cannot: the "check your
// email" page of a shared computer whose session the person ended from their phone went on
// naming their address, taking their code and finishing an approval for up to
// Config.MagicLinkTTL. It ends as after a sign-out there.
func (s *Service) signedOutSince(ctx context.Context, w *waitingSignIn) (bool, error) {
	n, err := s.browserSignOuts(ctx, w.Browser)
	return n != w.Outs, err
}

// WaitingSignIn returns what the "check your email" page of browser shows.
func (s *Service) WaitingSignIn(ctx context.Context, raw, browser string) (*Waiting, error) {
	_, w, err := s.waiting(ctx, raw, browser)
	if err != nil {
		return nil, err
	}
	out := &Waiting{Email: w.Email, FlowID: w.FlowID, Match: w.Match, State: w.State}
	if w.Shown != "" {
		out.Email = w.Shown
	}
	if wait := time.Unix(w.SentAt, 0).Add(s.Config.ResendAfter).Sub(s.Now()); wait > 0 {
		out.ResendIn = wait
	}
	return out, nil
}

// Resend mails a new link and code for the waiting sign-in (the old ones stop working). It
// answers RateLimited before Config.ResendAfter and when the address's or IP's sign-in limits
// (the same as StartSignIn's) are spent.
func (s *Service) Resend(ctx context.Context, raw, ip, browser string) error {
	hash, w, err := s.waiting(ctx, raw, browser)
	if err != nil {
		return err
	}
	if w.State != "" {
		return apperr.New(apperr.Conflict, "you are already signed in")
	}
	if wait := time.Unix(w.SentAt, 0).Add(s.Config.ResendAfter).Sub(s.Now()); wait > 0 {
		e := apperr.New(apperr.RateLimited, "a link was sent moments ago; you can send another in %d seconds", int(wait.Seconds()+0.999))
		e.RetryAfter = int(wait.Seconds() + 0.999)
		return e
	}
	if err := s.loginLimits(ctx, w.Email, ip, browser, true); err != nil {
		return err
	}
	// The new link comes with a new number: each link has ApproveAttempts tries at it
	// (ApproveOther), and the same number kept across resends let whoever holds the links
	// (the address's owner, when a stranger's browser was made to wait for it) rule out
	// ApproveAttempts more numbers with each resend, the whole 90 within 30 of them.
	w.Match = newMatch(w.Match)
	return s.sendWaiting(ctx, hash, w)
}

// newMatch draws the two-digit number a waiting page shows for an approval from another
// device (10 to 99), never old: a number already tried against is not drawn again.
func newMatch(old string) string {
	for {
		if m := fmt.Sprintf("%02d", 10+randInt(90)); m != old {
			return m
		}
	}
}

// UseCode signs in the waiting browser with the 6-digit code mailed with the link, which it
// spends. A wrong code answers Invalid with the attempts left; after CodeAttempts wrong ones,
// or once the link was used, the code answers Gone.
func (s *Service) UseCode(ctx context.Context, raw, code, ip, browser string) (*SignIn, error) {
	if err := s.pageLimit(ctx, "magic:ip", ip, s.Config.Limits.MagicConfirmPerIP); err != nil {
		return nil, err
	}
	hash, w, err := s.waiting(ctx, raw, browser)
	if err != nil {
		return nil, err
	}
	if w.State != "" {
		return nil, apperr.New(apperr.Gone, "this code was already used; you are signed in")
	}
	code = onlyDigits(code)
	if len(code) != 6 {
		return nil, apperr.New(apperr.Invalid, "the code has 6 digits")
	}
	// A stranger who knows the address can spend its codes' day with wrong guesses of their
	// own waiting sign-ins: the person's browser, which signed in before, counts apart.
	budget, err := s.mailboxBudget(ctx, w.Email, browser)
	if err != nil {
		return nil, err
	}
	if err := s.mailboxDay(ctx, budget, s.Config.Limits.CodePerAddress, dayCodes); err != nil {
		return nil, err
	}
	n, err := s.countTry(ctx, attemptsKey(hash))
	if err != nil {
		return nil, fmt.Errorf("counting code attempts: %w", err)
	}
	if n > CodeAttempts {
		return nil, apperr.New(apperr.Gone, "too many wrong codes; use the link in the mail or send a new one")
	}
	if !s.Equal(w.Code, codeHash(hash, code)) {
		if left := CodeAttempts - int(n); left > 0 {
			return nil, apperr.New(apperr.Invalid, "that code is not right; %d attempts left", left)
		}
		return nil, apperr.New(apperr.Gone, "too many wrong codes; use the link in the mail or send a new one")
	}
	ml, err := s.spendMagicLink(ctx, w.Link)
	if err != nil {
		return nil, err
	}
	if ml == nil {
		return nil, apperr.New(apperr.Gone, "this code has expired or its link was used; ask for a new one")
	}
	out, err := s.signInLink(ctx, ml, browser)
	if err != nil {
		return nil, err
	}
	w.State = WaitingSignedIn
	s.saveWaiting(ctx, hash, w)
	return out, nil
}

func onlyDigits(s string) string {
	out := make([]byte, 0, 6)
	for i := 0; i < len(s) && len(out) <= 6; i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			out = append(out, c)
		case c == ' ' || c == '-':
		default:
			return ""
		}
	}
	return string(out)
}

// linkUsed tells the waiting sign-in of a link that was just used in browser.
func (s *Service) linkUsed(ctx context.Context, ml *magicLink, browser, _ string) {
	if ml.Waiting == "" {
		return
	}
	w, err := s.loadWaiting(ctx, ml.Waiting)
	if err != nil {
		return
	}
	w.State = WaitingElsewhere
	if s.Equal(w.Browser, ids.Hash(browser)) {
		w.State = WaitingSignedIn
	}
	s.saveWaiting(ctx, ml.Waiting, w)
}

// Asker is the browser waiting for a link, as the page of that link opened in another
// browser describes it. A person reading a number off a screen they were shown (a caller
// "from the bank", a fake support page) should see that the device asking is not theirs.
type Asker struct {
	// Account is whose account the link opens: the link's address, masked (MaskEmail).
	Account string
	// Browser and OS name the asking browser ("Chrome", "Windows"); "" when its User-Agent
	// named none.
	Browser, OS string
	// AskedAt is when the link was sent.
	AskedAt time.Time
	// SameNetwork: the asking browser's client address is this request's (an IPv6 /64 as
	// one); meaningful only when NetworkKnown (both addresses are known).
	SameNetwork, NetworkKnown bool
}

// LinkAsker tells the page of an unused link opened in browser (from ip) whether another
// browser is waiting for it: then the page offers to approve that browser instead of signing
// in here, says whose account the link opens (a link someone else asked for and forwarded
// signs in to their account, not the reader's), and which device asked, when and from where.
// It is nil otherwise.
func (s *Service) LinkAsker(ctx context.Context, raw, browser, ip string) *Asker {
	if raw == "" || len(raw) > 128 {
		return nil
	}
	b, err := s.KV.Get(ctx, magicKey(ids.Hash(raw))).Bytes()
	if err != nil {
		return nil
	}
	var ml magicLink
	if json.Unmarshal(b, &ml) != nil || ml.Waiting == "" {
		return nil
	}
	w, err := s.loadWaiting(ctx, ml.Waiting)
	if err != nil || w.State != "" {
		return nil
	}
	if out, err := s.signedOutSince(ctx, w); err != nil || out {
		return nil
	}
	if browser != "" && s.Equal(w.Browser, ids.Hash(browser)) {
		return nil
	}
	here := s.networkOf(ip)
	a := &Asker{Account: MaskEmail(ml.Email), AskedAt: time.Unix(w.SentAt, 0),
		NetworkKnown: w.Net != "" && here != "", SameNetwork: w.Net != "" && w.Net == here}
	a.Browser, a.OS, _ = strings.Cut(w.Agent, "/")
	return a
}

// networkOf is the keyed digest (Config.NetworkKey) of ip's network as per-address limits count it (an IPv6 /64 as one),
// "" for no address, or for a loopback, private or link-local one: that is what a reverse
// proxy not named in LOGINSIGN_TRUSTED_PROXIES shows for every client, and "the same network"
// said of it would reassure falsely.
func (s *Service) networkOf(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil || a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsUnspecified() ||
		a.Is4In6() && (a.Unmap().IsLoopback() || a.Unmap().IsPrivate() || a.Unmap().IsLinkLocalUnicast()) {
		return ""
	}
	key, ok := ratelimit.AddressKey(ip)
	if !ok {
		return ""
	}
	return ids.MAC(s.Config.NetworkKey, key)
}

// describeAgent names the browser and system of a User-Agent header as "Browser/System"
// (either part may be ""), as the dashboard names sessions: a page may tell a person which
// device asked, never the header itself.
func describeAgent(ua string) string {
	first := func(names ...string) string {
		for i := 0; i+1 < len(names); i += 2 {
			if strings.Contains(ua, names[i]) {
				return names[i+1]
			}
		}
		return ""
	}
	browser := first("Edg/", "Edge", "Firefox/", "Firefox", "Chrome/", "Chrome", "Chromium/", "Chrome", "Safari/", "Safari")
	system := first("Android", "Android", "iPhone", "iOS", "iPad", "iOS", "Mac OS X", "macOS", "Windows", "Windows", "CrOS", "ChromeOS", "Linux", "Linux")
	if browser == "" && system == "" {
		return ""
	}
	return browser + "/" + system
}

// ApproveOther spends the link raw to sign in the browser that is waiting for it, not this
// one: match must be the number that browser's page shows (ApproveAttempts tries; the link
// stays usable after a wrong one; the tries are the waiting sign-in's, shared by all the links
// it is sent). The waiting browser then finishes with FinishApproved.
func (s *Service) ApproveOther(ctx context.Context, raw, match, ip string) error {
	if err := s.pageLimit(ctx, "magic:ip", ip, s.Config.Limits.MagicConfirmPerIP); err != nil {
		return err
	}
	gone := apperr.New(apperr.Gone, "this sign-in link was already used or has expired; ask for a new one")
	if raw == "" || len(raw) > 128 {
		return gone
	}
	hash := ids.Hash(raw)
	b, err := s.KV.Get(ctx, magicKey(hash)).Bytes()
	if errors.Is(err, redis.Nil) {
		return gone
	}
	if err != nil {
		return fmt.Errorf("reading magic link: %w", err)
	}
	var ml magicLink
	if err := json.Unmarshal(b, &ml); err != nil {
		return fmt.Errorf("reading magic link: %w", err)
	}
	if ml.Waiting == "" {
		return apperr.New(apperr.Invalid, "no other browser is waiting for this link; sign in here")
	}
	w, err := s.loadWaiting(ctx, ml.Waiting)
	if err != nil {
		return err
	}
	if w.State != "" {
		return gone
	}
	if out, err := s.signedOutSince(ctx, w); err != nil {
		return err
	} else if out {
		return apperr.New(apperr.Invalid, "no other browser is waiting for this link; sign in here")
	}
	// The tries are counted per waiting sign-in, across all the links it is sent: counted per
	// link, whoever holds the links (the owner of an address a stranger's browser was made to
	// wait for) got ApproveAttempts more guesses with each resend, 60 of the 90 numbers with
	// an address's links of a day.
	n, err := s.countTry(ctx, approveKey(ml.Waiting))
	if err != nil {
		return fmt.Errorf("counting approval attempts: %w", err)
	}
	if n > ApproveAttempts {
		return errTooManyNumbers()
	}
	if m := onlyDigits(match); len(m) != 2 || !s.Equal(m, w.Match) {
		if left := ApproveAttempts - int(n); left > 0 {
			return apperr.New(apperr.Invalid, "that is not the number the other device shows; %d attempts left", left)
		}
		return errTooManyNumbers()
	}
	// Spend the link; a concurrent use (here or by the link's own button) leaves 0 to delete.
	if n, err := s.KV.Del(ctx, magicKey(hash)).Result(); err != nil {
		return fmt.Errorf("spending magic link: %w", err)
	} else if n != 1 {
		return gone
	}
	u, created, err := s.linkAccount(ctx, &ml)
	if err != nil {
		return err
	}
	w.State, w.UserID, w.Created, w.EmailVersion = WaitingApproved, u.ID, created, u.EmailVersion
	return s.saveWaiting(ctx, ml.Waiting, w)
}

// errTooManyNumbers is the answer to an approval once the waiting sign-in's ApproveAttempts
// are spent: a new link to it does not help, a new sign-in on the other device does.
func errTooManyNumbers() error {
	return apperr.New(apperr.Forbidden, "too many wrong numbers; sign in on this device instead, or start again on the other device")
}

// FinishApproved signs in the waiting browser once another device approved it (ApproveOther):
// the second step when the person has one, else the flow in progress continues here. It
// works once. An account that no longer holds the link's address as it did at the approval
// (accountHolding: the primary address changed, or the address was removed, since) answers
// Gone, as the link itself then would.
func (s *Service) FinishApproved(ctx context.Context, raw, browser string) (*SignIn, error) {
	hash, w, err := s.waiting(ctx, raw, browser)
	if err != nil {
		return nil, err
	}
	if w.State != WaitingApproved {
		return nil, apperr.New(apperr.Conflict, "this sign-in was not approved")
	}
	// The account is read before the approval is spent, so that a database lost now leaves
	// the approval for a retry rather than spent on a sign-in that cannot finish; it is read
	// again once spent, as a change of the address may have come between.
	if _, err := s.accountHolding(ctx, w.UserID, w.Email, w.EmailVersion); err != nil {
		return nil, err
	}
	// A failed delete is not a finished sign-in: the approval still waits, and a retry
	// finishes it.
	if n, err := s.KV.Del(ctx, waitingKey(hash)).Result(); err != nil {
		return nil, fmt.Errorf("ending waiting sign-in: %w", err)
	} else if n != 1 {
		return nil, apperr.New(apperr.Gone, "this sign-in has already finished")
	}
	u, err := s.accountHolding(ctx, w.UserID, w.Email, w.EmailVersion)
	if err != nil {
		return nil, err
	}
	return s.finishSignIn(ctx, u, w.Created, w.Email, w.FlowID, browser)
}
