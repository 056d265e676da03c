// Package ratelimit is LoginSign's one limiter. Its counters are fixed windows in Redis
// (package kv), so every instance shares them; domain functions call it for the operation
// they protect (redeem, sign-in mail, client authentication, token, healthcheck, GraphQL), so
// REST, GraphQL and pages all meet the same limits.
//
// A subject that is a client address (an IP address, alone or after one "kind:" prefix such
// as GraphQL's "ip:") is counted by its AddressKey: an IPv6 address by its /64. Callers pass
// the full address (auth.ClientIP), which sessions and logs keep; only the counter groups it.
//
// An IPv6 subject is also counted by its /48 (NetworkKey), against Rule.Network: a /48 holds
// 65,536 /64s, each with a budget and a counter of its own, and a counter lives in the store
// until its window ends. The /48 is read before the /64 is counted and counted after it, so
// that once a /48 has spent its budget no further /64 of it writes a counter (one /48 keeps at
// most about Network counters of a rule, not 65,536), and a /64 past its own budget spends
// none of its neighbours'.
package ratelimit

import (
	"context"
	"fmt"
	"hash/fnv"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/kv"
)

// Rule is at most N hits per Window for one subject. Name keys the counters, so two rules
// with the same name share them.
type Rule struct {
	Name   string
	N      int
	Window time.Duration
	// Message is the text of the 429 past the limit; a %d in it is replaced by the seconds
	// to wait. Empty: "too many requests; retry later".
	Message string
	// Network is the budget per Window of one IPv6 /48 (NetworkKey), all its /64s together,
	// when the subject is an address; 0: NetworkFactor × N.
	Network int
}

// NetworkSpread is how many /64s of an IPv6 /48 get a counter of their own for a rule in a
// window (TakeN); a further /64 gets none and counts against one of NetworkSpread shares of
// the /48 (shareKey) instead: it bounds the counters of one rule that one /48 has the store
// keep to about twice NetworkSpread, not networkN.
const NetworkSpread = 16

// NetworkFactor is a rule's default budget for an IPv6 /48 in multiples of its N: the /64s of
// sixteen neighbours may each spend the whole of theirs.
const NetworkFactor = 16

// Or returns r with N and Window taken from def where r leaves them zero.
func (r Rule) Or(def Rule) Rule {
	if r.Name == "" {
		r.Name = def.Name
	}
	if r.N <= 0 {
		r.N = def.N
	}
	if r.Window <= 0 {
		r.Window = def.Window
	}
	if r.Message == "" {
		r.Message = def.Message
	}
	if r.Network <= 0 {
		r.Network = def.Network
	}
	return r
}

// networkN is r's budget for a /48.
func (r Rule) networkN() int {
	if r.Network > 0 {
		return r.Network
	}
	return r.N * NetworkFactor
}

func (r Rule) String() string { return fmt.Sprintf("%s: %d per %s", r.Name, r.N, r.Window) }

// key is the Redis key of subject's counter under r.
func (r Rule) key(subject string) string { return r.Name + ":" + subjectKey(subject) }

// networkKey is the Redis key of the counter of subject's IPv6 /48 under r; ok is false when
// subject is not an IPv6 address (alone or after one "kind:" prefix, as subjectKey reads it).
func (r Rule) networkKey(subject string) (key string, ok bool) {
	if !strings.Contains(subject, ":") {
		return "", false // ids, hashes and IPv4 addresses
	}
	if _, isAddr := AddressKey(subject); isAddr {
		k, ok := NetworkKey(subject)
		return r.Name + ":" + k, ok
	}
	if kind, addr, found := strings.Cut(subject, ":"); found {
		if k, ok := NetworkKey(addr); ok {
			return r.Name + ":" + kind + ":" + k, true
		}
	}
	return "", false
}

// subjectKey is the counter of subject: the AddressKey of an address subject (an IP address,
// or "kind:" and an IP address), subject itself otherwise.
func subjectKey(subject string) string {
	if !strings.ContainsAny(subject, ".:") {
		return subject // ids and hashes, on every token request: no address to parse
	}
	if k, ok := AddressKey(subject); ok {
		return k
	}
	if kind, addr, ok := strings.Cut(subject, ":"); ok {
		if k, ok := AddressKey(addr); ok {
			return kind + ":" + k
		}
	}
	return subject
}

// AddressKey is what a per-address limit counts for the client address s: an IPv4 address as
// it is ("192.0.2.7"; an IPv4-mapped IPv6 address as its IPv4 address), an IPv6 address as
// its /64 ("2001:db8:1:2::/64", any zone dropped). A home line or a VPS is handed a whole /64,
// so counting single IPv6 addresses would give one party 2^64 budgets. ok is false when s is
// not an IP address.
func AddressKey(s string) (key string, ok bool) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return "", false
	}
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return a.String(), true
	}
	return netip.PrefixFrom(a, 64).Masked().String(), true
}

// NetworkKey is the IPv6 /48 of the client address s ("2001:db8:1::/48"), the network a
// site is handed (RFC 6177), for the limits that also count a whole network: a /48 holds
// 65,536 /64s, each with budgets of its own under AddressKey, and tunnel brokers hand one out
// for free. ok is false for an IPv4 address (its AddressKey is already one address) and for
// anything that is not an IP address.
func NetworkKey(s string) (key string, ok bool) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return "", false
	}
	a = a.Unmap().WithZone("")
	if !a.Is6() {
		return "", false
	}
	return netip.PrefixFrom(a, 48).Masked().String(), true
}

// SourceKey is the one source of the client address s for the budgets that count a whole
// party, not a line: an IPv4 address as it is (behind carrier-grade NAT, many people), an IPv6
// address by its /48 (NetworkKey), the network a site is handed, of which a tunnel broker
// hands out one for free. Such a budget is one counter per source however many /64s the /48
// spreads its requests over (a budget counted per /64 as well would write a counter for each
// of them). ok is false when s is not an IP address.
func SourceKey(s string) (key string, ok bool) {
	if k, ok := NetworkKey(s); ok {
		return k, true
	}
	return AddressKey(s)
}

// Limiter counts hits in Redis.
type Limiter struct {
	KV *kv.Store
}

// New returns a limiter on k.
func New(k *kv.Store) *Limiter { return &Limiter{KV: k} }

// Take counts one hit of subject under r. Over the limit it returns Exceeded (apperr
// RateLimited with RetryAfter); a Redis failure is returned as it is (internal).
func (l *Limiter) Take(ctx context.Context, r Rule, subject string) error {
	return l.TakeN(ctx, r, subject, 1)
}

// TakeField is Take of one hit in field (0 or 1) of subject's counter under r, which holds the
// hits of two rules of the same Name and Window, each against its own N (kv.LimitField): such a
// pair keeps one counter per subject in the store, not two. For subjects that are not client
// addresses (ids, hashes): an IPv6 address's /48 is not counted.
func (l *Limiter) TakeField(ctx context.Context, r Rule, subject string, field int) error {
	ok, retry, err := l.KV.LimitField(ctx, r.key(subject), field, r.N, r.Window)
	if err != nil {
		return err
	}
	if !ok {
		return r.exceeded(retry)
	}
	return nil
}

// Return gives back the hit of subject that Take counted under r for an operation that then
// failed for a reason of the server's own (a database lost), so that such failures spend none
// of a budget the caller has few of.
func (l *Limiter) Return(ctx context.Context, r Rule, subject string) error {
	key, nk, network, err := l.ownKey(ctx, r, subject)
	if err != nil {
		return err
	}
	if err := l.KV.Unlimit(ctx, key, 1, r.Window); err != nil {
		return err
	}
	if network {
		return l.KV.Unlimit(ctx, nk, 1, r.Window)
	}
	return nil
}

// TakeForUser counts one hit of the signed-in person under r (Unauthorized signed out); a nil
// Limiter counts nothing, for the domain services whose limits tests may leave off.
func (l *Limiter) TakeForUser(ctx context.Context, r Rule) error {
	if l == nil {
		return nil
	}
	uid, err := auth.RequireUser(ctx)
	if err != nil {
		return err
	}
	return l.Take(ctx, r, uid)
}

// TakeN is Take counting n hits at once: a weighted cost such as a GraphQL operation's
// complexity. An IPv6 subject's /48 is read first (spent: Exceeded, and the /64 is not
// counted, so writes no counter) and counted after the /64 when the /64 is within its budget.
//
// A /48 whose first NetworkSpread /64s have counters in the window gives no further /64 one:
// the hit of a /64 that has none is counted against its share of the /48 (shareKey, r.N for
// each of NetworkSpread shares), and a /64 already counted keeps its own budget. Each /64 otherwise wrote a counter of its own, which the embedded store keeps to
// half its keys and never evicts: one /48 kept up to networkN of them live per rule (9,600 for
// the authorization requests' a quarter of an hour, and as many for the login page's passkey
// challenges), so some fifty /48s, which tunnel brokers hand out for free, kept the counters'
// half full and every new counter, so every sign-in on the server, answered 503.
func (l *Limiter) TakeN(ctx context.Context, r Rule, subject string, n int) error {
	nk, network := r.networkKey(subject)
	key, limit := r.key(subject), r.N
	if network {
		rep, err := l.KV.Transact(ctx, append(kv.PeekCmds(nk), []string{"EXISTS", kv.CounterPrefix + key}, []string{"GET", kv.CounterPrefix + nk + "#own"})...)
		if err != nil {
			return fmt.Errorf("rate limit: %w", err)
		}
		ok, retry := kv.ReadPeek(rep, r.networkN())
		if !ok {
			return r.exceeded(retry)
		}
		exists, _ := rep[2].(int64)
		v, _ := rep[3].(string)
		owned, _ := strconv.ParseInt(v, 10, 64)
		switch {
		case exists > 0:
		case owned < NetworkSpread:
			// One of the first NetworkSpread /64s of the /48 in the window: a counter of
			// its own, however many hits the /48 has, so that a few busy /64s (a company's
			// sites, a campus's gateways) never share a budget.
			if _, _, err := l.KV.LimitN(ctx, nk+"#own", 1, NetworkSpread, r.Window); err != nil {
				return err
			}
		default:
			key = r.shareKey(subject, nk)
		}
	}
	ok, retry, err := l.KV.LimitN(ctx, key, n, limit, r.Window)
	if err != nil {
		return err
	}
	if !ok {
		return r.exceeded(retry)
	}
	if network {
		ok, retry, err := l.KV.LimitN(ctx, nk, n, r.networkN(), r.Window)
		if err != nil {
			return err
		}
		if !ok {
			return r.exceeded(retry)
		}
	}
	return nil
}

// shareKey is the counter that a /64 of a busy /48 (nk, NetworkSpread /64s counted in the
// window) with no counter of its own counts against: one of NetworkSpread shares of the /48, picked by
// the /64, each with the budget of one /64 (r.N). Counted against the /48 alone, the hits of
// such a /64 wrote no counter of its own, so Take and Check never saw it past r.N: a single
// /64 (a rented server's, in its provider's busy /48) had the /48's whole budget, sixteen
// times its own, for every rule (sign-in mails, codes and links tried, license codes
// redeemed, authorization requests, GraphQL cost), and spent its neighbours' with it. A share
// bounds it to r.N again while a /48 still keeps at most NetworkSpread counters of shares per
// rule, and the shares together are the /48's budget, which still caps them all.
func (r Rule) shareKey(subject, nk string) string {
	h := fnv.New32a()
	h.Write([]byte(subjectKey(subject)))
	return nk + "#" + strconv.Itoa(int(h.Sum32()%NetworkSpread))
}

// ownKey is the counter that subject's hits are counted against now: its own (r.key), or,
// for a /64 of a busy /48 with none of its own, its share (shareKey). One round trip.
func (l *Limiter) ownKey(ctx context.Context, r Rule, subject string) (key, nk string, network bool, err error) {
	key = r.key(subject)
	nk, network = r.networkKey(subject)
	if !network {
		return key, "", false, nil
	}
	rep, err := l.KV.Transact(ctx, []string{"EXISTS", kv.CounterPrefix + key})
	if err != nil {
		return "", "", false, fmt.Errorf("rate limit: %w", err)
	}
	if exists, _ := rep[0].(int64); exists == 0 {
		key = r.shareKey(subject, nk)
	}
	return key, nk, true, nil
}

// Check returns Exceeded when subject has already used up r in the current window, without
// counting a hit. Rules that count failures use Check before the attempt and Take after a
// failure, so successes never use up the budget.
//
// An IPv6 subject is also refused when its /48 has spent r.Network.
func (l *Limiter) Check(ctx context.Context, r Rule, subject string) error {
	nk, network := r.networkKey(subject)
	if !network {
		ok, retry, err := l.KV.Peek(ctx, r.key(subject), r.N)
		if err != nil {
			return err
		}
		if !ok {
			return r.exceeded(retry)
		}
		return nil
	}
	// The /64's counter, or its share when it has none (TakeN), and the /48: one round trip.
	cmds := append(kv.PeekCmds(r.key(subject)), kv.PeekCmds(r.shareKey(subject, nk))...)
	cmds = append(append(cmds, kv.PeekCmds(nk)...), []string{"EXISTS", kv.CounterPrefix + r.key(subject)})
	rep, err := l.KV.Transact(ctx, cmds...)
	if err != nil {
		return fmt.Errorf("rate limit: %w", err)
	}
	own := rep[:2]
	if exists, _ := rep[6].(int64); exists == 0 {
		own = rep[2:4]
	}
	ok, retry := kv.ReadPeek(own, r.N)
	if ok {
		ok, retry = kv.ReadPeek(rep[4:6], r.networkN())
	}
	if !ok {
		return r.exceeded(retry)
	}
	return nil
}

// Exceeded is the error of a caller over a limit: apperr RateLimited whose RetryAfter is
// retry rounded up to whole seconds (at least 1).
func Exceeded(retry time.Duration) *apperr.Error {
	return Rule{}.exceeded(retry)
}

// exceeded is Exceeded with r's Message. The message keeps its format, so that the catalogs
// translate it for people (apperr.Error.MessageIn): formatted as "%s", every 429 a page or the
// dashboard showed was English.
func (r Rule) exceeded(retry time.Duration) *apperr.Error {
	secs := max(1, int((retry+time.Second-1)/time.Second))
	var e *apperr.Error
	switch {
	case r.Message == "":
		e = apperr.New(apperr.RateLimited, "too many requests; retry later")
	case strings.Count(r.Message, "%") == 1 && strings.Count(r.Message, "%d") == 1:
		e = apperr.New(apperr.RateLimited, r.Message, secs)
	default:
		e = apperr.New(apperr.RateLimited, "%s", strings.ReplaceAll(r.Message, "%d", strconv.Itoa(secs)))
	}
	e.RetryAfter = secs
	return e
}

// CheckTake is Check of check for checkSubject and Take of take for takeSubject in one Redis
// round trip. checkErr is Exceeded when checkSubject's budget is spent (the hit under take is
// counted even then); takeErr is Exceeded when takeSubject is over take; err is a Redis
// failure.
func (l *Limiter) CheckTake(ctx context.Context, check Rule, checkSubject string, take Rule, takeSubject string) (checkErr, takeErr, err error) {
	cmds, result := CheckTakeLater(check, checkSubject, take, takeSubject)
	r, err := l.KV.Transact(ctx, cmds...)
	if err != nil {
		return nil, nil, fmt.Errorf("rate limit: %w", err)
	}
	checkErr, takeErr = result(r)
	return checkErr, takeErr, nil
}

// CheckTakeLater is CheckTake left to a round trip the caller makes anyway: cmds go first in
// the caller's kv.Transact, and result reads their replies (the first len(cmds)) into
// CheckTake's errors. The check reads an IPv6 checkSubject's /48 too, and its share when it
// has no counter of its own, as Check does.
func CheckTakeLater(check Rule, checkSubject string, take Rule, takeSubject string) (cmds [][]string, result func(replies []any) (checkErr, takeErr error)) {
	cmds = kv.PeekLimitCmds(check.key(checkSubject), take.key(takeSubject), 1, take.Window)
	nk, network := check.networkKey(checkSubject)
	n := len(cmds)
	if network {
		// The /48, and the share a /64 with no counter of its own is counted against (TakeN).
		cmds = append(cmds, kv.PeekCmds(nk)...)
		cmds = append(cmds, kv.PeekCmds(check.shareKey(checkSubject, nk))...)
		cmds = append(cmds, []string{"EXISTS", kv.CounterPrefix + check.key(checkSubject)})
	}
	return cmds, func(r []any) (checkErr, takeErr error) {
		peekOK, peekRetry, ok, retry := kv.ReadPeekLimit(r, check.N, take.N, take.Window)
		if network {
			if exists, _ := r[n+4].(int64); exists == 0 {
				peekOK, peekRetry = kv.ReadPeek(r[n+2:], check.N)
			}
		}
		if network && peekOK {
			peekOK, peekRetry = kv.ReadPeek(r[n:], check.networkN())
		}
		if !peekOK {
			checkErr = check.exceeded(peekRetry)
		}
		if !ok {
			takeErr = take.exceeded(retry)
		}
		return checkErr, takeErr
	}
}
