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
}

func codeKey(hash string) string     { return "oc:" + hash }
func usedCodeKey(hash string) string { return "ocu:" + hash }

// issueCode stores g under a new code for CodeTTL and returns the code.
func (s *Service) issueCode(ctx context.Context, g codeGrant) (string, error) {
	raw := ids.Secret(CodePrefix)
	b, _ := json.Marshal(g)
	if err := s.KV.Set(ctx, codeKey(ids.Hash(raw)), b, s.Config.CodeTTL).Err(); err != nil {
		return "", serverError(fmt.Errorf("storing authorization code: %w", err))
	}
	return raw, nil
}

// redeemScript takes a code atomically: the first caller gets the grant (status 1) and leaves
// a used-marker holding it; later callers get the marker (status 2: a replay); an unknown or
// expired code gives status 0. One script, so exactly one of any number of concurrent
// redemptions wins.
var redeemScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v then
  redis.call('DEL', KEYS[1])
  redis.call('SET', KEYS[2], v, 'PX', ARGV[1])
  return {1, v}
end
local u = redis.call('GET', KEYS[2])
if u then return {2, u} end
return {0, ''}
`)

// redeemCode takes the code raw. replayed is true when it was already redeemed; g is then the
// grant it stood for (so its tokens can be revoked).
func (s *Service) redeemCode(ctx context.Context, raw string) (g *codeGrant, replayed bool, err error) {
	if len(raw) > 128 {
		return nil, false, nil
	}
	h := ids.Hash(raw)
	// The used-marker outlives the code so a late replay still revokes what the code issued.
	res, err := redeemScript.Run(ctx, s.KV, []string{codeKey(h), usedCodeKey(h)},
		(s.Config.CodeTTL + s.Config.AccessTokenTTL).Milliseconds()).Slice()
	if err != nil {
		return nil, false, serverError(fmt.Errorf("redeeming code: %w", err))
	}
	status, _ := res[0].(int64)
	if status == 0 {
		return nil, false, nil
	}
	v, _ := res[1].(string)
	g = &codeGrant{}
	if err := json.Unmarshal([]byte(v), g); err != nil {
		return nil, false, serverError(fmt.Errorf("reading code grant: %w", err))
	}
	return g, status == 2, nil
}
