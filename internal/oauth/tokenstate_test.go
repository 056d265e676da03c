package oauth

import (
	"strconv"
	"strings"
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

// TestTokenState: what a token is to its family's row, by generation; a forged secret or
// tag, a generation to come and a token under another key are unknown.
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
	future, _ := parseRefreshToken(s.nextRefreshToken(tokens[3], rt.ID)) // issued, then the rotation undone
	if got := s.tokenState(rt, future); got != tokenUnknown {
		t.Errorf("a generation to come: %v, want unknown", got)
	}
	other := rotationOnly("another key, another deployment.")
	if got := other.tokenState(rt, tokens[1]); got != tokenUnknown {
		t.Errorf("under another rotation key: %v, want unknown", got)
	}
}
