package passkey_test

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
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"entgo.io/ent/dialect"
	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
	"github.com/redis/go-redis/v9"

	"loginsign/ent"
	entpasskey "loginsign/ent/passkey"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/globalid"
	"loginsign/internal/ids"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/mfa"
	"loginsign/internal/passkey"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// Flags of authenticator data (WebAuthn §6.1).
const (
	flagUP = 0x01
	flagUV = 0x04
	flagBE = 0x08
	flagBS = 0x10
	flagAT = 0x40
)

// A cloned authenticator signing in twice at once, both copies presenting the same counter
// (6, after 5 at registration) over the same challenge, signs in once: every sign-in passes
// the library's clone check against the counter it read, but only one may move the stored
// counter from that value; the others answer Unauthorized. Many rounds, on SQLite and
// PostgreSQL; more on SQLite, where the sign-ins overlap less often (and rounds are quick).
func TestAClonedPasskeySigningInTwiceAtOnceSignsInOnce(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		s := newLoginService(t, db)
		const parallel = 6
		rounds := 20
		if db.Dialect != dialect.Postgres {
			rounds = 100
		}
		for i := range rounds {
			device := newAuthenticator(t, 0, 5)
			errs, k := signInAtOnce(t, s, i, device, 6, parallel)
			signedIn := 0
			for _, err := range errs {
				switch {
				case err == nil:
					signedIn++
				case !apperr.Is(err, apperr.Unauthorized):
					t.Fatalf("round %d: %v, want success or Unauthorized", i, err)
				}
			}
			if signedIn != 1 || k.SignCount != 6 {
				t.Fatalf("round %d: %d of %d sign-ins succeeded, stored counter %d; want 1 and 6", i, signedIn, parallel, k.SignCount)
			}
		}
	})
}

// A synced passkey reports counter 0 every time, so there is no clone to detect: sign-ins
// with it at the same moment all succeed (swk, mfa) and its counter stays 0.
func TestASyncedPasskeySigningInTwiceAtOnceSignsInEachTime(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		s := newLoginService(t, db)
		const rounds, parallel = 5, 4
		for i := range rounds {
			synced := newAuthenticator(t, flagBE|flagBS, 0)
			errs, k := signInAtOnce(t, s, i, synced, 0, parallel)
			for j, err := range errs {
				if err != nil {
					t.Fatalf("round %d, sign-in %d: %v", i, j, err)
				}
			}
			if k.SignCount != 0 {
				t.Fatalf("round %d: stored counter %d, want 0", i, k.SignCount)
			}
		}
	})
}

// newLoginService is the service of a test on db, at a fixed time, its login challenges kept
// (keepLoginChallenges).
func newLoginService(t *testing.T, db *store.DB) *passkey.Service {
	t.Helper()
	now := time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)
	k := kvtest.Embedded(t)
	k.AddHook(keepLoginChallenges{})
	s, err := passkey.New(db, k, origin, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// signInAtOnce registers device for a new person, then finishes parallel passkey sign-ins at
// once, each presenting counter over one login challenge (a Redis hook keeps it for all of
// them). It returns their errors and the passkey as stored afterwards.
func signInAtOnce(t *testing.T, s *passkey.Service, round int, device *authenticator, counter uint32, parallel int) ([]error, *ent.Passkey) {
	t.Helper()
	db, now, ctx := s.DB, s.Now(), context.Background()
	u := db.User.Create().SetEmail(fmt.Sprintf("ann-%d@example.com", round)).
		SetGlobalID(globalid.Format(int64(round+1) * 7919)).SaveX(ctx)
	signedIn := auth.WithSession(ctx, auth.Session{UserID: u.ID, SignedInAt: now})
	options, err := s.BeginRegistration(signedIn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.FinishRegistration(signedIn, "Phone", device.register(t, options)); err != nil {
		t.Fatal(err)
	}
	options, err = s.BeginLogin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	responses := make([]string, parallel)
	for j := range responses {
		responses[j] = device.assert(t, options, u.ID, counter)
	}
	errs := make([]error, parallel)
	start := make(chan struct{}) // all at once, not one by one as they are started
	var wg sync.WaitGroup
	for j := range parallel {
		wg.Go(func() {
			<-start
			uid, amr, err := s.FinishLogin(ctx, responses[j])
			if err == nil && (uid != u.ID || !slices.Contains(amr, mfa.AMRMFA)) {
				err = fmt.Errorf("signed in %s with %v, want %s with mfa", uid, amr, u.ID)
			}
			if err == nil && device.flags&flagBE != 0 && !slices.Contains(amr, mfa.AMRSwk) {
				err = fmt.Errorf("a synced passkey proves %v, want swk", amr)
			}
			errs[j] = err
		})
	}
	close(start)
	wg.Wait()
	return errs, db.Passkey.Query().Where(entpasskey.UserID(u.ID)).OnlyX(ctx)
}

// keepLoginChallenges turns the GETDEL of a login challenge into a GET, so every FinishLogin
// of a round finds the challenge its assertion answers.
type keepLoginChallenges struct{}

func (keepLoginChallenges) DialHook(next redis.DialHook) redis.DialHook { return next }

func (keepLoginChallenges) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (keepLoginChallenges) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		args := cmd.Args()
		sc, ok := cmd.(*redis.StringCmd)
		if !ok || cmd.Name() != "getdel" || len(args) != 2 || !strings.HasPrefix(fmt.Sprint(args[1]), "pklogin:") {
			return next(ctx, cmd)
		}
		get := redis.NewStringCmd(ctx, "get", args[1])
		err := next(ctx, get)
		sc.SetVal(get.Val())
		sc.SetErr(get.Err())
		return err
	}
}

// authenticator is a software authenticator holding one P-256 credential: it answers
// registration and sign-in options as a browser at origin would, user verified, with flags
// (backup bits) and the signature counter it is told.
type authenticator struct {
	key     *ecdsa.PrivateKey
	id      []byte
	flags   byte
	counter uint32
}

func newAuthenticator(tb testing.TB, flags byte, counter uint32) *authenticator {
	tb.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return &authenticator{key: k, id: []byte(ids.New("cred-")), flags: flags, counter: counter}
}

// register answers registration options (JSON) with a credential creation response,
// attestation "none".
func (a *authenticator) register(tb testing.TB, options string) string {
	tb.Helper()
	var opts struct {
		PublicKey struct {
			Challenge string `json:"challenge"`
			RP        struct {
				ID string `json:"id"`
			} `json:"rp"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal([]byte(options), &opts); err != nil {
		tb.Fatal(err)
	}
	pub, err := a.key.PublicKey.ECDH()
	if err != nil {
		tb.Fatal(err)
	}
	raw := pub.Bytes()
	cose, err := webauthncbor.Marshal(webauthncose.EC2PublicKeyData{
		PublicKeyData: webauthncose.PublicKeyData{KeyType: int64(webauthncose.EllipticKey), Algorithm: int64(webauthncose.AlgES256)},
		Curve:         1, XCoord: raw[1:33], YCoord: raw[33:]})
	if err != nil {
		tb.Fatal(err)
	}
	ad := a.authData(opts.PublicKey.RP.ID, flagAT, a.counter)
	ad = append(ad, make([]byte, 16)...) // AAGUID
	ad = binary.BigEndian.AppendUint16(ad, uint16(len(a.id)))
	ad = append(ad, a.id...)
	ad = append(ad, cose...)
	att, err := webauthncbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": ad})
	if err != nil {
		tb.Fatal(err)
	}
	cd, _ := json.Marshal(map[string]any{"type": "webauthn.create", "challenge": opts.PublicKey.Challenge, "origin": origin, "crossOrigin": false})
	b64 := base64.RawURLEncoding.EncodeToString
	out, _ := json.Marshal(map[string]any{"id": b64(a.id), "rawId": b64(a.id), "type": "public-key", "clientExtensionResults": map[string]any{},
		"response": map[string]any{"clientDataJSON": b64(cd), "attestationObject": b64(att)}})
	return string(out)
}

// assert answers sign-in options (JSON) with an assertion for userID's credential presenting
// counter.
func (a *authenticator) assert(tb testing.TB, options, userID string, counter uint32) string {
	tb.Helper()
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
	cd, _ := json.Marshal(map[string]any{"type": "webauthn.get", "challenge": opts.PublicKey.Challenge, "origin": origin, "crossOrigin": false})
	cdHash := sha256.Sum256(cd)
	digest := sha256.Sum256(append(slices.Clone(ad), cdHash[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, a.key, digest[:])
	if err != nil {
		tb.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	out, _ := json.Marshal(map[string]any{"id": b64(a.id), "rawId": b64(a.id), "type": "public-key", "clientExtensionResults": map[string]any{},
		"response": map[string]any{"authenticatorData": b64(ad), "clientDataJSON": b64(cd), "signature": b64(sig), "userHandle": b64([]byte(userID))}})
	return string(out)
}

// authData is the authenticator data up to the counter: RP id hash, flags (user present and
// verified, the backup bits, extra), counter.
func (a *authenticator) authData(rpID string, extra byte, counter uint32) []byte {
	rp := sha256.Sum256([]byte(rpID))
	ad := append(rp[:], flagUP|flagUV|a.flags|extra)
	return binary.BigEndian.AppendUint32(ad, counter)
}
