package oauth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"math/big"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// TestES256SignaturesAreDeterministicAndVerify: an ES256 id_token verifies with go-jose, and
// its signature is RFC 6979's: the same claims signed twice give the same token, other
// claims another signature.
func TestES256SignaturesAreDeterministicAndVerify(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	k, priv := es256Keys(t, now)
	ctx := context.Background()

	sign := func(claims map[string]any) string {
		tok, err := k.Sign(ctx, ES256, claims)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	claims := map[string]any{"sub": "AB1234", "iat": now.Unix()}
	first, again := sign(claims), sign(claims)
	if first != again {
		t.Errorf("the same claims signed twice differ:\n%s\n%s", first, again)
	}
	other := sign(map[string]any{"sub": "AB1234", "iat": now.Unix() + 1})
	for _, tok := range []string{first, other} {
		jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.ES256})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := jws.Verify(&priv.PublicKey); err != nil {
			t.Errorf("go-jose does not verify %s: %v", tok, err)
		}
	}
	if first[len(first)-86:] == other[len(other)-86:] {
		t.Error("other claims got the same signature")
	}
}

// es256Keys is a Keys of one ES256 key, active at now, and that key.
func es256Keys(tb testing.TB, now time.Time) (*Keys, *ecdsa.PrivateKey) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	lk := &loadedKey{id: "k1", alg: ES256, private: priv, public: priv.Public(), activeAt: now.Add(-time.Hour)}
	lk.jwtHeader = encodeHeader(lk, "JWT")
	return &Keys{now: func() time.Time { return now }, loaded: []*loadedKey{lk}, loadedAt: now}, priv
}

// BenchmarkIDTokenES256 is the signing of a refresh grant's id_token (the claims of the
// openid, email and profile scopes): the part of a refresh that no store can make cheaper
// (README, "Performance").
func BenchmarkIDTokenES256(b *testing.B) {
	now := time.Unix(1_800_000_000, 0)
	k, _ := es256Keys(b, now)
	verified := true
	c := idTokenClaims{
		Issuer: "https://id.example.com", Subject: "cn_4f2k9x7q1m3z8w5v6b0n",
		Audience: []string{"app_7d3k2m9q4x1z"}, AZP: "app_7d3k2m9q4x1z",
		IssuedAt: now.Unix(), Expiry: now.Add(time.Hour).Unix(), AuthTime: now.Unix() - 600, Nonce: "n-0S6_WzA2Mj",
		Email: "x9s8d7@relay.example.com", EmailVerified: &verified, Name: "Ada Lovelace", GlobalID: "AB1234",
		AMR: []string{"email"},
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Sign(ctx, ES256, c); err != nil {
			b.Fatal(err)
		}
	}
}

// TestJWSECDSAPadsShortIntegers: R and S shorter than the curve's size (one in 256 of each)
// and with ASN.1's leading zero come out as 32 bytes each that verify; malformed input is
// refused.
func TestJWSECDSAPadsShortIntegers(t *testing.T) {
	t.Parallel()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	short, padded := 0, 0
	for i := range 3000 {
		var msg [8]byte
		binary.BigEndian.PutUint64(msg[:], uint64(i))
		digest := sha256.Sum256(msg[:])
		der, err := priv.Sign(nil, digest[:], crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		sig, err := jwsECDSA(der, 32)
		if err != nil {
			t.Fatalf("%x: %v", der, err)
		}
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		if !ecdsa.Verify(&priv.PublicKey, digest[:], r, s) {
			t.Fatalf("%x → %x does not verify", der, sig)
		}
		if sig[0] == 0 || sig[32] == 0 {
			short++
		}
		if sig[0]&0x80 != 0 || sig[32]&0x80 != 0 {
			padded++ // DER gave this integer a leading zero
		}
	}
	if short == 0 || padded == 0 {
		t.Fatalf("3000 signatures had %d short and %d zero-led integers: the cases were not met", short, padded)
	}
	for _, bad := range [][]byte{
		nil,
		{0x30, 0x00},                   // no integers
		{0x30, 0x03, 0x02, 0x01, 0x01}, // one integer
		{0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x00},            // trailing byte
		append([]byte{0x30, 0x26, 0x02, 0x21, 0x01}, make([]byte, 35)...), // 33-byte R
	} {
		if sig, err := jwsECDSA(bad, 32); err == nil {
			t.Errorf("%x: got %x, want an error", bad, sig)
		}
	}
}
