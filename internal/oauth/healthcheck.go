package oauth

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/team"
)

// HealthcheckResult tells a developer whether a client_id and redirect_uri pair would work at
// /oauth/authorize and, when not, why. It is the one answer of the redirect check: REST
// (GET /api/oauth/healthcheck) writes it as JSON, and GraphQL's RedirectUriCheck is this type.
type HealthcheckResult struct {
	OK                    bool     `json:"ok"`
	ClientID              string   `json:"clientId"`
	ClientFound           bool     `json:"clientFound"`
	RedirectURI           string   `json:"redirectUri"`
	RedirectURIRegistered bool     `json:"redirectUriRegistered"`
	MatchedRedirectURI    *string  `json:"matchedRedirectUri"`
	HTTPS                 bool     `json:"https"`
	Problems              []string `json:"problems"`
	ClosestRedirectURI    *string  `json:"closestRedirectUri"`
}

// CheckRedirect runs the redirect-URI healthcheck: the same exact match /oauth/authorize
// applies, and when it fails, for a member of the application's team (one who may read it in
// the Developer Portal), the closest registered URI and how it differs. A missing parameter
// answers apperr Invalid. Anyone may ask whether a pair matches, as /oauth/authorize would
// tell them; only the team is shown the URIs it did not send: a client id is public, and the
// closest of a guess would hand anyone the application's staging and internal callbacks, one
// near guess at a time.
//
// Every call counts against Limits.HealthcheckPerIP for auth.ClientIP(ctx) (apperr
// RateLimited with RetryAfter), whichever transport asked.
func (s *Service) CheckRedirect(ctx context.Context, clientID, redirectURI string) (HealthcheckResult, error) {
	if err := s.pageLimit(ctx, "health:ip", auth.ClientIP(ctx), s.Config.Limits.HealthcheckPerIP); err != nil {
		return HealthcheckResult{}, err
	}
	if clientID == "" || redirectURI == "" {
		return HealthcheckResult{}, apperr.New(apperr.Invalid, "client_id and redirect_uri are required")
	}
	if len(clientID) > 256 || len(redirectURI) > maxParam {
		return HealthcheckResult{}, apperr.New(apperr.Invalid, "client_id or redirect_uri is too long")
	}
	r := HealthcheckResult{ClientID: clientID, RedirectURI: redirectURI, Problems: []string{}}
	if u, err := url.Parse(redirectURI); err == nil {
		r.HTTPS = u.Scheme == "https"
	}
	invalid := CheckRedirectURI(redirectURI)
	if invalid != nil {
		r.Problems = append(r.Problems, "redirect_uri "+invalid.Error())
	}
	app, err := s.application(ctx, clientID)
	if err != nil {
		// As it is (a ServerError with its cause): a database outage answers 503 with
		// Retry-After on every transport, another failure "internal error" (logged).
		return r, err
	}
	if app == nil {
		r.Problems = append(r.Problems, "no application has this client_id")
		return r, nil
	}
	r.ClientFound = true
	if m, ok := MatchRedirectURI(app.RedirectUris, redirectURI); ok {
		r.RedirectURIRegistered, r.MatchedRedirectURI = true, &m
		if m != redirectURI {
			r.Problems = append(r.Problems, "matches "+m+" only through the loopback port exception (RFC 8252)")
		}
	} else if len(app.RedirectUris) == 0 {
		r.Problems = append(r.Problems, "the application has no registered redirect URI")
	} else {
		r.Problems = append(r.Problems, "redirect_uri is not registered; LoginSign compares redirect URIs exactly")
		if _, err := team.Authorize(ctx, s.DB.Client, app.ID, team.ReadApp); err == nil {
			c := closest(app.RedirectUris, redirectURI)
			r.ClosestRedirectURI = &c
			r.Problems = append(r.Problems, differences(c, redirectURI)...)
		} else if apperr.Is(err, apperr.Internal) || apperr.DependencyDown(err) {
			return r, err
		} else {
			r.Problems = append(r.Problems, "sign in to the Developer Portal as a member of the application to see the closest registered URI")
		}
	}
	r.OK = r.ClientFound && r.RedirectURIRegistered && invalid == nil
	if r.OK && !r.HTTPS {
		u, _ := url.Parse(redirectURI)
		if u != nil && u.Scheme == "http" {
			r.Problems = append(r.Problems, "http is fine on loopback for development; use https in production")
		}
	}
	if r.OK && app.RequirePushedAuthorizationRequests {
		// As /oauth/authorize tells anyone who sends it a request in the URL.
		r.Problems = append(r.Problems, requirePushedDescription)
	}
	return r, nil
}

// closestCompared is how many leading bytes of each URI closest compares. The edit distance
// costs the product of the two lengths: in full, an application's 50 registered URIs of 2,048
// bytes against a sent one of 2,048 were 210 million steps, most of a second of CPU for each
// healthcheck a member of the application asked for (30 a minute from each address). Typos
// in redirect URIs sit in the scheme, host and path, well within this.
const closestCompared = 256

// closest is the registered URI with the smallest edit distance to uri over their first
// closestCompared bytes; of those as near, the one whose length is nearest uri's, then the
// first registered.
func closest(registered []string, uri string) string {
	u := uri[:min(len(uri), closestCompared)]
	best, bestD, bestL := registered[0], -1, 0
	for _, r := range registered {
		d := editDistance(r[:min(len(r), closestCompared)], u)
		l := max(len(r)-len(uri), len(uri)-len(r))
		if bestD < 0 || d < bestD || d == bestD && l < bestL {
			best, bestD, bestL = r, d, l
		}
	}
	return best
}

// differences names how got differs from want, part by part.
func differences(want, got string) []string {
	w, err1 := url.Parse(want)
	g, err2 := url.Parse(got)
	if err1 != nil || err2 != nil {
		return nil
	}
	var out []string
	if w.Scheme != g.Scheme {
		out = append(out, fmt.Sprintf("scheme differs: registered %q, sent %q", w.Scheme, g.Scheme))
	}
	if !strings.EqualFold(w.Hostname(), g.Hostname()) {
		wh, gh := strings.TrimPrefix(strings.ToLower(w.Hostname()), "www."), strings.TrimPrefix(strings.ToLower(g.Hostname()), "www.")
		if wh == gh {
			out = append(out, fmt.Sprintf("host differs by www: registered %q, sent %q", w.Hostname(), g.Hostname()))
		} else {
			out = append(out, fmt.Sprintf("host differs: registered %q, sent %q", w.Hostname(), g.Hostname()))
		}
	} else if w.Hostname() != g.Hostname() {
		out = append(out, fmt.Sprintf("host differs in letter case: registered %q, sent %q", w.Hostname(), g.Hostname()))
	}
	if w.Port() != g.Port() {
		out = append(out, fmt.Sprintf("port differs: registered %q, sent %q", w.Port(), g.Port()))
	}
	if w.Path != g.Path {
		if strings.TrimSuffix(w.Path, "/") == strings.TrimSuffix(g.Path, "/") {
			out = append(out, fmt.Sprintf("path differs by a trailing slash: registered %q, sent %q", w.Path, g.Path))
		} else {
			out = append(out, fmt.Sprintf("path differs: registered %q, sent %q", w.Path, g.Path))
		}
	}
	if w.RawQuery != g.RawQuery {
		out = append(out, fmt.Sprintf("query differs: registered %q, sent %q", w.RawQuery, g.RawQuery))
	}
	return out
}

// editDistance is the Levenshtein distance of a and b, bytewise.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
