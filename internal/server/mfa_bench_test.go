package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
	"golang.org/x/oauth2"

	"loginsign/internal/auth"
)

// softKey is a software passkey for benchmarks: a P-256 key whose public half is stored as a
// passkey of the person, signing WebAuthn assertions as an authenticator would (user present
// and verified, counter increasing).
type softKey struct {
	id     []byte
	user   string
	key    *ecdsa.PrivateKey
	rpID   string
	origin string
	count  uint32
}

// addSoftKey stores a new software passkey for userID (what a registration would store).
func (e *oauthEnv) addSoftKey(tb testing.TB, userID string) *softKey {
	tb.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	u, _ := url.Parse(e.base)
	pub, _ := k.PublicKey.ECDH()
	raw := pub.Bytes() // 0x04 || X || Y
	cose, err := webauthncbor.Marshal(webauthncose.EC2PublicKeyData{
		PublicKeyData: webauthncose.PublicKeyData{KeyType: int64(webauthncose.EllipticKey), Algorithm: int64(webauthncose.AlgES256)},
		Curve:         1, XCoord: raw[1:33], YCoord: raw[33:]})
	if err != nil {
		tb.Fatal(err)
	}
	sk := &softKey{id: []byte(fmt.Sprintf("soft-%d-%s", time.Now().UnixNano(), userID)), user: userID, key: k, rpID: u.Hostname(), origin: e.base}
	if err := e.srv.db.Passkey.Create().SetUserID(userID).SetName("soft").SetCredentialID(sk.id).SetPublicKey(cose).
		SetAttestationType("none").Exec(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return sk
}

// assert answers the request options JSON with an assertion as a PublicKeyCredential JSON.
func (sk *softKey) assert(tb testing.TB, options string) string {
	var opts struct {
		PublicKey struct {
			Challenge string `json:"challenge"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal([]byte(options), &opts); err != nil {
		tb.Fatal(err)
	}
	sk.count++
	cd, _ := json.Marshal(map[string]any{"type": "webauthn.get", "challenge": opts.PublicKey.Challenge, "origin": sk.origin, "crossOrigin": false})
	rp := sha256.Sum256([]byte(sk.rpID))
	ad := append(rp[:], 0x05) // UP | UV
	ad = binary.BigEndian.AppendUint32(ad, sk.count)
	cdHash := sha256.Sum256(cd)
	digest := sha256.Sum256(append(slices.Clone(ad), cdHash[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, sk.key, digest[:])
	if err != nil {
		tb.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	out, _ := json.Marshal(map[string]any{"id": b64(sk.id), "rawId": b64(sk.id), "type": "public-key",
		"clientExtensionResults": map[string]any{}, "response": map[string]any{
			"clientDataJSON": b64(cd), "authenticatorData": b64(ad), "signature": b64(sig), "userHandle": b64([]byte(sk.user))}})
	return string(out)
}

// passkeyTokens runs one authorization signing in with sk and returns the token response.
func (e *oauthEnv) passkeyTokens(tb testing.TB, b *browser, sk *softKey) map[string]any {
	verifier := oauth2.GenerateVerifier()
	p := b.get(e.config(e.app, rpCallback).AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)))
	flow := p.hidden(tb, "flow")
	opts := b.get(e.base + "/login/passkey")
	if opts.StatusCode != 200 {
		tb.Fatalf("passkey options: %d %s", opts.StatusCode, opts.Body)
	}
	p = b.post(e.base+"/login/passkey", url.Values{"flow": {flow}, "credential": {sk.assert(tb, opts.Body)}})
	if p.StatusCode == 200 {
		p = b.consent(p, "allow", "")
	}
	code := callback(tb, p).Get("code")
	st, body, _ := e.tokenRequest(e.app, url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {rpCallback}, "code_verifier": {verifier}})
	if st != 200 {
		tb.Fatalf("exchange: %d %v", st, body)
	}
	return body
}

// totpTokens runs one authorization signing in by magic link and a TOTP code of secret.
func (e *oauthEnv) totpTokens(tb testing.TB, b *browser, email, secret string) map[string]any {
	verifier := oauth2.GenerateVerifier()
	b.signIn(b.get(e.config(e.app, rpCallback).AuthCodeURL("s", oauth2.S256ChallengeOption(verifier))), email)
	p := b.post(e.base+"/login/verify", url.Values{"code": {totpCode(tb, secret, time.Now())}})
	if p.StatusCode == 200 {
		p = b.consent(p, "allow", "")
	}
	code := callback(tb, p).Get("code")
	st, body, _ := e.tokenRequest(e.app, url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {rpCallback}, "code_verifier": {verifier}})
	if st != 200 {
		tb.Fatalf("exchange: %d %v", st, body)
	}
	return body
}

// withLocalhost names the server localhost instead of 127.0.0.1 (WebAuthn needs a domain).
func withLocalhost(m map[string]string) {
	m["LOGINSIGN_BASE_URL"] = strings.Replace(m["LOGINSIGN_BASE_URL"], "127.0.0.1", "localhost", 1)
}

// reportFlows reports flows per second of busy time and the p99 of lat.
func reportFlows(b *testing.B, lat []time.Duration) {
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	slices.Sort(lat)
	b.ReportMetric(float64(len(lat))/sum.Seconds(), "flows/s")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkSignInFlowMagicLink is BenchmarkSignInFlow measured like the two below (busy time
// only): authorize, magic link mailed over SMTP, confirmation, consent, code exchange.
func BenchmarkSignInFlowMagicLink(b *testing.B) {
	e := benchEnv(b, withLocalhost)
	var n atomic.Int64
	var lat []time.Duration
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		e.signedInTokens(e.browser(), fmt.Sprintf("bench%d@example.com", n.Add(1)), "")
		lat = append(lat, time.Since(t0))
	}
	reportFlows(b, lat)
}

// BenchmarkSignInFlowTOTP is the same flow for a person with two-step verification: after the
// magic link, a TOTP code. Each flow is a new person (a TOTP step is accepted once), enrolled
// outside the measured time.
func BenchmarkSignInFlowTOTP(b *testing.B) {
	e := benchEnv(b, withLocalhost)
	ctx := context.Background()
	var lat []time.Duration
	for i := 0; i < b.N; i++ {
		email := fmt.Sprintf("totp%d@example.com", i)
		u, _, err := e.srv.identity.EnsureUser(ctx, email)
		if err != nil {
			b.Fatal(err)
		}
		uctx := auth.WithSession(ctx, auth.Session{UserID: u.ID, SignedInAt: time.Now()})
		en, err := e.srv.mfa.BeginTOTP(uctx, email)
		if err != nil {
			b.Fatal(err)
		}
		confirmation, _, err := e.srv.mfa.IssuePasskeyConfirmation(uctx, u.ID)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.srv.mfa.ConfirmTOTP(uctx, totpCode(b, en.Secret, time.Now().Add(-30*time.Second)), confirmation); err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		e.totpTokens(b, e.browser(), email, en.Secret)
		lat = append(lat, time.Since(t0))
	}
	reportFlows(b, lat)
}

// BenchmarkSignInFlowPasskey is the flow with a passkey instead of mail: authorize, request
// options, assertion (signed by a software authenticator in the benchmark), consent, exchange.
func BenchmarkSignInFlowPasskey(b *testing.B) {
	e := benchEnv(b, withLocalhost)
	u, _, err := e.srv.identity.EnsureUser(context.Background(), "passkey@example.com")
	if err != nil {
		b.Fatal(err)
	}
	sk := e.addSoftKey(b, u.ID)
	var lat []time.Duration
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		e.passkeyTokens(b, e.browser(), sk)
		lat = append(lat, time.Since(t0))
	}
	reportFlows(b, lat)
}
