package oauth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"loginsign/ent"
	"loginsign/internal/ids"
)

// Pushed authorization requests (RFC 9126). A client sends its authorization request to the
// pushed authorization request endpoint, authenticated as at the token endpoint, and gets a
// request_uri that stands for it; the browser then goes to the authorization endpoint with
// only client_id and request_uri. The request's parameters never pass through the browser,
// where they could be read or changed, and a request the client did not push cannot be made
// in its name.

// RequestURIPrefix begins every request_uri the endpoint issues (RFC 9126 section 2.2).
const RequestURIPrefix = "urn:ietf:params:oauth:request_uri:"

// PushedRequestTTL is how long a pushed request waits for its browser (expires_in): the
// client redirects the browser right after pushing it.
const PushedRequestTTL = 60 * time.Second

// DefaultPushedBytesPerOwner is Limits.PushedBytesPerOwner's default N, per
// PushedRequestTTL: 6 MiB, six thousand requests of a usual kilobyte a minute, two hundred of
// the largest (about 30 KB: the longest state, nonce, redirect URI and id_token_hint).
const DefaultPushedBytesPerOwner = 6 << 20

// PushedRequest is the answer of the pushed authorization request endpoint (RFC 9126
// section 2.2).
type PushedRequest struct {
	RequestURI string `json:"request_uri"`
	ExpiresIn  int    `json:"expires_in"`
}

// PushAuthorizationRequest checks the authorization request form pushes for the client creds
// authenticate, as the authorization endpoint would (Authorize), and keeps it for
// PushedRequestTTL under a new request_uri. Its errors are the token endpoint's JSON errors
// (RFC 9126 section 2.3), never a redirect: the client is on the line. A form with a
// request_uri is invalid_request (section 2.1); with a request object,
// request_not_supported.
func (s *Service) PushAuthorizationRequest(ctx context.Context, creds ClientCredentials, form url.Values) (*PushedRequest, error) {
	app, err := s.AuthenticateClient(ctx, creds)
	if err != nil {
		return nil, err
	}
	if sent(form, "request_uri") {
		return nil, ErrInvalidRequest.WithDescription("request_uri cannot be pushed; push the authorization request's parameters")
	}
	// Only the request's parameters are kept (an AuthorizeRequest), never the client's secret.
	q := maps.Clone(form)
	q.Set("client_id", app.ID)
	req, err := ParseAuthorizeRequest(q)
	if err != nil {
		return nil, AsError(err)
	}
	if e := unregisteredRedirect(app, req.RedirectURI); e != nil {
		return nil, e
	}
	if e := s.checkIDTokenHint(ctx, req, app); e != nil {
		return nil, e
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // "<" is one byte of the budget, not six
	if err := enc.Encode(req); err != nil {
		return nil, serverError(err)
	}
	if err := s.pushedRequestBudget(ctx, app, buf.Len()); err != nil {
		return nil, err
	}
	token := ids.Secret("")
	if err := s.KV.Set(ctx, pushedKey(app.ID, token), buf.Bytes(), PushedRequestTTL).Err(); err != nil {
		return nil, serverError(fmt.Errorf("storing a pushed authorization request: %w", err))
	}
	return &PushedRequest{RequestURI: RequestURIPrefix + token, ExpiresIn: int(PushedRequestTTL / time.Second)}, nil
}

// pushedKey is the store key of the request client pushed under token: a request_uri presented
// with another client_id finds nothing, and so cannot spend it.
func pushedKey(client, token string) string { return "par:" + ids.Hash(client+"\x00"+token) }

// isPushed reports whether the authorization request q names a request_uri this server issued.
func isPushed(q url.Values) bool {
	return strings.HasPrefix(q.Get("request_uri"), RequestURIPrefix)
}

// pushedRequest takes the request the request_uri of q stands for, once: the parameters the
// client pushed, whatever else q holds (RFC 9126 section 4). q must name the client that
// pushed it. A request_uri that is unknown, spent, expired or another client's is
// invalid_request_uri (OpenID Connect Core section 3.1.2.6), shown and never redirected: no
// redirect URI of it can be trusted.
func (s *Service) pushedRequest(ctx context.Context, q url.Values) (url.Values, error) {
	client, perr := singleParam(q, "client_id", maxIDLength)
	if perr != nil {
		return nil, perr.Shown()
	}
	uri, perr := singleParam(q, "request_uri", maxParam)
	if perr != nil {
		return nil, perr.Shown()
	}
	if client == "" {
		return nil, ErrInvalidRequest.WithDescription("client_id is required with a request_uri").Shown()
	}
	b, err := s.KV.GetDel(ctx, pushedKey(client, strings.TrimPrefix(uri, RequestURIPrefix))).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrInvalidRequestURI.Shown()
	} else if err != nil {
		return nil, serverError(fmt.Errorf("reading a pushed authorization request: %w", err))
	}
	var req AuthorizeRequest
	if err := json.Unmarshal(b, &req); err != nil {
		return nil, serverError(fmt.Errorf("reading a pushed authorization request: %w", err))
	}
	return req.Query(), nil
}

// pushedRequestBudget counts a pushed request of n bytes against the budget of the developer
// who owns app (Limits.PushedBytesPerOwner), before it is stored: each is kept in the store
// for PushedRequestTTL, so the applications' request quotas alone (up to a million a minute
// each) would let one free account fill the store. Counted in bytes, since a request may be
// thirty times the size of another, and in a window as long as a request lives, it bounds
// what one account keeps stored to 2 N. Past it rate_limited (429, RetryAfter).
func (s *Service) pushedRequestBudget(ctx context.Context, app *ent.Application, n int) error {
	l := s.Config.Limits.PushedBytesPerOwner.Or(Limit{N: DefaultPushedBytesPerOwner, Window: PushedRequestTTL})
	l.Name = "par-bytes:owner"
	l.Message = "the applications of this developer account have pushed too many authorization requests; retry in %d seconds"
	return s.ownerBudget(ctx, l, app, n, "the pushed authorization requests")
}
