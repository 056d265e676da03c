package identity

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"loginsign/internal/ids"
)

// KnownBrowserTTL is how long a browser that signed in to an account stays known to it
// (RememberBrowser), renewed at each of its sign-ins.
const KnownBrowserTTL = 90 * 24 * time.Hour

// browserRef names browser (its cookie's raw value, httpx.BrowserCookie) for userID's
// account: the hash of both, never the cookie.
func browserRef(browser, userID string) string {
	return ids.Hash(browser + "\x00" + userID)
}

// knownBrowserKey holds the record that the browser named by ref signed in to its account;
// its value is the account's browser generation at the time (browsersKey).
func knownBrowserKey(ref string) string { return "knownacct:" + ref }

// browsersKey holds the generation of userID's known browsers: a record written under any
// other generation is forgotten. Absent, the generation is "1", the value records had before
// generations were kept.
func browsersKey(userID string) string { return "knownacct-gen:" + userID }

const firstBrowserGeneration = "1"

// BrowserGeneration is userID's generation of known browsers: a record of a browser's sign-in
// kept elsewhere (oauth's budgets of sign-in mails per browser) that carries another
// generation was forgotten when the person's sessions ended (KnownBrowser). A store that
// cannot be read is an error, never the first generation.
func (s *Sessions) BrowserGeneration(ctx context.Context, userID string) (string, error) {
	gen, err := s.kv.Get(ctx, browsersKey(userID)).Result()
	switch {
	case err == redis.Nil || err == nil && gen == "":
		return firstBrowserGeneration, nil
	case err != nil:
		return "", fmt.Errorf("reading the account's browsers: %w", err)
	}
	return gen, nil
}

// RememberBrowser notes, at a sign-in of userID in browser (its cookie's raw value), that it
// signed in to the account (KnownBrowser), for KnownBrowserTTL.
func (s *Sessions) RememberBrowser(ctx context.Context, browser, userID string) error {
	if browser == "" || len(browser) > 128 || userID == "" {
		return nil
	}
	gen, err := s.BrowserGeneration(ctx, userID)
	if err != nil {
		return err
	}
	pipe := s.kv.TxPipeline()
	pipe.Set(ctx, knownBrowserKey(browserRef(browser, userID)), gen, KnownBrowserTTL)
	// The generation lives as long as the records written under it, so that a generation
	// forgotten by expiry never brings a record back.
	pipe.Expire(ctx, browsersKey(userID), KnownBrowserTTL)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("remembering the browser: %w", err)
	}
	return nil
}

// KnownBrowser returns an opaque, stable name of browser (its cookie's raw value) when it
// signed in to userID's account (RememberBrowser) in the last KnownBrowserTTL and was not
// forgotten since, "" otherwise. Ending every session of the person (SignOutOtherSessions,
// EndAllSessions) forgets every browser but the one of the session kept; ending some of them
// (SignOutSession, EndPasskeySessions, EndAddressSessions) forgets the browsers they were in.
func (s *Sessions) KnownBrowser(ctx context.Context, browser, userID string) (string, error) {
	if browser == "" || len(browser) > 128 || userID == "" {
		return "", nil
	}
	ref := browserRef(browser, userID)
	v, err := s.kv.Get(ctx, knownBrowserKey(ref)).Result()
	if err == redis.Nil {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading the browser's sign-ins: %w", err)
	}
	gen, err := s.BrowserGeneration(ctx, userID)
	if err != nil || v != gen {
		return "", err
	}
	return ref, nil
}

// ForgetBrowsers forgets every browser that signed in to userID's account (a new generation),
// keeping none: what the closing of the account does (account.Service.DeleteAccount). The
// records of other packages that name the account and its generation (oauth's budget of
// sign-in mails and codes of a browser for the account's address) are forgotten with them, so a
// browser that signed in to the closed account, a thief's among them, has no budget of its own
// for the mailbox of whoever signs up with the address next.
func (s *Sessions) ForgetBrowsers(ctx context.Context, userID string) error {
	if userID == "" {
		return nil
	}
	return s.forgetBrowsers(ctx, userID, "")
}

// forgetBrowsers forgets every browser userID's account knows (a new generation) but the one
// named by keep ("" for none), which stays known under the new generation when it was known.
func (s *Sessions) forgetBrowsers(ctx context.Context, userID, keep string) error {
	gen := ids.Secret("")
	kept := false
	if keep != "" {
		v, err := s.kv.Get(ctx, knownBrowserKey(keep)).Result()
		if err != nil && err != redis.Nil {
			return fmt.Errorf("reading the browser kept: %w", err)
		}
		cur, err := s.BrowserGeneration(ctx, userID)
		if err != nil {
			return err
		}
		kept = v != "" && v == cur
	}
	pipe := s.kv.TxPipeline()
	pipe.Set(ctx, browsersKey(userID), gen, KnownBrowserTTL)
	if kept {
		pipe.SetArgs(ctx, knownBrowserKey(keep), gen, redis.SetArgs{Mode: "XX", KeepTTL: true})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("forgetting the account's browsers: %w", err)
	}
	return nil
}

// forgetBrowserRefs forgets the browsers named by refs ("" skipped).
func (s *Sessions) forgetBrowserRefs(ctx context.Context, refs ...string) error {
	var keys []string
	for _, r := range refs {
		if r != "" {
			keys = append(keys, knownBrowserKey(r))
		}
	}
	if len(keys) == 0 {
		return nil
	}
	if err := s.kv.Del(ctx, keys...).Err(); err != nil {
		return fmt.Errorf("forgetting the browsers of the sessions ended: %w", err)
	}
	return nil
}
