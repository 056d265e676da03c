package oauth

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/redis/go-redis/v9"

	"loginsign/internal/ids"
)

// Prefixes of the secrets the authorization server hands out.
const (
	CodePrefix         = "lsac_"
	AccessTokenPrefix  = "lsat_"
	RefreshTokenPrefix = "lsrt_"
	MagicLinkPrefix    = "lsml_"
	FlowPrefix         = "lsfl_"
)

// codeGrant is what an authorization code stands for, stored in Redis under the hash of the
// code. Family names the tokens the code will issue, so that a replay can revoke them.
type codeGrant struct {
	ApplicationID string   `json:"a"`
	ConnectionID  string   `json:"c"`
	UserID        string   `json:"u"`
	RedirectURI   string   `json:"r"`
	Scopes        []string `json:"s"`
	Challenge     string   `json:"p,omitempty"`
	Nonce         string   `json:"n,omitempty"`
	AuthTime      int64    `json:"t"`
	Family        string   `json:"f"`
	// AMR are the methods of the sign-in (RFC 8176), for the id_token's amr and acr.
	AMR []string `json:"m,omitempty"`
	// Line is the line of the browser session that approved (auth.Session.Line): the
	// family remembers it, and ending it revokes the family (endLines).
	Line string `json:"l,omitempty"`
}

func codeKey(hash string) string      { return "oc:" + hash }
func codeGrantKey(hash string) string { return "ocg:" + hash }

// issueCode stores g under a new code for CodeTTL and returns the code.
func (s *Service) issueCode(ctx context.Context, g codeGrant) (string, error) {
	raw := ids.Secret(CodePrefix)
	h := ids.Hash(raw)
	b, _ := json.Marshal(g)
	// The code is a marker that redemption takes, next to its grant; redemption extends the
	// grant's life so that a late replay still finds the family to revoke.
	pipe := s.KV.TxPipeline()
	pipe.Set(ctx, codeKey(h), 1, s.Config.CodeTTL)
	pipe.Set(ctx, codeGrantKey(h), b, s.Config.CodeTTL)
	if _, err := pipe.Exec(ctx); err != nil {
		return "", serverError(fmt.Errorf("storing authorization code: %w", err))
	}
	return raw, nil
}

// codeGrant is the grant of the code raw, taken or not, without taking it: nil for an
// unknown or expired code.
func (s *Service) codeGrant(ctx context.Context, raw string) (*codeGrant, error) {
	if len(raw) > 128 {
		return nil, nil
	}
	v, err := s.KV.Get(ctx, codeGrantKey(ids.Hash(raw))).Bytes()
	if err == redis.Nil {
		return nil, nil
	}
	if err != nil {
		return nil, serverError(fmt.Errorf("reading code grant: %w", err))
	}
	g := &codeGrant{}
	if err := json.Unmarshal(v, g); err != nil {
		return nil, serverError(fmt.Errorf("reading code grant: %w", err))
	}
	return g, nil
}

// redeemCode takes the code raw, atomically (one MULTI/EXEC: GETDEL of the marker, GET of the
// grant, which then lives CodeTTL + AccessTokenTTL): of any number of concurrent redemptions exactly one takes the marker. replayed is
// true when the code was already redeemed; g is then the grant it stood for (so its tokens
// can be revoked). An unknown or expired code gives nil, false.
func (s *Service) redeemCode(ctx context.Context, raw string) (g *codeGrant, replayed bool, err error) {
	if len(raw) > 128 {
		return nil, false, nil
	}
	h := ids.Hash(raw)
	pipe := s.KV.TxPipeline()
	taken := pipe.GetDel(ctx, codeKey(h))
	grant := pipe.Get(ctx, codeGrantKey(h))
	pipe.PExpire(ctx, codeGrantKey(h), s.Config.CodeTTL+s.Config.AccessTokenTTL)
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return nil, false, serverError(fmt.Errorf("redeeming code: %w", err))
	}
	v, err := grant.Bytes()
	if err == redis.Nil {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, serverError(fmt.Errorf("redeeming code: %w", err))
	}
	first := taken.Err() == nil
	if !first && taken.Err() != redis.Nil {
		return nil, false, serverError(fmt.Errorf("redeeming code: %w", taken.Err()))
	}
	g = &codeGrant{}
	if err := json.Unmarshal(v, g); err != nil {
		return nil, false, serverError(fmt.Errorf("reading code grant: %w", err))
	}
	return g, !first, nil
}
