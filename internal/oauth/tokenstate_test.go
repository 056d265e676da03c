package oauth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"sync"
	"testing"

	"loginsign/ent"
	"loginsign/internal/ids"
)

// rotationOnly is a service that can derive and check refresh tokens under key, and no more.
func rotationOnly(key string) *Service {
	return &Service{Config: Config{RotationKey: []byte(key)}, Equal: ids.Equal}
}

// family is a row rotated gens times from its first token, and that token.
func (s *Service) family(gens int) (*ent.RefreshToken, refreshRef) {
	id := ids.New(ids.RefreshToken)
	first, _ := parseRefreshToken(s.firstRefreshToken(id))
	r := first
	for range gens {
		r, _ = parseRefreshToken(s.nextRefreshToken(r, id))
	}
	current := ids.Hash(r.raw)
	return &ent.RefreshToken{ID: id, Generation: gens, CurrentHash: &current}, first
}

// TestTokenState: what a token is to its family's row, by generation (a later one is ahead:
// issued by rotations the database lost); a forged secret or tag, at any generation, and a
// token under another key are unknown.
func TestTokenState(t *testing.T) {
	t.Parallel()
	s := rotationOnly("0123456789abcdef0123456789abcdef")
	rt, first := s.family(3)
	tokens := []refreshRef{first}
	for i := range 3 {
		r := tokens[i]
		next, _ := parseRefreshToken(s.nextRefreshToken(r, rt.ID))
		tokens = append(tokens, next)
	}
	for gen, want := range []tokenState{tokenSpent, tokenSpent, tokenPrevious, tokenLive} {
		if got := s.tokenState(rt, tokens[gen]); got != want {
			t.Errorf("generation %d: %v, want %v", gen, got, want)
		}
	}
	retag := func(r refreshRef, secret, tag string) refreshRef {
		raw := RefreshTokenPrefix + rt.ID + "." + strconv.Itoa(r.gen) + "." + secret + "." + tag
		p, ok := parseRefreshToken(raw)
		if !ok {
			t.Fatalf("%s does not parse", raw)
		}
		return p
	}
	for _, forged := range []refreshRef{
		retag(tokens[0], "forged", strings.Repeat("A", 22)), // a spent generation, any tag
		retag(tokens[3], "forged", strings.Repeat("A", 22)), // the live one
		retag(tokens[1], "forged", tokens[1].tag),           // a spent one's tag on another secret
		retag(tokens[1], strings.Split(tokens[1].raw, ".")[2], strings.Repeat("A", 22)),
	} {
		if got := s.tokenState(rt, forged); got != tokenUnknown {
			t.Errorf("%s: %v, want unknown", forged.raw, got)
		}
	}
	if got := s.tokenState(rt, tokens[3]); got != tokenLive {
		t.Fatalf("the live token after forged ones: %v", got)
	}
	future, _ := parseRefreshToken(s.nextRefreshToken(tokens[3], rt.ID)) // issued, then the rotation lost
	further, _ := parseRefreshToken(s.nextRefreshToken(future, rt.ID))
	for _, r := range []refreshRef{future, further} {
		if got := s.tokenState(rt, r); got != tokenAhead {
			t.Errorf("generation %d of a row at %d: %v, want ahead", r.gen, rt.Generation, got)
		}
	}
	for _, forged := range []refreshRef{
		retag(future, "forged", strings.Repeat("A", 22)),
		retag(future, "forged", future.tag),
		retag(further, strings.Split(future.raw, ".")[2], future.tag), // the next one's secret and tag, a generation on
	} {
		if got := s.tokenState(rt, forged); got != tokenUnknown {
			t.Errorf("%s, ahead: %v, want unknown", forged.raw, got)
		}
	}
	other := rotationOnly("another key, another deployment.")
	if got := other.tokenState(rt, tokens[1]); got != tokenUnknown {
		t.Errorf("under another rotation key: %v, want unknown", got)
	}
}

// TestRotationMACIsHMACSHA256 checks the MAC of rotationMAC (a clone of an HMAC keyed once)
// against crypto/hmac keyed afresh, from many goroutines at once, for a key of a block and
// less and for one longer than SHA-256's block (which HMAC hashes first).
func TestRotationMACIsHMACSHA256(t *testing.T) {
	t.Parallel()
	for _, key := range []string{"0123456789abcdef0123456789abcdef", strings.Repeat("k", 100)} {
		s := rotationOnly(key)
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := range 50 {
					r := refreshRef{raw: RefreshTokenPrefix + strings.Repeat("x", g*7+i)}
					data := strings.Repeat("openid ", i%5)
					m := hmac.New(sha256.New, []byte(key))
					m.Write([]byte("access\x00" + r.raw + "\x00" + data))
					want := base64.RawURLEncoding.EncodeToString(m.Sum(nil))
					if got := s.rotationMAC("access", r, data); got != want {
						t.Errorf("key of %d bytes, rotationMAC(%q, %q) = %s, want %s", len(key), r.raw, data, got, want)
						return
					}
				}
			})
		}
		wg.Wait()
	}
}

// BenchmarkSuccessorTokens is the derivation of a rotation's access and refresh token.
func BenchmarkSuccessorTokens(b *testing.B) {
	s := rotationOnly("0123456789abcdef0123456789abcdef")
	rt, first := s.family(1)
	b.ReportAllocs()
	for b.Loop() {
		s.successorTokens(first, rt.ID, []string{"openid", "email"})
	}
}
