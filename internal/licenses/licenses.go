// Package licenses is the license domain (spec §4.2, §5.6–5.7, §6): a developer's variants and
// codes, a person's redemptions, and the "status licenses" an app backend syncs.
//
// One rule runs through everything: a code's effective state is computed on read. A code whose
// state is ACTIVE and whose expires_at has passed reads EXPIRED everywhere at once, without a
// sweep; queries for "active" use state = ACTIVE AND (expires_at IS NULL OR expires_at > now).
package licenses

import (
	"context"
	"regexp"
	"strings"
	"time"

	"loginsign/ent"
	"loginsign/ent/licensecode"
	"loginsign/ent/licensevariant"
	"loginsign/ent/predicate"
	"loginsign/internal/apperr"
	"loginsign/internal/ids"
	"loginsign/internal/ratelimit"
	"loginsign/internal/store"
	"loginsign/internal/team"
)

// Service is the license domain.
type Service struct {
	DB *store.DB
	// Authorize returns the application if the signed-in developer's role on it allows the
	// action (team.Authorize: NotFound off the team, Forbidden for a role without it).
	Authorize func(ctx context.Context, appID string, a team.Action) (*ent.Application, error)
	Now       func() time.Time
	// Limiter counts redemptions (RedeemLimits); nil turns the limits off (tests of other
	// rules only).
	Limiter *ratelimit.Limiter
	// Limits bound redemptions; zero fields take their defaults.
	Limits RedeemLimits
	// Bulk bounds the calls that create codes (generate and upload, up to 10,000 codes each)
	// per developer; default DefaultBulk. Counted by Limiter too.
	Bulk ratelimit.Rule
	// MaxCodes bounds the license codes stored across all the applications of one owner
	// (checkCodeTotal); zero is DefaultMaxCodes.
	MaxCodes int
	// Writes bounds the developer's variant creations and deletions with their other changes
	// to applications (team.TakeWrite; default team.DefaultWrites), counted by Limiter.
	Writes ratelimit.Rule
	// StatusChanges bounds, per connection, the status syncs that change something (each
	// writes an event into the person's activity log); default DefaultStatusChanges. Counted
	// by Limiter.
	StatusChanges ratelimit.Rule
}

// DefaultStatusChanges is how many status syncs that change a connection's licenses (a
// grant that stores one, makes one active again or moves its expiry; a revoke that ends one)
// an application makes for one person in an hour. Each writes a license_action event into the
// person's own activity log, and the only other bound, the application's quota of client
// requests, is its developer's to set (up to a million a minute): a backend alternating grant
// and revoke pushed the person's real events out of their log and data export and grew the
// table without end. A person's plan changes a few times a month; syncs that change nothing
// are not counted. The codes the application redeems with the person's access token count
// against the same budget (Service.applicationChange): each writes license_redeemed there.
var DefaultStatusChanges = ratelimit.Rule{Name: "status-changes", N: 60, Window: time.Hour,
	Message: "too many license changes for this person by this application; try again in %d s"}

// DefaultBulk is how many code generations and uploads one developer may make per hour: each
// stores up to 10,000 rows. It paces the writes; DefaultMaxCodes bounds what they add up to.
var DefaultBulk = ratelimit.Rule{Name: "license-codes", N: 60, Window: time.Hour}

// DefaultMaxCodes is how many license codes the applications one developer owns may hold
// together: a free account is anyone with a mailbox, and without a total DefaultBulk would
// let one store 600,000 codes an hour for ever. A million is a hundred full generations, far
// beyond a shop that sells keys by hand, and about 200 MB of rows and indexes at most per
// account. The applications are counted by owner because one developer owns up to
// team.MaxOwnedApplications of them, so a bound per application would be a hundred times as
// large.
const DefaultMaxCodes = 1_000_000

// RedeemLimits bound license redemption, the one guessable operation of this domain.
type RedeemLimits struct {
	// PerAddress bounds redemptions from one address. Default 60 per minute.
	PerAddress ratelimit.Rule
	// PerHolder bounds redemptions by one person (session) or connection (Bearer token).
	// Default 20 per minute.
	PerHolder ratelimit.Rule
	// MissesPerApplication bounds the redemptions of one application's codes that named no
	// code of it (code_not_found), whoever made them: DefaultMissesPerApplication. The two
	// limits above are per address and per person, so any number of accounts connected to
	// the application, from as many addresses, guessed its codes in parallel; a developer's
	// uploaded codes may be as short as 4 characters.
	MissesPerApplication ratelimit.Rule
}

// DefaultMissesPerApplication is how many redemptions naming no code one application's codes
// take in an hour, from all its people and its backend together: typing mistakes of a busy
// shop, not a search of the code space. Past it a redemption by a person (or connection)
// that already missed in the window answers 429 rate_limited before anything is looked up;
// one that has not missed is still answered, so a flood of wrong guesses never keeps a buyer
// with the right code from redeeming it, and costs an attacker an account connected to the
// application per further guess.
var DefaultMissesPerApplication = ratelimit.Rule{Name: "redeem-miss:app", N: 200, Window: time.Hour,
	Message: "too many wrong license codes were tried for this application; try again in %d s"}

func (l RedeemLimits) withDefaults() RedeemLimits {
	l.PerAddress = l.PerAddress.Or(ratelimit.Rule{Name: "redeem:ip", N: 60, Window: time.Minute})
	l.PerHolder = l.PerHolder.Or(ratelimit.Rule{Name: "redeem:holder", N: 20, Window: time.Minute})
	l.MissesPerApplication = l.MissesPerApplication.Or(DefaultMissesPerApplication)
	return l
}

// holderMisses is whether a holder missed, in the window of the application's misses: its
// counter is spent by one miss.
func (l RedeemLimits) holderMisses() ratelimit.Rule {
	return ratelimit.Rule{Name: "redeem-miss:holder", N: 1, Window: l.MissesPerApplication.Window}
}

// New returns the license domain over db; authorize is the team's role check (team.Authorize).
func New(db *store.DB, authorize func(ctx context.Context, appID string, a team.Action) (*ent.Application, error), now func() time.Time) *Service {
	if now == nil {
		now = func() time.Time { return time.Now().UTC() }
	}
	return &Service{DB: db, Authorize: authorize, Now: now}
}

func (s *Service) now() time.Time { return s.Now().UTC() }

// States of a code as callers see them.
const (
	Unused  = "UNUSED"
	Active  = "ACTIVE"
	Expired = "EXPIRED"
)

// EffectiveState is the state of c at now: an ACTIVE code past its expiry is EXPIRED.
func EffectiveState(c *ent.LicenseCode, now time.Time) licensecode.State {
	if c.State == licensecode.StateACTIVE && c.ExpiresAt != nil && !c.ExpiresAt.After(now) {
		return licensecode.StateEXPIRED
	}
	return c.State
}

// activeAt selects codes in effect at now.
func activeAt(now time.Time) predicate.LicenseCode {
	return licensecode.And(licensecode.StateEQ(licensecode.StateACTIVE),
		licensecode.Or(licensecode.ExpiresAtIsNil(), licensecode.ExpiresAtGT(now)))
}

// expiredAt selects codes that read EXPIRED at now.
func expiredAt(now time.Time) predicate.LicenseCode {
	return licensecode.Or(licensecode.StateEQ(licensecode.StateEXPIRED),
		licensecode.And(licensecode.StateEQ(licensecode.StateACTIVE), licensecode.ExpiresAtLTE(now)))
}

// stateIs selects codes whose effective state at now is state.
func stateIs(state string, now time.Time) (predicate.LicenseCode, error) {
	switch strings.ToUpper(strings.TrimSpace(state)) {
	case Unused:
		return licensecode.StateEQ(licensecode.StateUNUSED), nil
	case Active:
		return activeAt(now), nil
	case Expired:
		return expiredAt(now), nil
	}
	return nil, apperr.New(apperr.Invalid, "state must be UNUSED, ACTIVE or EXPIRED")
}

// ParseDuration reads MONTH, YEAR or LIFETIME (any case); "" is def.
func ParseDuration(s string, def licensevariant.Duration) (licensevariant.Duration, error) {
	s = strings.ToUpper(strings.TrimSpace(s))
	if s == "" {
		return def, nil
	}
	d := licensevariant.Duration(s)
	if err := licensevariant.DurationValidator(d); err != nil {
		return "", apperr.New(apperr.Invalid, "duration must be MONTH, YEAR or LIFETIME")
	}
	return d, nil
}

// CheckTime refuses (Invalid) a time given for field whose year in UTC is outside 1 to 9999.
// Every license time that comes from outside (a status sync's expiresAt, over any transport)
// passes here before it is stored. RFC 3339 writes only those years, so an answer could not
// show such a time, and SQLite, which keeps a time as its text, could not read the row back:
// the person's license list, the developer's code list and the person's data export would all
// fail. The check is on the UTC year because an offset can carry a time written inside the
// range out of it: "9999-12-31T23:59:59-23:59" is 10000-01-01T23:58:59Z.
func CheckTime(field string, t time.Time) error {
	if y := t.UTC().Year(); y < 1 || y > 9999 {
		return apperr.New(apperr.Invalid, "%s must be an RFC 3339 timestamp between the years 1 and 9999 in UTC", field)
	}
	return nil
}

// ExpiryOf is when an entitlement of duration d that starts at from ends; nil for LIFETIME.
func ExpiryOf(d licensevariant.Duration, from time.Time) *time.Time {
	var t time.Time
	switch d {
	case licensevariant.DurationMONTH:
		t = from.AddDate(0, 1, 0)
	case licensevariant.DurationYEAR:
		t = from.AddDate(1, 0, 0)
	default:
		return nil
	}
	return &t
}

// CodeAlphabet is the alphabet of generated codes, 32 symbols without the look-alikes 0/O and
// 1/I (L stays: it keeps the alphabet at 32, and codes match ignoring case, so l reads as L).
const CodeAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// NewCode returns a code XXXX-XXXX-XXXX-XXXX (80 random bits) from CodeAlphabet, after
// "PREFIX-" when prefix is set.
func NewCode(prefix string) string {
	r := ids.RandomFrom(CodeAlphabet, 16)
	c := r[0:4] + "-" + r[4:8] + "-" + r[8:12] + "-" + r[12:16]
	if prefix != "" {
		return prefix + "-" + c
	}
	return c
}

var (
	codeChars   = regexp.MustCompile(`^[A-Za-z0-9_-]{4,64}$`)
	prefixChars = regexp.MustCompile(`^[A-Z0-9]{1,16}$`)
)

// CodeKey is the form codes are matched by: upper case without hyphens and spaces. ok is
// false when what remains is not 1 to 64 characters of [A-Z0-9_].
func CodeKey(code string) (key string, ok bool) {
	var b strings.Builder
	for _, r := range code {
		switch {
		case r == '-' || r == ' ' || r == '\t':
		case r >= 'a' && r <= 'z':
			b.WriteRune(r - 'a' + 'A')
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_':
			b.WriteRune(r)
		default:
			return "", false
		}
	}
	key = b.String()
	return key, len(key) >= 1 && len(key) <= 64
}

// CheckUploadedCode reports whether a developer-provided code is acceptable: 4 to 64
// characters of [A-Za-z0-9-_] (spec §6.2), and returns its trimmed form and key.
func CheckUploadedCode(raw string) (code, key string, ok bool) {
	code = strings.TrimSpace(raw)
	if !codeChars.MatchString(code) {
		return "", "", false
	}
	key, ok = CodeKey(code)
	return code, key, ok && len(key) >= 4
}

// variantOf loads variant id of app, NotFound otherwise.
func variantOf(ctx context.Context, c *ent.Client, appID, id string) (*ent.LicenseVariant, error) {
	v, err := c.LicenseVariant.Query().Where(licensevariant.ID(id), licensevariant.ApplicationID(appID)).Only(ctx)
	if store.NotFound(err) {
		return nil, variantNotFound()
	}
	return v, err
}

// variantNotFound is the answer for a variant the application does not have, also when it
// was deleted while the request ran.
func variantNotFound() error {
	return apperr.New(apperr.NotFound, "license variant not found")
}
