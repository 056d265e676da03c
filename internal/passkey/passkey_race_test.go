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
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
	"github.com/redis/go-redis/v9"

	entpasskey "loginsign/ent/passkey"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/globalid"
	"loginsign/internal/ids"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/passkey"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

const origin = "https://login.example.com"

// Registrations finishing at the same moment never take a person past MaxPerUser passkeys:
// with one place left, exactly one of them is stored and the others answer Invalid. Each
// finish reads the same registration challenge (a Redis hook keeps it for all of them), as
// when the person started a second registration while the first was finishing. Many rounds,
// on SQLite and PostgreSQL (where the transactions overlap).
func TestConcurrentRegistrationsStayWithinTheLimit(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		now := time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)
		k := kvtest.Embedded(t)
		k.AddHook(keepChallenges{})
		s, err := passkey.New(db, k, origin, func() time.Time { return now })
		if err != nil {
			t.Fatal(err)
		}
		const rounds, parallel = 8, 6
		for i := range rounds {
			ctx := context.Background()
			u := db.User.Create().SetEmail(fmt.Sprintf("ann-%d@example.com", i)).
				SetGlobalID(globalid.Format(int64(i+1) * 7919)).SaveX(ctx)
			for j := range passkey.MaxPerUser - 1 {
				db.Passkey.Create().SetUserID(u.ID).SetName(fmt.Sprintf("Key %d", j)).
					SetCredentialID([]byte(ids.New("seed-"))).SetPublicKey([]byte("key")).
					SetCreatedAt(now).SetUpdatedAt(now).ExecX(ctx)
			}
			ctx = auth.WithSession(ctx, auth.Session{UserID: u.ID, SignedInAt: now})
			options, err := s.BeginRegistration(ctx)
			if err != nil {
				t.Fatal(err)
			}
			responses := make([]string, parallel)
			for j := range responses {
				responses[j] = attestation(t, options)
			}
			errs := make([]error, parallel)
			var wg sync.WaitGroup
			for j := range parallel {
				wg.Go(func() { _, errs[j] = s.FinishRegistration(ctx, "Laptop", responses[j]) })
			}
			wg.Wait()
			stored := 0
			for _, err := range errs {
				switch {
				case err == nil:
					stored++
				case !apperr.Is(err, apperr.Invalid):
					t.Fatalf("round %d: %v, want success or Invalid", i, err)
				}
			}
			n := db.Passkey.Query().Where(entpasskey.UserID(u.ID)).CountX(ctx)
			if stored != 1 || n != passkey.MaxPerUser {
				t.Fatalf("round %d: %d of %d registrations stored, %d passkeys; want 1 and %d", i, stored, parallel, n, passkey.MaxPerUser)
			}
		}
	})
}

// keepChallenges turns the GETDEL of a registration challenge into a GET, so every
// FinishRegistration of a round finds the challenge its response answers.
type keepChallenges struct{}

func (keepChallenges) DialHook(next redis.DialHook) redis.DialHook { return next }

func (keepChallenges) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (keepChallenges) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		args := cmd.Args()
		sc, ok := cmd.(*redis.StringCmd)
		if !ok || cmd.Name() != "getdel" || len(args) != 2 || !strings.HasPrefix(fmt.Sprint(args[1]), "pkreg:") {
			return next(ctx, cmd)
		}
		get := redis.NewStringCmd(ctx, "get", args[1])
		err := next(ctx, get)
		sc.SetVal(get.Val())
		sc.SetErr(get.Err())
		return err
	}
}

// attestation answers registration options (JSON) with a fresh P-256 key's credential
// creation response, attestation "none", user verified, as a browser at origin would.
func attestation(tb testing.TB, options string) string {
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
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pub, _ := k.PublicKey.ECDH()
	raw := pub.Bytes()
	cose, err := webauthncbor.Marshal(webauthncose.EC2PublicKeyData{
		PublicKeyData: webauthncose.PublicKeyData{KeyType: int64(webauthncose.EllipticKey), Algorithm: int64(webauthncose.AlgES256)},
		Curve:         1, XCoord: raw[1:33], YCoord: raw[33:]})
	if err != nil {
		tb.Fatal(err)
	}
	id := []byte(ids.New("cred-"))
	rp := sha256.Sum256([]byte(opts.PublicKey.RP.ID))
	ad := append(rp[:], 0x45) // UP | UV | AT
	ad = binary.BigEndian.AppendUint32(ad, 0)
	ad = append(ad, make([]byte, 16)...) // AAGUID
	ad = binary.BigEndian.AppendUint16(ad, uint16(len(id)))
	ad = append(ad, id...)
	ad = append(ad, cose...)
	att, err := webauthncbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": ad})
	if err != nil {
		tb.Fatal(err)
	}
	cd, _ := json.Marshal(map[string]any{"type": "webauthn.create", "challenge": opts.PublicKey.Challenge, "origin": origin, "crossOrigin": false})
	b64 := base64.RawURLEncoding.EncodeToString
	out, _ := json.Marshal(map[string]any{"id": b64(id), "rawId": b64(id), "type": "public-key", "clientExtensionResults": map[string]any{},
		"response": map[string]any{"clientDataJSON": b64(cd), "attestationObject": b64(att)}})
	return string(out)
}
