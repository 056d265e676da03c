package oauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"sort"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"loginsign/ent"
	"loginsign/ent/signingkey"
	"loginsign/internal/mfa"
	"loginsign/internal/seal"
	"loginsign/internal/store"
)

// Keys holds the ES256 keys that sign id_tokens (SigningKey rows, private keys sealed with the
// server key). A key is published in the JWKS from its creation, signs from its active_at, and
// stays published until its retired_at, which Rotate sets far enough ahead that every token it
// signed has expired. Keys are cached for a minute per instance.
type Keys struct {
	db     *store.DB
	sealer *seal.Sealer
	now    func() time.Time
	lead   time.Duration // publication before use
	keep   time.Duration // publication after the last signature

	mu       sync.Mutex
	loaded   []*loadedKey
	loadedAt time.Time
}

type loadedKey struct {
	id        string
	priv      *ecdsa.PrivateKey
	activeAt  time.Time
	retiredAt *time.Time
	signer    jose.Signer
}

const keyCacheTTL = time.Minute

// keys returns the published keys, newest first, creating the first key when none exists.
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
	if len(rows) == 0 {
		// First start: nobody can have cached a JWKS yet, so the key may sign at once.
		row, err := k.create(ctx, now)
		if err != nil {
			return nil, err
		}
		rows = []*ent.SigningKey{row}
	}
	var out []*loadedKey
	for _, r := range rows {
		lk, err := k.open(r)
		if err != nil {
			return nil, err
		}
		out = append(out, lk)
	}
	k.loaded, k.loadedAt = out, now
	return out, nil
}

func (k *Keys) create(ctx context.Context, activeAt time.Time) (*ent.SigningKey, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	row, err := k.db.SigningKey.Create().SetAlgorithm("ES256").SetPrivateKey(k.sealer.Seal(der)).
		SetCreatedAt(k.now()).SetActiveAt(activeAt).Save(ctx)
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
	priv, ok := p.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("signing key %s is not ECDSA", r.ID)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: priv, KeyID: r.ID, Algorithm: "ES256"}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return nil, err
	}
	return &loadedKey{id: r.ID, priv: priv, activeAt: r.ActiveAt, retiredAt: r.RetiredAt, signer: signer}, nil
}

// signing returns the newest key whose active_at has come.
func (k *Keys) signing(ctx context.Context) (*loadedKey, error) {
	keys, err := k.keys(ctx)
	if err != nil {
		return nil, err
	}
	now := k.now()
	for _, lk := range keys { // newest first
		if !lk.activeAt.After(now) {
			return lk, nil
		}
	}
	// Only future keys (clock skew between instances): use the oldest published one.
	return keys[len(keys)-1], nil
}

// Sign returns claims as a signed JWT (ES256, with the key id in kid).
func (k *Keys) Sign(ctx context.Context, claims any) (string, error) {
	lk, err := k.signing(ctx)
	if err != nil {
		return "", err
	}
	return jwt.Signed(lk.signer).Claims(claims).Serialize()
}

// JWKS is the public key set (RFC 7517) of every published key.
func (k *Keys) JWKS(ctx context.Context) (jose.JSONWebKeySet, error) {
	keys, err := k.keys(ctx)
	if err != nil {
		return jose.JSONWebKeySet{}, err
	}
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	for _, lk := range keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: &lk.priv.PublicKey, KeyID: lk.id, Algorithm: "ES256", Use: "sig"})
	}
	sort.SliceStable(set.Keys, func(i, j int) bool { return set.Keys[i].KeyID < set.Keys[j].KeyID })
	return set, nil
}

// Rotate creates a key that is published at once and signs after the publication lead; the
// keys in use are retired once every token they may still sign has expired (lead + id_token
// lifetime from now). It returns the new key's id.
func (k *Keys) Rotate(ctx context.Context) (string, error) {
	now := k.now()
	activeAt := now.Add(k.lead)
	var id string
	err := k.db.Tx(ctx, func(tx *ent.Tx) error {
		if _, err := tx.SigningKey.Update().Where(signingkey.RetiredAtIsNil()).
			SetRetiredAt(activeAt.Add(k.keep)).Save(ctx); err != nil {
			return err
		}
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return err
		}
		der, err := x509.MarshalPKCS8PrivateKey(priv)
		if err != nil {
			return err
		}
		row, err := tx.SigningKey.Create().SetAlgorithm("ES256").SetPrivateKey(k.sealer.Seal(der)).
			SetCreatedAt(now).SetActiveAt(activeAt).Save(ctx)
		if err != nil {
			return err
		}
		id = row.ID
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("rotating signing keys: %w", err)
	}
	k.mu.Lock()
	k.loaded = nil
	k.mu.Unlock()
	return id, nil
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
		c.Email, c.EmailVerified = connectionEmail(conn), &t
	}
	if has(ScopeProfile) {
		u, err := s.DB.User.Get(ctx, conn.UserID)
		if err != nil {
			return "", serverError(err)
		}
		c.Name, c.Picture, c.GlobalID = u.Name, u.Image, u.GlobalID
	}
	tok, err := s.Keys.Sign(ctx, c)
	if err != nil {
		return "", serverError(err)
	}
	return tok, nil
}

// Discovery is the OpenID Provider metadata (OpenID Connect Discovery 1.0 §3, RFC 8414).
type Discovery struct {
	Issuer                            string   `json:"issuer"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	UserinfoEndpoint                  string   `json:"userinfo_endpoint"`
	JWKSURI                           string   `json:"jwks_uri"`
	RevocationEndpoint                string   `json:"revocation_endpoint"`
	IntrospectionEndpoint             string   `json:"introspection_endpoint"`
	ACRValuesSupported                []string `json:"acr_values_supported"`
	ScopesSupported                   []string `json:"scopes_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	ResponseModesSupported            []string `json:"response_modes_supported"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	SubjectTypesSupported             []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	CodeChallengeMethodsSupported     []string `json:"code_challenge_methods_supported"`
	ClaimsSupported                   []string `json:"claims_supported"`
	PromptValuesSupported             []string `json:"prompt_values_supported"`
	AuthorizationResponseIssParameter bool     `json:"authorization_response_iss_parameter_supported"`
	RevocationEndpointAuthMethods     []string `json:"revocation_endpoint_auth_methods_supported"`
	IntrospectionEndpointAuthMethods  []string `json:"introspection_endpoint_auth_methods_supported"`
}

// Discovery returns the provider metadata.
func (s *Service) Discovery() Discovery {
	iss := s.Config.Issuer
	auth := []string{"client_secret_basic", "client_secret_post"}
	return Discovery{
		Issuer: iss, AuthorizationEndpoint: iss + "/oauth/authorize", TokenEndpoint: iss + "/oauth/token",
		UserinfoEndpoint: iss + "/api/user", JWKSURI: iss + "/.well-known/jwks.json",
		RevocationEndpoint: iss + "/oauth/revoke", IntrospectionEndpoint: iss + "/oauth/introspect",
		ScopesSupported: []string{ScopeOpenID, ScopeEmail, ScopeProfile}, ResponseTypesSupported: []string{"code"},
		ResponseModesSupported: []string{"query"}, GrantTypesSupported: []string{"authorization_code", "refresh_token"},
		SubjectTypesSupported: []string{"pairwise"}, IDTokenSigningAlgValuesSupported: []string{"ES256"},
		TokenEndpointAuthMethodsSupported: auth, CodeChallengeMethodsSupported: []string{"S256"},
		ClaimsSupported:       []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "azp", "email", "email_verified", "name", "picture", "global_id", "amr", "acr"},
		PromptValuesSupported: []string{PromptNone, PromptLogin, PromptConsent}, AuthorizationResponseIssParameter: true,
		ACRValuesSupported:            []string{mfa.ACR1FA, mfa.ACRMFA},
		RevocationEndpointAuthMethods: auth, IntrospectionEndpointAuthMethods: auth,
	}
}

// KeyMaxAge is how long a signing key signs before RotateKeysIfDue replaces it.
const KeyMaxAge = 90 * 24 * time.Hour

// RotateKeysIfDue rotates the signing keys when the newest key was created more than
// KeyMaxAge ago. Several instances may call it: a Redis lock lets one rotate. It reports
// whether it rotated.
func (s *Service) RotateKeysIfDue(ctx context.Context) (bool, error) {
	newest, err := s.DB.SigningKey.Query().Order(ent.Desc(signingkey.FieldCreatedAt)).First(ctx)
	if err != nil && !ent.IsNotFound(err) {
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
