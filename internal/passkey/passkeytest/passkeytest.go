// Package passkeytest is a software WebAuthn authenticator for tests: it answers the
// registration and sign-in options of package passkey with the JSON responses a browser at an
// origin would send, so tests register passkeys and sign in with them without a browser.
package passkeytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"slices"
	"testing"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"

	"loginsign/internal/ids"
)

// Flags of authenticator data (WebAuthn §6.1).
const (
	flagUP = 0x01 // user present
	flagUV = 0x04 // user verified
	flagBE = 0x08 // backup eligible
	flagBS = 0x10 // backed up
	flagAT = 0x40 // attested credential data included
)

// Authenticator holds one P-256 credential with a random credential ID. Its responses say the
// user was present and verified (unless SetUserVerified(false)); its registration uses
// attestation "none". It is not safe for concurrent use (build responses first, then send them
// from several goroutines).
type Authenticator struct {
	key        *ecdsa.PrivateKey
	id         []byte
	synced     bool
	unverified bool
	user       []byte // user handle, from the registration options
}

// New returns an authenticator with a fresh key. A synced one sets the backup flags BE and BS
// in every response, as a passkey synced across devices does.
func New(tb testing.TB, synced bool) *Authenticator {
	tb.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return &Authenticator{key: k, id: []byte(ids.New("cred-")), synced: synced}
}

// Synced reports whether the authenticator sets the backup flags BE and BS.
func (a *Authenticator) Synced() bool { return a.synced }

// SetUserVerified sets whether later responses say the user was verified (flag UV), as an
// authenticator does that has no PIN or biometrics, or skipped them, when it answers with
// user presence alone.
func (a *Authenticator) SetUserVerified(verified bool) { a.unverified = !verified }

// Register answers registration options (the JSON of BeginRegistration) with the credential
// creation response (JSON) a browser at origin sends, reporting signature counter counter. It
// remembers the options' user handle for Login.
func (a *Authenticator) Register(tb testing.TB, options, origin string, counter uint32) string {
	tb.Helper()
	var opts struct {
		PublicKey struct {
			Challenge string `json:"challenge"`
			RP        struct {
				ID string `json:"id"`
			} `json:"rp"`
			User struct {
				ID string `json:"id"`
			} `json:"user"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal([]byte(options), &opts); err != nil {
		tb.Fatal(err)
	}
	user, err := base64.RawURLEncoding.DecodeString(opts.PublicKey.User.ID)
	if err != nil {
		tb.Fatalf("registration options: user handle: %v", err)
	}
	a.user = user
	pub, err := a.key.PublicKey.ECDH()
	if err != nil {
		tb.Fatal(err)
	}
	raw := pub.Bytes() // 0x04 || X || Y
	cose, err := webauthncbor.Marshal(webauthncose.EC2PublicKeyData{
		PublicKeyData: webauthncose.PublicKeyData{KeyType: int64(webauthncose.EllipticKey), Algorithm: int64(webauthncose.AlgES256)},
		Curve:         1, XCoord: raw[1:33], YCoord: raw[33:]})
	if err != nil {
		tb.Fatal(err)
	}
	ad := a.authData(opts.PublicKey.RP.ID, flagAT, counter)
	ad = append(ad, make([]byte, 16)...) // AAGUID
	ad = binary.BigEndian.AppendUint16(ad, uint16(len(a.id)))
	ad = append(ad, a.id...)
	ad = append(ad, cose...)
	att, err := webauthncbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": ad})
	if err != nil {
		tb.Fatal(err)
	}
	cd := clientData(tb, "webauthn.create", opts.PublicKey.Challenge, origin)
	return credential(tb, a.id, map[string]any{"clientDataJSON": b64(cd), "attestationObject": b64(att)})
}

// Login answers sign-in options (the JSON of BeginLogin) with the assertion response (JSON) a
// browser at origin sends, presenting signature counter counter and the user handle of the
// registration. Register must have been called first.
func (a *Authenticator) Login(tb testing.TB, options, origin string, counter uint32) string {
	tb.Helper()
	if a.user == nil {
		tb.Fatal("passkeytest: Login before Register")
	}
	var opts struct {
		PublicKey struct {
			Challenge string `json:"challenge"`
			RPID      string `json:"rpId"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal([]byte(options), &opts); err != nil {
		tb.Fatal(err)
	}
	ad := a.authData(opts.PublicKey.RPID, 0, counter)
	cd := clientData(tb, "webauthn.get", opts.PublicKey.Challenge, origin)
	cdHash := sha256.Sum256(cd)
	digest := sha256.Sum256(append(slices.Clone(ad), cdHash[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, a.key, digest[:])
	if err != nil {
		tb.Fatal(err)
	}
	return credential(tb, a.id, map[string]any{"authenticatorData": b64(ad), "clientDataJSON": b64(cd),
		"signature": b64(sig), "userHandle": b64(a.user)})
}

// authData is the authenticator data up to the counter: RP ID hash, flags (user present and
// verified, the backup bits of a synced authenticator, extra), counter.
func (a *Authenticator) authData(rpID string, extra byte, counter uint32) []byte {
	flags := byte(flagUP | extra)
	if !a.unverified {
		flags |= flagUV
	}
	if a.synced {
		flags |= flagBE | flagBS
	}
	rp := sha256.Sum256([]byte(rpID))
	return binary.BigEndian.AppendUint32(append(rp[:], flags), counter)
}

// clientData is the client data JSON of a ceremony of type typ answering challenge at origin.
func clientData(tb testing.TB, typ, challenge, origin string) []byte {
	tb.Helper()
	cd, err := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": origin, "crossOrigin": false})
	if err != nil {
		tb.Fatal(err)
	}
	return cd
}

// b64 is the unpadded base64url encoding WebAuthn JSON uses for binary values.
func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// credential is the PublicKeyCredential JSON of credential id with response.
func credential(tb testing.TB, id []byte, response map[string]any) string {
	tb.Helper()
	out, err := json.Marshal(map[string]any{"id": b64(id), "rawId": b64(id), "type": "public-key",
		"clientExtensionResults": map[string]any{}, "response": response})
	if err != nil {
		tb.Fatal(err)
	}
	return string(out)
}
