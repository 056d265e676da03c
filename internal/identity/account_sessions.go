package identity

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"loginsign/ent"
	"loginsign/internal/activity"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/store"
)

// SessionView is one of the signed-in person's browser sessions, for their dashboard.
type SessionView struct {
	// ID names the session (the hash of its id, never the cookie value).
	ID        string
	CreatedAt time.Time
	LastSeen  time.Time
	UserAgent string
	// Current is true for the session of this request.
	Current bool
	// AMR are the methods the session signed in with.
	AMR []string
}

// SessionsOf lists the browser sessions of userID, most recent first. Only the person
// themself may list them: anyone else gets NotFound.
func (s *Service) SessionsOf(ctx context.Context, userID string) ([]SessionView, error) {
	sess, ok := auth.SessionFrom(ctx)
	if !ok {
		return nil, apperr.New(apperr.Unauthorized, "sign in first")
	}
	if sess.UserID != userID {
		return nil, apperr.New(apperr.NotFound, "user not found")
	}
	list, err := s.Sessions.List(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := make([]SessionView, 0, len(list))
	for _, l := range list {
		out = append(out, SessionView{ID: l.ID, CreatedAt: l.CreatedAt, LastSeen: l.LastSeen, UserAgent: l.UserAgent, Current: l.ID == sess.ID, AMR: l.AMR})
	}
	slices.SortFunc(out, func(a, b SessionView) int { return b.LastSeen.Compare(a.LastSeen) })
	return out, nil
}

// SignOutOtherSessions ends every session of the signed-in person except this one and returns
// how many ended. It also ends every sign-in not finished yet: the account's email_version is
// bumped first, as a change of the primary address does, so the unused magic links and codes,
// an approval from another device that its browser has not finished, and a sign-in waiting
// for its second step all answer Gone (oauth's accountHolding), and a sign-in that passed that
// check just before is refused once its session exists (the sign-in page compares the version
// again) or ended here with the others. "Sign out everywhere else" is what a person does when
// they suspect someone else got in: a thief who had the person approve a sign-in, or who reads
// the mailbox, must not finish it afterwards.
//
// It needs a recent sign-in (auth.RequireRecentSignIn), as the changes to how the person signs in
// do: from an old session cookie (a copy taken from a browser), repeated every few seconds, it
// ended every session the person started and voided every link mailed to them before they could
// use it, so the thief's copy locked the person out of their account for as long as it lived.
// The person, whose own session may be old too, signs in again and then ends the thief's.
func (s *Service) SignOutOtherSessions(ctx context.Context) (int, error) {
	if _, err := auth.RequireRecentSignIn(ctx, s.Now()); err != nil {
		return 0, err
	}
	sess, _ := auth.SessionFrom(ctx)
	// An account closed meanwhile has no sign-in left to end (its links answer Gone); its
	// sessions still end below.
	if err := s.DB.User.UpdateOneID(sess.UserID).AddEmailVersion(1).Exec(ctx); err != nil && !store.NotFound(err) {
		return 0, err
	}
	return s.endOtherSessions(ctx, sess.UserID, sess.ID)
}

// EndAllSessions ends every session of userID, telling their applications first, and every
// sign-in under way (as SignOutOtherSessions does, keeping none): what the "this wasn't me"
// link of a new authenticator app does (mfa.Service.UndoTOTP), the session that set it up
// being someone else's.
func (s *Service) EndAllSessions(ctx context.Context, userID string) error {
	if err := s.DB.User.UpdateOneID(userID).AddEmailVersion(1).Exec(ctx); err != nil && !store.NotFound(err) {
		return err
	}
	_, err := s.endOtherSessions(ctx, userID, "")
	return err
}

// endOtherSessions ends every session of userID but keep (a session's hash), telling their
// applications first (endingSessions), records how many ended and returns it. When the
// applications cannot be told, no session ends and the error is returned.
//
// It also forgets every browser that signed in to the account (Sessions.KnownBrowser) but the
// one of the session kept, as signing out everywhere forgets the trusted devices at Google or
// GitHub: a thief's browser that signed in once (or holds a copy of the person's cookies)
// otherwise stayed known for 90 days after the person signed everything out, and kept what
// that gives, the "this wasn't me" link of a new authenticator app (mfa.Service.UndoTOTP),
// whose reader turns off the second step the person just added against them, and a budget of
// second-step codes of its own, never paused by the person's wrong-code notice.
func (s *Service) endOtherSessions(ctx context.Context, userID, keep string) (int, error) {
	if err := s.endingSessions(ctx, userID, func(id string) bool { return id != keep }); err != nil {
		return 0, err
	}
	keepBrowser, err := s.browserOf(ctx, userID, keep)
	if err != nil {
		return 0, err
	}
	if err := s.Sessions.forgetBrowsers(ctx, userID, keepBrowser); err != nil {
		return 0, err
	}
	n, err := s.Sessions.DeleteAll(ctx, userID, keep)
	if err != nil || n == 0 {
		return n, err
	}
	return n, s.recordSessionsEnded(ctx, userID, n)
}

// EndPasskeySessions ends the sessions of userID that signed in with the passkey named by
// passkeyRef (passkey.Ref), except the session of this request, and returns how many ended: a
// passkey's removal takes the sessions it started with it (someone who added their own passkey
// to the account must not stay signed in through it). Their applications are told first
// (SessionsEnding: back-channel logouts), as for sessions the person ends from the dashboard.
func (s *Service) EndPasskeySessions(ctx context.Context, userID, passkeyRef string) (int, error) {
	if passkeyRef == "" {
		return 0, nil
	}
	return s.endSessionsSignedInBy(ctx, userID, func(l SessionInfo) bool { return l.Passkey == passkeyRef })
}

// EndAddressSessions ends the sessions of userID whose sign-in proved the mailbox addr (a
// magic link, its code or an approval from another device sent to it), except the session of
// this request, and returns how many ended: removing an address from the account takes the
// sessions it started with it (someone who added their own mailbox to the account must not
// stay signed in through it). Their applications are told first (SessionsEnding), as for a
// passkey's removal. Sessions started before sessions kept their address (NewSession.Address)
// know none and stay.
func (s *Service) EndAddressSessions(ctx context.Context, userID, addr string) (int, error) {
	if addr == "" {
		return 0, nil
	}
	ref := s.Sessions.addressRef(userID, addr)
	return s.endSessionsSignedInBy(ctx, userID, func(l SessionInfo) bool { return l.AddressRef == ref })
}

// SignInAddress is the one of addrs (userID's addresses) that the mailbox sign-in of the
// session of ctx proved, "" when none is (a passkey sign-in, a session from before the digest
// was kept, an address removed since): where mail meant for the person who holds this session
// is surest to be read (mfa.Service.SendChangeCode).
func (s *Service) SignInAddress(ctx context.Context, userID string, addrs []string) (string, error) {
	sess, ok := auth.SessionFrom(ctx)
	if !ok || sess.UserID != userID {
		return "", nil
	}
	list, err := s.Sessions.List(ctx, userID)
	if err != nil {
		return "", err
	}
	for _, l := range list {
		if l.ID != sess.ID || l.AddressRef == "" {
			continue
		}
		for _, a := range addrs {
			if s.Sessions.addressRef(userID, a) == l.AddressRef {
				return a, nil
			}
		}
	}
	return "", nil
}

// endSessionsSignedInBy ends the sessions of userID that signedInBy chooses, except the
// session of this request, telling their applications first (endingSessions), and records
// how many ended.
func (s *Service) endSessionsSignedInBy(ctx context.Context, userID string, signedInBy func(SessionInfo) bool) (int, error) {
	current := ""
	if sess, ok := auth.SessionFrom(ctx); ok {
		current = sess.ID
	}
	list, err := s.Sessions.List(ctx, userID)
	if err != nil {
		return 0, err
	}
	var ending []string
	for _, l := range list {
		if signedInBy(l) && l.ID != current {
			ending = append(ending, l.ID)
		}
	}
	if len(ending) == 0 {
		return 0, nil
	}
	if err := s.endingSessions(ctx, userID, func(id string) bool { return slices.Contains(ending, id) }); err != nil {
		return 0, err
	}
	if err := s.forgetBrowsersOf(ctx, userID, current, list, ending...); err != nil {
		return 0, err
	}
	if err := s.Sessions.deleteHashes(ctx, userID, ending...); err != nil {
		return 0, err
	}
	return len(ending), s.recordSessionsEnded(ctx, userID, len(ending))
}

// endingSessions tells SessionsEnding about the sessions of userID that ending chooses (by
// id), before they are deleted: so a crash between the two loses no logout. A failure is
// returned, and the caller must then delete nothing: SessionsEnding revokes what the
// applications were given from the sessions' lines, and only a session still listed names its
// line. Deleted anyway, the sessions would be gone from the person's list while the tokens a
// thief's apps got from them lived on (a refresh token for weeks), and a retry would find
// nothing left to end. Kept, the person is told it failed, still sees them, and a retry ends
// them and their tokens.
//
// The browsers of the sessions ending are told first (BrowsersSignedOut), but the browser of
// this request's session when it stays: ending a session from the dashboard is what signing
// out in its browser is. Before, the browser a person left signed in on a shared computer,
// whose session they then ended from their phone, still counted as the one that asked for
// their sign-in links, and whoever used it next had their address named whole on those
// links' pages and a new link mailed to it with a press, which a sign-out there prevents.
func (s *Service) endingSessions(ctx context.Context, userID string, ending func(id string) bool) error {
	if s.SessionsEnding == nil && s.BrowsersSignedOut == nil {
		return nil
	}
	list, err := s.Sessions.List(ctx, userID)
	if err != nil {
		return err
	}
	if err := s.browsersSignedOut(ctx, userID, list, ending); err != nil {
		return err
	}
	if s.SessionsEnding == nil {
		return nil
	}
	var since time.Time
	var lines []string
	for _, l := range list {
		if !ending(l.ID) {
			continue
		}
		if since.IsZero() || l.CreatedAt.Before(since) {
			since = l.CreatedAt
		}
		lines = append(lines, l.Line)
	}
	if since.IsZero() {
		return nil
	}
	if err := s.SessionsEnding(ctx, userID, since, lines); err != nil {
		return fmt.Errorf("telling the applications of the sessions that end: %w", err)
	}
	return nil
}

// browsersSignedOut tells BrowsersSignedOut the browsers (SessionInfo.BrowserHash) of the
// sessions of list that ending chooses, each once, those seen last first, but the browser of this request's session
// when that session is not ending.
func (s *Service) browsersSignedOut(ctx context.Context, userID string, list []SessionInfo, ending func(id string) bool) error {
	if s.BrowsersSignedOut == nil {
		return nil
	}
	keep := ""
	if sess, ok := auth.SessionFrom(ctx); ok {
		for _, l := range list {
			if l.ID == sess.ID && !ending(l.ID) {
				keep = l.BrowserHash
			}
		}
	}
	// Those seen last first: BrowsersSignedOut may note only some of them.
	var browsers []string
	for _, l := range slices.SortedStableFunc(slices.Values(list), func(a, b SessionInfo) int { return b.LastSeen.Compare(a.LastSeen) }) {
		if ending(l.ID) && l.BrowserHash != "" && l.BrowserHash != keep && !slices.Contains(browsers, l.BrowserHash) {
			browsers = append(browsers, l.BrowserHash)
		}
	}
	if len(browsers) == 0 {
		return nil
	}
	if err := s.BrowsersSignedOut(ctx, userID, browsers); err != nil {
		return fmt.Errorf("noting the sign-out in the browsers of the sessions that end: %w", err)
	}
	return nil
}

// recordSessionsEnded writes the activity event of n sessions ended by their person. Sessions
// live in Redis, so the event follows the change instead of sharing its transaction. An
// account closed meanwhile gets no event: the sessions ended all the same, and an event
// written after the closing would outlive the account (activity events reference nobody).
func (s *Service) recordSessionsEnded(ctx context.Context, userID string, n int) error {
	return s.DB.Tx(ctx, func(tx *ent.Tx) error {
		// The person first (store.HoldUser): the closing locks them before it deletes their
		// events, so this either commits before or finds the account gone.
		if _, err := store.HoldUser(ctx, tx, s.DB.Dialect, userID); apperr.Is(err, apperr.NotFound) {
			return nil
		} else if err != nil {
			return err
		}
		return activity.Record(ctx, tx, activity.Event{Type: activity.SessionsEnded, Actor: activity.ByPerson,
			UserID: userID, Details: map[string]string{"count": strconv.Itoa(n)}, At: s.Now()})
	})
}

// SignOutSession ends one session of the signed-in person, named by its id (SessionView.ID);
// a session that is not theirs answers NotFound. It needs a recent sign-in, as
// SignOutOtherSessions does: an old session cookie ending each new session of the person as it
// appears would keep them out as surely.
func (s *Service) SignOutSession(ctx context.Context, id string) error {
	if _, err := auth.RequireRecentSignIn(ctx, s.Now()); err != nil {
		return err
	}
	sess, _ := auth.SessionFrom(ctx)
	if id == "" || len(id) > 128 {
		return apperr.New(apperr.NotFound, "session not found")
	}
	if member, err := s.Sessions.Owns(ctx, sess.UserID, id); err != nil || !member {
		if err == nil {
			err = apperr.New(apperr.NotFound, "session not found")
		}
		return err
	}
	if err := s.endingSessions(ctx, sess.UserID, func(sid string) bool { return sid == id }); err != nil {
		return err
	}
	list, err := s.Sessions.List(ctx, sess.UserID)
	if err != nil {
		return err
	}
	if err := s.forgetBrowsersOf(ctx, sess.UserID, sess.ID, list, id); err != nil {
		return err
	}
	if err := s.Sessions.DeleteByID(ctx, sess.UserID, id); err != nil {
		return err
	}
	return s.recordSessionsEnded(ctx, sess.UserID, 1)
}

// browserOf is the browser the session of userID named by hash signed in from
// (SessionInfo.Browser), "" for none or unknown.
func (s *Service) browserOf(ctx context.Context, userID, hash string) (string, error) {
	if hash == "" {
		return "", nil
	}
	list, err := s.Sessions.List(ctx, userID)
	if err != nil {
		return "", err
	}
	for _, l := range list {
		if l.ID == hash {
			return l.Browser, nil
		}
	}
	return "", nil
}

// forgetBrowsersOf forgets the browsers the sessions ending (hashes, of list) signed in from
// (Sessions.KnownBrowser), but the browser of the session current (this request's): a session
// that ends takes with it what its browser was trusted for, so a thief's browser does not
// outlive the session the person ended.
func (s *Service) forgetBrowsersOf(ctx context.Context, userID, current string, list []SessionInfo, ending ...string) error {
	keep := ""
	for _, l := range list {
		if l.ID == current {
			keep = l.Browser
		}
	}
	var refs []string
	for _, l := range list {
		if slices.Contains(ending, l.ID) && l.Browser != keep {
			refs = append(refs, l.Browser)
		}
	}
	return s.Sessions.forgetBrowserRefs(ctx, userID, refs...)
}
