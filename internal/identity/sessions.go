package identity

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/ids"
	"loginsign/internal/kv"
)

// SessionConfig sets the browser session timeouts (OWASP ASVS V7.3).
type SessionConfig struct {
	// Idle ends a session unused for this long. Default 24 h.
	Idle time.Duration
	// Absolute ends a session this long after sign-in, used or not. Default 30 days.
	Absolute time.Duration
	// AddressKey keys the digest a session keeps of the address its mailbox sign-in proved
	// (NewSession.Address), so that the store holds no address and a digest cannot be tested
	// against a list of addresses without the key. Every instance must use the same key (the
	// server derives it from LOGINSIGN_SECRET); nil leaves the digest unkeyed.
	AddressKey []byte
}

// Sessions stores browser sessions in Redis by the hash of their id. A session id is a 256-bit
// secret given only to the browser's cookie.
type Sessions struct {
	kv  *kv.Store
	now func() time.Time
	cfg SessionConfig
}

// SessionInfo describes a session for the person's list of sessions.
type SessionInfo struct {
	ID        string // hash of the session id
	CreatedAt time.Time
	LastSeen  time.Time
	UserAgent string
	IP        string
	// AMR are the authentication methods of the sign-in (RFC 8176 values; empty for a magic
	// link alone).
	AMR []string
	// Passkey names the passkey the session signed in with (passkey.Ref of its credential id),
	// "" for any other sign-in.
	Passkey string
	// AddressRef is the digest of the address a mailbox sign-in of the session proved
	// (Sessions.addressRef), "" for any other sign-in and for sessions started before it was
	// kept.
	AddressRef string
	// Line is the session's line (auth.Session.Line).
	Line string
	// Browser names the browser the session signed in from (browserRef), "" when unknown: ending
	// the session forgets it (KnownBrowser).
	Browser string
	// BrowserHash is the hash of the cookie of the browser the session signed in from
	// (ids.Hash, the name oauth's records of that browser use), "" when unknown: ending the
	// session from elsewhere is a sign-out in that browser (Service.BrowsersSignedOut).
	BrowserHash string
}

// NewSessions returns the session store.
func NewSessions(k *kv.Store, now func() time.Time, cfg SessionConfig) *Sessions {
	if cfg.Idle <= 0 {
		cfg.Idle = 24 * time.Hour
	}
	if cfg.Absolute <= 0 {
		cfg.Absolute = 30 * 24 * time.Hour
	}
	return &Sessions{kv: k, now: now, cfg: cfg}
}

func sessionKey(hash string) string     { return "sess:" + hash }
func userSessionsKey(uid string) string { return "usess:" + uid }

// Create starts a session for userID and returns the raw session id for the cookie. Signing in
// always creates a new id (session fixation: the id rotates at login).
func (s *Sessions) Create(ctx context.Context, userID, userAgent, ip string) (string, error) {
	return s.CreateAMR(ctx, userID, userAgent, ip, nil)
}

// CreateAMR is Create for a sign-in that used the methods amr (RFC 8176 values), kept with the
// session for id_tokens and the person's list of sessions.
func (s *Sessions) CreateAMR(ctx context.Context, userID, userAgent, ip string, amr []string) (string, error) {
	return s.Start(ctx, NewSession{UserID: userID, UserAgent: userAgent, IP: ip, AMR: amr})
}

// NewSession is a sign-in to start a session for (Sessions.Start).
type NewSession struct {
	UserID, UserAgent, IP string
	// AMR are the methods of the sign-in (RFC 8176 values), kept with the session for
	// id_tokens and the person's list of sessions.
	AMR []string
	// Passkey names the passkey of the sign-in (passkey.Ref), "" for none: removing the
	// passkey ends the session (Service.EndPasskeySessions).
	Passkey string
	// Address is the address a mailbox sign-in (magic link, its code, an approval from
	// another device, with or without a second step after it) proved, "" for none: removing
	// the address from the account ends the session (Service.EndAddressSessions). The session
	// keeps a keyed digest of it, never the address.
	Address string
	// Replacing is the browser's session cookie before the sign-in, "" for none. That session
	// ends; when it was the same person's, the new one continues its line (auth.Session.Line),
	// so what the applications were given from it ends with the new one.
	Replacing string
	// Browser is the raw value of the browser's cookie (httpx.BrowserCookie), "" for none: the
	// session keeps its name (browserRef), so that ending the session forgets that browser
	// (KnownBrowser) and ending all the others keeps it known.
	Browser string
}

// Start starts the session of the sign-in n and returns the raw session id for the cookie.
// Signing in always creates a new id (session fixation: the id rotates at login).
func (s *Sessions) Start(ctx context.Context, n NewSession) (string, error) {
	raw := ids.Secret("ses_")
	hash := ids.Hash(raw)
	line := hash
	var replaced, replacedUID string
	if n.Replacing != "" && len(n.Replacing) <= 128 {
		replaced = ids.Hash(n.Replacing)
		vals, err := s.kv.HMGet(ctx, sessionKey(replaced), "uid", "line").Result()
		if err != nil {
			return "", fmt.Errorf("reading the session replaced: %w", err)
		}
		if replacedUID, _ = vals[0].(string); replacedUID == n.UserID {
			line = lineOf(vals[1], replaced)
		}
	}
	now := s.now()
	fields := map[string]any{
		"uid": n.UserID, "created": now.UnixMilli(), "seen": now.UnixMilli(),
		"ua": truncate(n.UserAgent, 300), "ip": n.IP, "amr": strings.Join(n.AMR, " "), "line": line,
	}
	if n.Passkey != "" {
		fields["pk"] = n.Passkey
	}
	if n.Address != "" {
		fields["addr"] = s.addressRef(n.UserID, n.Address)
	}
	if n.Browser != "" && len(n.Browser) <= 128 {
		fields["br"] = browserRef(n.Browser, n.UserID)
		fields["brh"] = ids.Hash(n.Browser)
	}
	userID := n.UserID
	pipe := s.kv.TxPipeline()
	if replaced != "" {
		pipe.Del(ctx, sessionKey(replaced))
		if replacedUID != "" {
			pipe.SRem(ctx, userSessionsKey(replacedUID), replaced)
		}
	}
	pipe.HSet(ctx, sessionKey(hash), fields)
	pipe.Expire(ctx, sessionKey(hash), s.cfg.Idle)
	pipe.SAdd(ctx, userSessionsKey(userID), hash)
	pipe.Expire(ctx, userSessionsKey(userID), s.cfg.Absolute)
	indexed := pipe.SCard(ctx, userSessionsKey(userID))
	if _, err := pipe.Exec(ctx); err != nil {
		return "", fmt.Errorf("creating session: %w", err)
	}
	if indexed.Val() > pruneSessionsPast {
		s.prune(ctx, userID)
	}
	return raw, nil
}

// addressRef is the digest a session of userID keeps of the address addr its sign-in proved:
// the first 128 bits, in hex, of HMAC-SHA256 under SessionConfig.AddressKey of the person and
// the lower-cased address. The person is part of it, so one address held by two accounts in
// turn leaves two digests that cannot be matched with each other.
func (s *Sessions) addressRef(userID, addr string) string {
	return ids.MAC(s.cfg.AddressKey, userID+"\n"+strings.ToLower(addr))[:32]
}

// pruneSessionsPast is the size of a person's index of sessions past which a sign-in drops
// the sessions that ended from it.
const pruneSessionsPast = 64

// prune drops from userID's index the sessions that ended (idle or absolute timeout), in three
// round trips. The index is extended by every sign-in and loses a session otherwise only when
// it is ended or listed: someone signing in again and again, never opening the list, grew it
// by one a sign-in. Best effort: a failure leaves it for the next sign-in.
func (s *Sessions) prune(ctx context.Context, userID string) {
	hashes, err := s.kv.SMembers(ctx, userSessionsKey(userID)).Result()
	if err != nil {
		return
	}
	pipe := s.kv.Pipeline()
	live := make([]*redis.IntCmd, len(hashes))
	for i, h := range hashes {
		live[i] = pipe.Exists(ctx, sessionKey(h))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return
	}
	var ended []any
	for i, c := range live {
		if c.Val() == 0 {
			ended = append(ended, hashes[i])
		}
	}
	if len(ended) > 0 {
		s.kv.SRem(ctx, userSessionsKey(userID), ended...)
	}
}

// Lookup returns the session of raw and slides its idle timeout. An unknown, idle-expired or
// absolutely expired session answers Unauthorized.
func (s *Sessions) Lookup(ctx context.Context, raw string) (auth.Session, error) {
	if raw == "" || len(raw) > 128 {
		return auth.Session{}, apperr.New(apperr.Unauthorized, "no session")
	}
	hash := ids.Hash(raw)
	vals, err := s.kv.HMGet(ctx, sessionKey(hash), "uid", "created", "amr", "line").Result()
	if err != nil {
		return auth.Session{}, fmt.Errorf("reading session: %w", err)
	}
	uid, _ := vals[0].(string)
	createdStr, _ := vals[1].(string)
	created, _ := strconv.ParseInt(createdStr, 10, 64)
	if uid == "" {
		return auth.Session{}, apperr.New(apperr.Unauthorized, "session expired")
	}
	now := s.now()
	remaining := time.UnixMilli(created).Add(s.cfg.Absolute).Sub(now)
	if remaining <= 0 {
		s.kv.Del(ctx, sessionKey(hash))
		s.kv.SRem(ctx, userSessionsKey(uid), hash)
		return auth.Session{}, apperr.New(apperr.Unauthorized, "session expired")
	}
	pipe := s.kv.Pipeline()
	pipe.HSet(ctx, sessionKey(hash), "seen", now.UnixMilli())
	pipe.Expire(ctx, sessionKey(hash), min(s.cfg.Idle, remaining))
	if _, err := pipe.Exec(ctx); err != nil {
		return auth.Session{}, fmt.Errorf("touching session: %w", err)
	}
	amr, _ := vals[2].(string)
	return auth.Session{UserID: uid, ID: hash, AMR: strings.Fields(amr), SignedInAt: time.UnixMilli(created).UTC(),
		Line: lineOf(vals[3], hash)}, nil
}

// lineOf is the line a session's "line" field v names; sessions started before lines were
// kept (v nil) are a line of their own, named by their hash.
func lineOf(v any, hash string) string {
	if line, _ := v.(string); line != "" {
		return line
	}
	return hash
}

// Delete ends the session of raw (sign-out).
func (s *Sessions) Delete(ctx context.Context, raw string) error {
	hash := ids.Hash(raw)
	uid, err := s.kv.HGet(ctx, sessionKey(hash), "uid").Result()
	if err != nil && err != redis.Nil {
		return fmt.Errorf("ending session: %w", err)
	}
	return s.deleteHashes(ctx, uid, hash)
}

// DeleteAll ends every session of userID except the one whose hash is keep (empty: all).
func (s *Sessions) DeleteAll(ctx context.Context, userID, keep string) (int, error) {
	hashes, err := s.kv.SMembers(ctx, userSessionsKey(userID)).Result()
	if err != nil {
		return 0, fmt.Errorf("listing sessions: %w", err)
	}
	var drop []string
	for _, h := range hashes {
		if h != keep {
			drop = append(drop, h)
		}
	}
	return len(drop), s.deleteHashes(ctx, userID, drop...)
}

// Owns reports whether the session named by its hash is one of userID's.
func (s *Sessions) Owns(ctx context.Context, userID, hash string) (bool, error) {
	member, err := s.kv.SIsMember(ctx, userSessionsKey(userID), hash).Result()
	if err != nil {
		return false, fmt.Errorf("reading sessions: %w", err)
	}
	return member, nil
}

// DeleteByID ends one session of userID named by its hash.
func (s *Sessions) DeleteByID(ctx context.Context, userID, hash string) error {
	member, err := s.Owns(ctx, userID, hash)
	if err != nil {
		return err
	}
	if !member {
		return apperr.New(apperr.NotFound, "session not found")
	}
	return s.deleteHashes(ctx, userID, hash)
}

func (s *Sessions) deleteHashes(ctx context.Context, userID string, hashes ...string) error {
	if len(hashes) == 0 {
		return nil
	}
	pipe := s.kv.TxPipeline()
	for _, h := range hashes {
		pipe.Del(ctx, sessionKey(h))
		if userID != "" {
			pipe.SRem(ctx, userSessionsKey(userID), h)
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("ending sessions: %w", err)
	}
	return nil
}

// List returns the live sessions of userID, pruning ended ones from its index.
func (s *Sessions) List(ctx context.Context, userID string) ([]SessionInfo, error) {
	hashes, err := s.kv.SMembers(ctx, userSessionsKey(userID)).Result()
	if err != nil {
		return nil, fmt.Errorf("listing sessions: %w", err)
	}
	var out []SessionInfo
	for _, h := range hashes {
		m, err := s.kv.HGetAll(ctx, sessionKey(h)).Result()
		if err != nil {
			return nil, fmt.Errorf("listing sessions: %w", err)
		}
		if m["uid"] != userID {
			s.kv.SRem(ctx, userSessionsKey(userID), h)
			continue
		}
		created, _ := strconv.ParseInt(m["created"], 10, 64)
		seen, _ := strconv.ParseInt(m["seen"], 10, 64)
		out = append(out, SessionInfo{ID: h, CreatedAt: time.UnixMilli(created).UTC(),
			LastSeen: time.UnixMilli(seen).UTC(), UserAgent: m["ua"], IP: m["ip"], AMR: strings.Fields(m["amr"]), Passkey: m["pk"],
			AddressRef: m["addr"], Line: lineOf(m["line"], h), Browser: m["br"],
			BrowserHash: m["brh"]})
	}
	return out, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
