package identity

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
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

// MaxKnownBrowsers is the most browsers one account knows at once (RememberBrowser): past it,
// the browser whose last sign-in is oldest is forgotten. The records live 90 days, longer than
// any session, and the embedded store evicts the keys expiring soonest first: an account
// signed in to from a new browser (a private window, a new network) every few minutes wrote
// records without bound that outlived, and pushed out, every session.
const MaxKnownBrowsers = 20

// browserListKey holds userID's known browsers (RememberBrowser): a hash whose fields are the
// browsers' refs and whose values are "<number of the last sign-in> <keys>", the number
// ordering the account's sign-ins, the keys being the other records of that sign-in (oauth's
// budget of sign-in mails), forgotten with the browser.
func browserListKey(userID string) string { return "knownacct-list:" + userID }

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
// signed in to the account (KnownBrowser), for KnownBrowserTTL. also are the keys of other
// records of the sign-in, deleted when the browser is forgotten. The account knows at most
// MaxKnownBrowsers browsers, the ones signed in from last.
func (s *Sessions) RememberBrowser(ctx context.Context, browser, userID string, also ...string) error {
	if browser == "" || len(browser) > 128 || userID == "" {
		return nil
	}
	gen, err := s.BrowserGeneration(ctx, userID)
	if err != nil {
		return err
	}
	ref := browserRef(browser, userID)
	all, err := s.kv.HGetAll(ctx, browserListKey(userID)).Result()
	if err != nil {
		return fmt.Errorf("reading the account's browsers: %w", err)
	}
	// Sign-ins are ordered by a number one past the list's last (a clock may stand still or
	// go back; two sign-ins at once may take the same number, either may go first).
	last := map[string]int64{}
	var next int64
	for r, v := range all {
		last[r], _ = strconv.ParseInt(strings.Fields(v + " 0")[0], 10, 64)
		next = max(next, last[r])
	}
	next++
	last[ref] = next
	all[ref] = strings.Join(append([]string{strconv.FormatInt(next, 10)}, also...), " ")
	pipe := s.kv.TxPipeline()
	pipe.Set(ctx, knownBrowserKey(ref), gen, KnownBrowserTTL)
	pipe.HSet(ctx, browserListKey(userID), ref, all[ref])
	// The generation and the list live as long as the records written under them, so that a
	// generation forgotten by expiry never brings a record back.
	pipe.Expire(ctx, browsersKey(userID), KnownBrowserTTL)
	pipe.Expire(ctx, browserListKey(userID), KnownBrowserTTL)
	if len(all) > MaxKnownBrowsers {
		refs := slices.Collect(maps.Keys(last))
		slices.SortFunc(refs, func(a, b string) int {
			return cmp.Or(cmp.Compare(last[a], last[b]), strings.Compare(a, b))
		})
		s.dropBrowsers(ctx, pipe, userID, refs[:len(refs)-MaxKnownBrowsers], all)
	}
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
	all, err := s.kv.HGetAll(ctx, browserListKey(userID)).Result()
	if err != nil {
		return fmt.Errorf("reading the account's browsers: %w", err)
	}
	var refs []string
	for r := range all {
		if r != keep || !kept {
			refs = append(refs, r)
		}
	}
	pipe := s.kv.TxPipeline()
	pipe.Set(ctx, browsersKey(userID), gen, KnownBrowserTTL)
	if kept {
		pipe.SetArgs(ctx, knownBrowserKey(keep), gen, redis.SetArgs{Mode: "XX", KeepTTL: true})
	}
	// The records of the browsers forgotten go too: under the old generation they count for
	// nothing, and would take room for 90 days.
	s.dropBrowsers(ctx, pipe, userID, refs, all)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("forgetting the account's browsers: %w", err)
	}
	return nil
}

// forgetBrowserRefs forgets the browsers of userID's account named by refs ("" skipped), with
// the other records of their sign-ins (RememberBrowser's also).
func (s *Sessions) forgetBrowserRefs(ctx context.Context, userID string, refs ...string) error {
	refs = slices.DeleteFunc(slices.Clone(refs), func(r string) bool { return r == "" })
	if len(refs) == 0 {
		return nil
	}
	vals, err := s.kv.HMGet(ctx, browserListKey(userID), refs...).Result()
	if err != nil {
		return fmt.Errorf("reading the account's browsers: %w", err)
	}
	entries := map[string]string{}
	for i, v := range vals {
		if v, ok := v.(string); ok {
			entries[refs[i]] = v
		}
	}
	pipe := s.kv.TxPipeline()
	s.dropBrowsers(ctx, pipe, userID, refs, entries)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("forgetting the browsers of the sessions ended: %w", err)
	}
	return nil
}

// dropBrowsers queues on pipe the deletion of the records of the browsers named by refs, of
// userID's account: each one's own, its entry in the account's list and the other records of
// its sign-in that entry names (entries, the list's values by ref).
func (s *Sessions) dropBrowsers(ctx context.Context, pipe redis.Pipeliner, userID string, refs []string, entries map[string]string) {
	if len(refs) == 0 {
		return
	}
	var keys []string
	for _, r := range refs {
		keys = append(keys, knownBrowserKey(r))
		if f := strings.Fields(entries[r]); len(f) > 1 {
			keys = append(keys, f[1:]...)
		}
	}
	pipe.Del(ctx, keys...)
	pipe.HDel(ctx, browserListKey(userID), refs...)
}
