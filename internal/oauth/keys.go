package oauth

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"

	"entgo.io/ent/dialect"

	"loginsign/ent"
	"loginsign/ent/signingkey"
	"loginsign/internal/connections"
	"loginsign/internal/ids"
	"loginsign/internal/mfa"
	"loginsign/internal/seal"
	"loginsign/internal/store"
)

// Signing algorithms of id_tokens and logout tokens (RFC 7518 §3.1). Every algorithm has its
// own keys, published and rotated together.
const (
	ES256 = "ES256"
	RS256 = "RS256"
)

// SigningAlgs are the algorithms LoginSign signs with: ES256 (the default) and RS256 (OpenID
// Connect Discovery §3 requires it; many older clients verify nothing else).
var SigningAlgs = []string{ES256, RS256}

// ValidSigningAlg reports whether alg is one of SigningAlgs.
func ValidSigningAlg(alg string) bool { return slices.Contains(SigningAlgs, alg) }

// Keys holds the keys that sign id_tokens (SigningKey rows, private keys sealed with the server
// key): ES256 (P-256) and RS256 (RSA 2048) keys side by side. A key is published in the JWKS
// from its creation, signs from its active_at, and stays published until its retired_at, which
// Rotate sets far enough ahead that every token it signed has expired. Keys are cached for a
// minute per instance.
type Keys struct {
	db     *store.DB
	sealer *seal.Sealer
	now    func() time.Time
	lead   time.Duration // publication before use
	keep   time.Duration // publication after the last signature

	mu       sync.Mutex
	loaded   []*loadedKey
	loadedAt time.Time
	// retired are the keys verificationKey read that are no longer published, by id: a key's
	// public half never changes, and a key row is never deleted.
	retired map[string]*loadedKey
}

type loadedKey struct {
	id        string
	alg       string
	private   crypto.Signer
	public    crypto.PublicKey
	activeAt  time.Time
	retiredAt *time.Time
	jwtHeader string // base64url header of typ JWT
}

const keyCacheTTL = time.Minute

// keys returns the published keys, newest first. An algorithm with no key yet (first start,
// or an upgrade from a release that signed ES256 only) gets one that signs at once: no token
// of that algorithm exists, and verifiers refetch the JWKS when they meet an unknown kid.
func (k *Keys) keys(ctx context.Context) ([]*loadedKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.now()
	if k.loaded != nil && now.Sub(k.loadedAt) < keyCacheTTL {
		return k.loaded, nil
	}
	rows, err := k.db.SigningKey.Query().
		Where(signingkey.Or(signingkey.RetiredAtIsNil(), signingkey.RetiredAtGT(now))).
		Order(ent.Desc(signingkey.FieldActiveAt)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading signing keys: %w", err)
	}
	if missingAlg(rows) {
		if rows, err = k.createMissing(ctx, now); err != nil {
			return nil, err
		}
	}
	var out []*loadedKey
	for _, r := range rows {
		lk, err := k.open(r)
		if err != nil {
			return nil, err
		}
		out = append(out, lk)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].activeAt.After(out[j].activeAt) })
	k.loaded, k.loadedAt = out, now
	return out, nil
}

// missingAlg reports whether an algorithm of SigningAlgs has no published key in rows.
func missingAlg(rows []*ent.SigningKey) bool {
	for _, alg := range SigningAlgs {
		if !slices.ContainsFunc(rows, func(r *ent.SigningKey) bool { return r.Algorithm == alg }) {
			return true
		}
	}
	return false
}

// firstKeysLock is the PostgreSQL advisory lock under which missing keys are created.
const firstKeysLock = 0x4c5f6b657973 // "L_keys"

// createMissing creates a key, signing at once, for each algorithm that has none, and returns
// the published keys. It runs under a lock (a PostgreSQL advisory lock; SQLite's write lock) and
// looks again inside it, so instances starting together agree on one key per algorithm: were
// each to create its own, an instance would sign with a key the others do not publish until
// their key cache expires.
func (k *Keys) createMissing(ctx context.Context, now time.Time) ([]*ent.SigningKey, error) {
	var rows []*ent.SigningKey
	err := k.db.Tx(ctx, func(tx *ent.Tx) error {
		if k.db.Dialect == dialect.Postgres {
			if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", firstKeysLock); err != nil {
				return err
			}
		}
		var err error
		rows, err = tx.SigningKey.Query().
			Where(signingkey.Or(signingkey.RetiredAtIsNil(), signingkey.RetiredAtGT(now))).
			Order(ent.Desc(signingkey.FieldActiveAt)).All(ctx)
		if err != nil {
			return err
		}
		for _, alg := range SigningAlgs {
			if slices.ContainsFunc(rows, func(r *ent.SigningKey) bool { return r.Algorithm == alg }) {
				continue
			}
			row, err := k.create(ctx, tx.SigningKey, alg, now, now)
			if err != nil {
				return err
			}
			rows = append(rows, row)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("creating the first signing keys: %w", err)
	}
	return rows, nil
}

// generateKey makes a private key for alg.
func generateKey(alg string) (crypto.Signer, error) {
	switch alg {
	case ES256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case RS256:
		return rsa.GenerateKey(rand.Reader, 2048)
	}
	return nil, fmt.Errorf("unknown signing algorithm %q", alg)
}

// create stores a new key of alg through c (the client, or a transaction's).
func (k *Keys) create(ctx context.Context, c *ent.SigningKeyClient, alg string, createdAt, activeAt time.Time) (*ent.SigningKey, error) {
	priv, err := generateKey(alg)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	row, err := c.Create().SetAlgorithm(alg).SetPrivateKey(k.sealer.Seal(der)).
		SetCreatedAt(createdAt).SetActiveAt(activeAt).Save(ctx)
	if err != nil {
		return nil, fmt.Errorf("storing signing key: %w", err)
	}
	return row, nil
}

func (k *Keys) open(r *ent.SigningKey) (*loadedKey, error) {
	der, err := k.sealer.Open(r.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", r.ID, err)
	}
	p, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", r.ID, err)
	}
	var public crypto.PublicKey
	var private crypto.Signer
	switch priv := p.(type) {
	case *ecdsa.PrivateKey:
		if r.Algorithm != ES256 {
			return nil, fmt.Errorf("signing key %s: ECDSA key for %s", r.ID, r.Algorithm)
		}
		public, private = &priv.PublicKey, priv
	case *rsa.PrivateKey:
		if r.Algorithm != RS256 {
			return nil, fmt.Errorf("signing key %s: RSA key for %s", r.ID, r.Algorithm)
		}
		public, private = &priv.PublicKey, priv
	default:
		return nil, fmt.Errorf("signing key %s: unsupported key type %T", r.ID, p)
	}
	lk := &loadedKey{id: r.ID, alg: r.Algorithm, private: private, public: public, activeAt: r.ActiveAt, retiredAt: r.RetiredAt}
	lk.jwtHeader = encodeHeader(lk, "JWT")
	return lk, nil
}

// signing returns the newest key of alg whose active_at has come.
func (k *Keys) signing(ctx context.Context, alg string) (*loadedKey, error) {
	keys, err := k.keys(ctx)
	if err != nil {
		return nil, err
	}
	now := k.now()
	var oldest *loadedKey
	for _, lk := range keys { // newest first
		if lk.alg != alg {
			continue
		}
		if !lk.activeAt.After(now) {
			return lk, nil
		}
		oldest = lk
	}
	if oldest == nil {
		return nil, fmt.Errorf("no %s signing key", alg)
	}
	// Only future keys (clock skew between instances): use the oldest published one.
	return oldest, nil
}

// Sign returns claims as a JWT signed with alg (ES256 or RS256), the key id in kid and typ
// JWT.
func (k *Keys) Sign(ctx context.Context, alg string, claims any) (string, error) {
	return k.SignTyped(ctx, alg, "JWT", claims)
}

// SignTyped is Sign with another typ header (logout tokens are typ logout+jwt, OpenID
// Connect Back-Channel Logout §2.4).
//
// The compact serialization (RFC 7515 §7.1) is written here directly: the header of a key
// is encoded once, the claims are marshalled once, and the signature is ECDSA P-256 (r‖s,
// RFC 7518 §3.4) or RSASSA-PKCS1-v1_5 over SHA-256. go-jose's builder marshalled the
// claims, decoded them into a map and marshalled that again on every token.
func (k *Keys) SignTyped(ctx context.Context, alg, typ string, claims any) (string, error) {
	if !ValidSigningAlg(alg) {
		return "", fmt.Errorf("unknown signing algorithm %q", alg)
	}
	lk, err := k.signing(ctx, alg)
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	header := lk.jwtHeader
	if typ != "JWT" {
		header = encodeHeader(lk, typ)
	}
	b64 := base64.RawURLEncoding
	buf := make([]byte, 0, len(header)+1+b64.EncodedLen(len(payload))+1+b64.EncodedLen(512))
	buf = append(buf, header...)
	buf = append(buf, '.')
	buf = b64.AppendEncode(buf, payload)
	digest := sha256.Sum256(buf)
	var sig []byte
	switch priv := lk.private.(type) {
	case *ecdsa.PrivateKey:
		// RFC 6979: the nonce is derived from the key and the digest (nil rand), so no
		// weakness of a random source can reveal the key. The signature is a quarter of the
		// refresh grant's CPU, and this nonce costs a sixth less than crypto/ecdsa's hedged
		// one, an HMAC-DRBG over SHA-512 fed from crypto/rand (README, "Performance").
		der, err := priv.Sign(nil, digest[:], crypto.SHA256)
		if err != nil {
			return "", err
		}
		if sig, err = jwsECDSA(der, 32); err != nil {
			return "", err
		}
	case *rsa.PrivateKey:
		if sig, err = rsa.SignPKCS1v15(rand.Reader, priv, crypto.SHA256, digest[:]); err != nil {
			return "", err
		}
	default:
		return "", fmt.Errorf("signing key %s: unsupported key type %T", lk.id, lk.private)
	}
	buf = append(buf, '.')
	buf = b64.AppendEncode(buf, sig)
	return string(buf), nil
}

// jwsECDSA is the JWS form of the ASN.1 ECDSA signature der (RFC 7518 §3.4): R and S as
// big-endian numbers of size bytes each, one after the other.
func jwsECDSA(der []byte, size int) ([]byte, error) {
	in, out := cryptobyte.String(der), make([]byte, 2*size)
	var seq cryptobyte.String
	if !in.ReadASN1(&seq, asn1.SEQUENCE) || !in.Empty() {
		return nil, errors.New("ECDSA signature: not an ASN.1 sequence")
	}
	for i := range 2 {
		var n cryptobyte.String
		if !seq.ReadASN1(&n, asn1.INTEGER) {
			return nil, errors.New("ECDSA signature: want two integers")
		}
		v := bytes.TrimLeft(n, "\x00")
		if len(v) > size {
			return nil, errors.New("ECDSA signature: an integer is too long for the curve")
		}
		copy(out[(i+1)*size-len(v):], v)
	}
	if !seq.Empty() {
		return nil, errors.New("ECDSA signature: trailing data")
	}
	return out, nil
}

// encodeHeader is the base64url JOSE header of a token signed by lk with typ.
func encodeHeader(lk *loadedKey, typ string) string {
	h, _ := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}{lk.alg, lk.id, typ})
	return base64.RawURLEncoding.EncodeToString(h)
}

// JWKS is the public key set (RFC 7517) of every published key of every algorithm, ordered by
// key id.
func (k *Keys) JWKS(ctx context.Context) (jose.JSONWebKeySet, error) {
	keys, err := k.keys(ctx)
	if err != nil {
		return jose.JSONWebKeySet{}, err
	}
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	for _, lk := range keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: lk.public, KeyID: lk.id, Algorithm: lk.alg, Use: "sig"})
	}
	sort.SliceStable(set.Keys, func(i, j int) bool { return set.Keys[i].KeyID < set.Keys[j].KeyID })
	return set, nil
}

// maxRetiredKeys bounds Keys.retired: two keys a rotation, every 90 days.
const maxRetiredKeys = 64

// verificationKey is the key kid (a JWS header's kid), published or retired, to verify a token
// LoginSign signed: an id_token_hint stays LoginSign's after its key left the JWKS (a relying
// party keeps its sign-in's id_token across a key rotation, and RP-Initiated Logout 1.0 §2 has
// the OP accept an expired one). nil when kid names no key of LoginSign.
func (k *Keys) verificationKey(ctx context.Context, kid string) (*loadedKey, error) {
	keys, err := k.keys(ctx)
	if err != nil {
		return nil, err
	}
	for _, lk := range keys {
		if lk.id == kid {
			return lk, nil
		}
	}
	if !ids.Valid(ids.SigningKey, kid) || len(kid) > maxIDLength {
		return nil, nil // names no key, and a NUL would reach SQL
	}
	k.mu.Lock()
	lk := k.retired[kid]
	k.mu.Unlock()
	if lk != nil {
		return lk, nil
	}
	row, err := k.db.SigningKey.Get(ctx, kid)
	if store.NotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("loading signing key: %w", err)
	}
	if lk, err = k.open(row); err != nil {
		return nil, err
	}
	k.mu.Lock()
	if k.retired == nil || len(k.retired) >= maxRetiredKeys {
		k.retired = map[string]*loadedKey{}
	}
	k.retired[kid] = lk
	k.mu.Unlock()
	return lk, nil
}

// Reload drops this instance's key cache, so the next signature or JWKS reads the table again
// (for tools and tests that change signing_keys rows directly).
func (k *Keys) Reload() {
	k.mu.Lock()
	k.loaded = nil
	k.mu.Unlock()
}

// Rotate creates, for every algorithm, a key that is published at once and signs after the
// publication lead; the keys in use are retired once every token they may still sign has
// expired (lead + id_token lifetime from now). It returns the new keys' ids, one per
// algorithm in the order of SigningAlgs.
func (k *Keys) Rotate(ctx context.Context) ([]string, error) {
	now := k.now()
	activeAt := now.Add(k.lead)
	var made []string
	err := k.db.Tx(ctx, func(tx *ent.Tx) error {
		if _, err := tx.SigningKey.Update().Where(signingkey.RetiredAtIsNil()).
			SetRetiredAt(activeAt.Add(k.keep)).Save(ctx); err != nil {
			return err
		}
		for _, alg := range SigningAlgs {
			row, err := k.create(ctx, tx.SigningKey, alg, now, activeAt)
			if err != nil {
				return err
			}
			made = append(made, row.ID)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("rotating signing keys: %w", err)
	}
	k.mu.Lock()
	k.loaded = nil
	k.mu.Unlock()
	return made, nil
}

// idTokenClaims are the claims of an id_token (OpenID Connect Core §2, §5.1).
type idTokenClaims struct {
	Issuer        string   `json:"iss"`
	Subject       string   `json:"sub"`
	Audience      []string `json:"aud"`
	Expiry        int64    `json:"exp"`
	IssuedAt      int64    `json:"iat"`
	AuthTime      int64    `json:"auth_time,omitempty"`
	Nonce         string   `json:"nonce,omitempty"`
	AZP           string   `json:"azp"`
	Email         string   `json:"email,omitempty"`
	EmailVerified *bool    `json:"email_verified,omitempty"`
	Name          string   `json:"name,omitempty"`
	Picture       string   `json:"picture,omitempty"`
	GlobalID      string   `json:"global_id,omitempty"`
	AMR           []string `json:"amr,omitempty"`
	ACR           string   `json:"acr,omitempty"`
}

// idToken signs the id_token of an issuance: sub is the connection id, email the address the
// application may see (with the email scope), name, picture and global_id with profile.
func (s *Service) idToken(ctx context.Context, app *ent.Application, conn *ent.AppConnection, g grant, now time.Time) (string, error) {
	c := idTokenClaims{Issuer: s.Config.Issuer, Subject: conn.ID, Audience: []string{app.ID}, AZP: app.ID,
		IssuedAt: now.Unix(), Expiry: now.Add(s.Config.IDTokenTTL).Unix(), Nonce: g.Nonce}
	if !g.AuthTime.IsZero() {
		c.AuthTime = g.AuthTime.Unix()
	}
	c.AMR, c.ACR = g.AMR, g.ACR
	has := func(sc string) bool {
		for _, x := range g.Scopes {
			if x == sc {
				return true
			}
		}
		return false
	}
	if has(ScopeEmail) {
		t := true
		c.Email, c.EmailVerified = connections.AppFacingEmail(conn.AppEmail, conn.AliasEmail), &t
	}
	if has(ScopeProfile) {
		u := g.user
		if u == nil {
			var err error
			if u, err = s.DB.User.Get(ctx, conn.UserID); err != nil {
				return "", serverError(err)
			}
		}
		c.Name, c.Picture, c.GlobalID = u.Name, u.Image, u.GlobalID
	}
	tok, err := s.Keys.Sign(ctx, app.IDTokenSigningAlg, c)
	if err != nil {
		return "", serverError(err)
	}
	return tok, nil
}

// Discovery is the OpenID Provider metadata (OpenID Connect Discovery 1.0 §3, RFC 8414).
type Discovery struct {
	Issuer                string `json:"issuer"`
	AuthorizationEndpoint string `json:"authorization_endpoint"`
	TokenEndpoint         string `json:"token_endpoint"`
	UserinfoEndpoint      string `json:"userinfo_endpoint"`
	JWKSURI               string `json:"jwks_uri"`
	RevocationEndpoint    string `json:"revocation_endpoint"`
	IntrospectionEndpoint string `json:"introspection_endpoint"`
	// RFC 9126 section 5: pushed authorization requests are taken, not required.
	PushedAuthorizationRequestEndpoint string   `json:"pushed_authorization_request_endpoint"`
	RequirePushedAuthorizationRequests bool     `json:"require_pushed_authorization_requests"`
	ACRValuesSupported                 []string `json:"acr_values_supported"`
	ScopesSupported                    []string `json:"scopes_supported"`
	ResponseTypesSupported             []string `json:"response_types_supported"`
	ResponseModesSupported             []string `json:"response_modes_supported"`
	GrantTypesSupported                []string `json:"grant_types_supported"`
	SubjectTypesSupported              []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported   []string `json:"id_token_signing_alg_values_supported"`
	TokenEndpointAuthMethodsSupported  []string `json:"token_endpoint_auth_methods_supported"`
	CodeChallengeMethodsSupported      []string `json:"code_challenge_methods_supported"`
	ClaimsSupported                    []string `json:"claims_supported"`
	PromptValuesSupported              []string `json:"prompt_values_supported"`
	UILocalesSupported                 []string `json:"ui_locales_supported"`
	AuthorizationResponseIssParameter  bool     `json:"authorization_response_iss_parameter_supported"`
	RevocationEndpointAuthMethods      []string `json:"revocation_endpoint_auth_methods_supported"`
	IntrospectionEndpointAuthMethods   []string `json:"introspection_endpoint_auth_methods_supported"`
	// Request objects are refused (OpenID Connect Discovery §3: both default to true when
	// absent); a request_uri is taken only as the pushed authorization request endpoint
	// issued it.
	RequestParameterSupported    bool `json:"request_parameter_supported"`
	RequestURIParameterSupported bool `json:"request_uri_parameter_supported"`
	// RP-Initiated Logout 1.0 §2.1 and Back-Channel Logout 1.0 §2.1.
	EndSessionEndpoint                string `json:"end_session_endpoint"`
	BackchannelLogoutSupported        bool   `json:"backchannel_logout_supported"`
	BackchannelLogoutSessionSupported bool   `json:"backchannel_logout_session_supported"`
}

// Discovery returns the provider metadata.
func (s *Service) Discovery() Discovery {
	iss := s.Config.Issuer
	auth := []string{"client_secret_basic", "client_secret_post"}
	return Discovery{
		Issuer: iss, AuthorizationEndpoint: iss + "/oauth/authorize", TokenEndpoint: iss + "/oauth/token",
		UserinfoEndpoint: iss + "/api/user", JWKSURI: iss + "/.well-known/jwks.json",
		RevocationEndpoint: iss + "/oauth/revoke", IntrospectionEndpoint: iss + "/oauth/introspect",
		PushedAuthorizationRequestEndpoint: iss + "/oauth/par",
		ScopesSupported:                    append([]string{ScopeOpenID, ScopeEmail, ScopeProfile}, AppScopes...), ResponseTypesSupported: []string{"code"},
		ResponseModesSupported: []string{ResponseModeQuery, ResponseModeFormPost}, GrantTypesSupported: []string{"authorization_code", "refresh_token", "client_credentials"},
		SubjectTypesSupported: []string{"pairwise"}, IDTokenSigningAlgValuesSupported: slices.Clone(SigningAlgs),
		TokenEndpointAuthMethodsSupported: auth, CodeChallengeMethodsSupported: []string{"S256"},
		ClaimsSupported:       []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "azp", "email", "email_verified", "name", "picture", "global_id", "amr", "acr"},
		PromptValuesSupported: []string{PromptNone, PromptLogin, PromptConsent}, AuthorizationResponseIssParameter: true,
		UILocalesSupported:            []string{"en", "fr", "de"},
		ACRValuesSupported:            []string{mfa.ACR1FA, mfa.ACRMFA},
		RevocationEndpointAuthMethods: auth, IntrospectionEndpointAuthMethods: auth,
		EndSessionEndpoint: iss + "/oauth/logout", BackchannelLogoutSupported: true,
	}
}

// KeyMaxAge is how long a signing key signs before RotateKeysIfDue replaces it.
const KeyMaxAge = 90 * 24 * time.Hour

// RotateKeysIfDue rotates the signing keys when the newest key was created more than
// KeyMaxAge ago. Several instances may call it: a Redis lock lets one rotate. It reports
// whether it rotated.
func (s *Service) RotateKeysIfDue(ctx context.Context) (bool, error) {
	newest, err := s.DB.SigningKey.Query().Order(ent.Desc(signingkey.FieldCreatedAt)).First(ctx)
	if err != nil && !store.NotFound(err) {
		return false, err
	}
	if newest == nil || s.Now().Sub(newest.CreatedAt) < KeyMaxAge {
		return false, nil
	}
	got, err := s.KV.SetNX(ctx, "keys:rotating", newest.ID, time.Hour).Result()
	if err != nil || !got {
		return false, err
	}
	if _, err := s.Keys.Rotate(ctx); err != nil {
		return false, err
	}
	return true, nil
}

// RunKeyRotation calls RotateKeysIfDue now and then every interval until ctx ends; failures
// are returned to report.
func (s *Service) RunKeyRotation(ctx context.Context, interval time.Duration, report func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := s.RotateKeysIfDue(ctx); err != nil && ctx.Err() == nil {
			report(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
