package oauth_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"loginsign/internal/oauth"
)

// TestAnIDTokenOfARetiredKeyIsStillAHint: RP-Initiated Logout 1.0 §2 has the OP accept an
// id_token_hint it issued even when it has expired, and OpenID Connect Core §3.1.2.1 takes an
// expired one as well. A relying party keeps the id_token of its sign-in for as long as its own
// session lasts, often across a key rotation (every 90 days), after which the key that
// signed it is retired from the JWKS an id_token lifetime later. Such a hint was refused as "not an
// id_token issued by LoginSign": the app's sign-out button showed the person an error page
// and left them signed in to LoginSign, and an authorization request naming its person was
// refused. LoginSign did sign it, and the retired key's row still says so.
func TestAnIDTokenOfARetiredKeyIsStillAHint(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		ctx := context.Background()
		s := e.signIn(t, "openid")
		hint := s.resp.IDToken
		if _, err := e.svc.Keys.Rotate(ctx); err != nil {
			t.Fatal(err)
		}
		// Past the new keys' publication lead and the old ones' last id_token: retired.
		e.clock.Advance(e.svc.Config.KeyPublishLead + e.svc.Config.IDTokenTTL + time.Minute)
		e.svc.Keys.Reload()
		set, err := e.svc.Keys.JWKS(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range set.Keys {
			if k.KeyID == kidOf(t, hint) {
				t.Fatalf("the key of the hint %s is still published", k.KeyID)
			}
		}

		req, err := e.svc.ParseLogout(ctx, url.Values{"id_token_hint": {hint}, "client_id": {s.id}})
		if err != nil {
			t.Fatalf("end session with the id_token of a retired key: %v", err)
		}
		if req.HintConnectionID == "" || req.Application == nil || req.Application.ID != s.id {
			t.Fatalf("the hint names connection %q of %v", req.HintConnectionID, req.Application)
		}
		areq, _, err := e.svc.Authorize(ctx, authzQuery(s.id, "https://rp.example/cb", "", "scope", "openid", "id_token_hint", hint))
		if err != nil {
			t.Fatalf("authorize with the id_token of a retired key: %v", err)
		}
		if areq.HintConnection != req.HintConnectionID {
			t.Fatalf("authorize names %q, end session %q", areq.HintConnection, req.HintConnectionID)
		}

		// A token of the same shape under a kid LoginSign never had, or one that is not a
		// key id at all, is still refused, shown, never a redirect.
		for _, kid := range []string{"key_unknown0000000000000000", "x\x00y", strings.Repeat("k", 300)} {
			forged := withKid(t, hint, kid)
			_, err := e.svc.ParseLogout(ctx, url.Values{"id_token_hint": {forged}})
			if oe := oauth.AsError(err); err == nil || oe.Code != oauth.InvalidRequest || oe.Redirect {
				t.Fatalf("a hint with kid %q: %v", kid, err)
			}
		}
	})
}

// kidOf is the kid of the JWS header of tok.
func kidOf(t *testing.T, tok string) string {
	t.Helper()
	var h map[string]any
	b, err := base64.RawURLEncoding.DecodeString(strings.SplitN(tok, ".", 2)[0])
	if err != nil || json.Unmarshal(b, &h) != nil {
		t.Fatalf("header of %q: %v", tok, err)
	}
	kid, _ := h["kid"].(string)
	return kid
}

// withKid is tok with kid in its header instead (its signature no longer matches).
func withKid(t *testing.T, tok, kid string) string {
	t.Helper()
	parts := strings.SplitN(tok, ".", 2)
	var h map[string]any
	b, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil || json.Unmarshal(b, &h) != nil {
		t.Fatalf("header of %q: %v", tok, err)
	}
	h["kid"] = kid
	b, _ = json.Marshal(h)
	return base64.RawURLEncoding.EncodeToString(b) + "." + parts[1]
}
