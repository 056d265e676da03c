package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"loginsign/internal/mail/mailtest"
)

// errRetry marks an answer a client retries: the connection failed or the balancer or the
// instance said the service is briefly unavailable (502/503/504).
var errRetry = errors.New("transient")

// visitor is one browser: a cookie jar, stopping at redirects that leave LoginSign.
type visitor struct {
	*http.Client
	base string
}

// newVisitor is a browser on its own loopback address (127.0.x.y from n), so that per-address
// rate limits see distinct people behind the balancer, as they would on the internet.
func newVisitor(base string, n int) *visitor {
	jar, _ := cookiejar.New(nil)
	return &visitor{base: base, Client: &http.Client{Jar: jar, Timeout: 15 * time.Second, Transport: fromAddress(n),
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if !strings.HasPrefix(req.URL.String(), base) {
				return http.ErrUseLastResponse
			}
			return nil
		}}}
}

type answer struct {
	status   int
	location string
	body     string
	url      string
}

// fromAddress is a transport whose connections leave from 127.0.x.y, one address per n.
func fromAddress(n int) *http.Transport {
	ip := net.IPv4(127, 0, byte(1+n/250), byte(2+n%250))
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}, Timeout: 5 * time.Second}
	return &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 4, IdleConnTimeout: 30 * time.Second}
}

// do sends one request; transport errors and 502/503/504 are errRetry.
func (v *visitor) do(ctx context.Context, method, u string, form url.Values, header map[string]string) (answer, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return answer{}, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, val := range header {
		req.Header.Set(k, val)
	}
	resp, err := v.Do(req)
	if err != nil {
		return answer{}, fmt.Errorf("%w: %s %s: %v", errRetry, method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, location: resp.Header.Get("Location"), body: string(b), url: resp.Request.URL.String()}
	if resp.StatusCode == http.StatusBadGateway || resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusGatewayTimeout {
		return a, fmt.Errorf("%w: %s %s: %d", errRetry, method, u, resp.StatusCode)
	}
	return a, nil
}

// retry runs fn until it succeeds, fails with a non-transient error, or the budget ends.
func retry[T any](ctx context.Context, budget time.Duration, retries *int64, mu *sync.Mutex, fn func() (T, error)) (T, error) {
	deadline := time.Now().Add(budget)
	for {
		v, err := fn()
		if err == nil || !errors.Is(err, errRetry) || time.Now().After(deadline) || ctx.Err() != nil {
			return v, err
		}
		if mu != nil {
			mu.Lock()
			*retries++
			mu.Unlock()
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var (
	hiddenRe = regexp.MustCompile(`<input type="hidden" name="([a-z]+)" value="([^"]*)">`)
	linkRe   = regexp.MustCompile(`(?m)^(http\S+/login/magic\?token=\S+)\s*$`)
)

func hidden(a answer, name string) (string, error) {
	for _, m := range hiddenRe.FindAllStringSubmatch(a.body, -1) {
		if m[1] == name {
			return m[2], nil
		}
	}
	return "", fmt.Errorf("no hidden input %q at %s (%d): %.300s", name, a.url, a.status, a.body)
}

// mailbox finds the newest sign-in link sent to an address.
type mailbox struct{ smtp *mailtest.Server }

func (m mailbox) link(ctx context.Context, to string, after time.Time) (string, error) {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		msgs := m.smtp.Messages()
		for i := len(msgs) - 1; i >= 0; i-- {
			e := msgs[i]
			if len(e.To) == 1 && strings.EqualFold(e.To[0], to) && !e.ReceivedAt.Before(after) {
				if l := linkRe.FindStringSubmatch(strings.ReplaceAll(e.Text, "\r\n", "\n")); l != nil {
					return l[1], nil
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return "", fmt.Errorf("no sign-in mail to %s", to)
}

// flowResult is one completed sign-in.
type flowResult struct {
	email        string
	connectionID string
	token        *oauth2.Token
}

// app is a registered application as the flows see it.
type app struct {
	id, secret, redirect string
}

// signInFlow runs a person's whole first sign-in through the balancer: authorize with PKCE,
// the login form, the magic link from the mail, consent, the code exchanged by the app's
// backend with golang.org/x/oauth2, and the id_token verified by go-oidc against the JWKS.
// Every request is retried while the answer is transient; stats counts the retries.
type flowRunner struct {
	base     string
	app      app
	mail     mailbox
	verifier *oidc.IDTokenVerifier
	mu       sync.Mutex
	retries  int64
}

func (f *flowRunner) config() *oauth2.Config {
	return &oauth2.Config{ClientID: f.app.id, ClientSecret: f.app.secret, RedirectURL: f.app.redirect,
		Scopes:   []string{"openid", "email", "profile"},
		Endpoint: oauth2.Endpoint{AuthURL: f.base + "/oauth/authorize", TokenURL: f.base + "/oauth/token", AuthStyle: oauth2.AuthStyleInHeader}}
}

func (f *flowRunner) step(ctx context.Context, v *visitor, method, u string, form url.Values) (answer, error) {
	return retry(ctx, 20*time.Second, &f.retries, &f.mu, func() (answer, error) { return v.do(ctx, method, u, form, nil) })
}

func (f *flowRunner) run(ctx context.Context, n int, email string) (*flowResult, error) {
	v := newVisitor(f.base, n)
	pkce := oauth2.GenerateVerifier()
	state := "st-" + email
	login, err := f.step(ctx, v, http.MethodGet, f.config().AuthCodeURL(state, oauth2.S256ChallengeOption(pkce)), nil)
	if err != nil {
		return nil, err
	}
	flow, err := hidden(login, "flow")
	if err != nil {
		return nil, err
	}
	sentAt := time.Now().Add(-time.Second)
	sent, err := f.step(ctx, v, http.MethodPost, f.base+"/login", url.Values{"email": {email}, "flow": {flow}})
	if err != nil {
		return nil, err
	}
	if sent.status != http.StatusOK {
		return nil, fmt.Errorf("POST /login: %d %.200s", sent.status, sent.body)
	}
	link, err := f.mail.link(ctx, email, sentAt)
	if err != nil {
		return nil, err
	}
	confirm, err := f.step(ctx, v, http.MethodGet, link, nil)
	if err != nil {
		return nil, err
	}
	token, err := hidden(confirm, "token")
	if err != nil {
		return nil, err
	}
	consent, err := f.step(ctx, v, http.MethodPost, f.base+"/login/magic", url.Values{"token": {token}})
	if err != nil {
		return nil, err
	}
	// A person who consented before (a flow started again) goes straight back to the app.
	back := consent
	if !strings.HasPrefix(consent.location, f.app.redirect) {
		cflow, err := hidden(consent, "flow")
		if err != nil {
			return nil, err
		}
		if back, err = f.step(ctx, v, http.MethodPost, f.base+"/oauth/consent", url.Values{"flow": {cflow}, "action": {"allow"}}); err != nil {
			return nil, err
		}
	}
	loc, err := url.Parse(back.location)
	if err != nil || !strings.HasPrefix(back.location, f.app.redirect) {
		return nil, fmt.Errorf("consent: want a redirect to the app, got %d %q", back.status, back.location)
	}
	if loc.Query().Get("state") != state || loc.Query().Get("code") == "" {
		return nil, fmt.Errorf("callback %q: no code or wrong state", back.location)
	}
	octx := context.WithValue(ctx, oauth2.HTTPClient, &http.Client{Timeout: 15 * time.Second, Transport: fromAddress(n)})
	tok, err := retry(ctx, 20*time.Second, &f.retries, &f.mu, func() (*oauth2.Token, error) {
		t, err := f.config().Exchange(octx, loc.Query().Get("code"), oauth2.VerifierOption(pkce))
		if err != nil && transient(err) {
			return nil, fmt.Errorf("%w: %v", errRetry, err)
		}
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("exchange: %w", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := retry(ctx, 20*time.Second, &f.retries, &f.mu, func() (*oidc.IDToken, error) {
		t, err := f.verifier.Verify(octx, raw)
		if err != nil && transient(err) {
			return nil, fmt.Errorf("%w: %v", errRetry, err)
		}
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("id_token: %w", err)
	}
	return &flowResult{email: email, connectionID: idt.Subject, token: tok}, nil
}

// transient reports whether an x/oauth2 or go-oidc error came from the transport or a 5xx.
func transient(err error) bool {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return re.Response != nil && re.Response.StatusCode >= 500
	}
	s := err.Error()
	return strings.Contains(s, "connection") || strings.Contains(s, "EOF") || strings.Contains(s, " 50") ||
		strings.Contains(s, "timeout") || strings.Contains(s, "fetching keys")
}

// signInSession signs email in at /login (no app) and returns its browser, for the portal API.
func signInSession(ctx context.Context, base string, mail mailbox, n int, email string) (*visitor, error) {
	v := newVisitor(base, n)
	var none int64
	step := func(method, u string, form url.Values) (answer, error) {
		return retry(ctx, 20*time.Second, &none, nil, func() (answer, error) { return v.do(ctx, method, u, form, nil) })
	}
	login, err := step(http.MethodGet, base+"/login", nil)
	if err != nil {
		return nil, err
	}
	form := url.Values{"email": {email}}
	if fl, err := hidden(login, "flow"); err == nil {
		form.Set("flow", fl)
	}
	sentAt := time.Now().Add(-time.Second)
	if _, err := step(http.MethodPost, base+"/login", form); err != nil {
		return nil, err
	}
	link, err := mail.link(ctx, email, sentAt)
	if err != nil {
		return nil, err
	}
	confirm, err := step(http.MethodGet, link, nil)
	if err != nil {
		return nil, err
	}
	token, err := hidden(confirm, "token")
	if err != nil {
		return nil, err
	}
	if _, err := step(http.MethodPost, base+"/login/magic", url.Values{"token": {token}}); err != nil {
		return nil, err
	}
	return v, nil
}
