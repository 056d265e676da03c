//go:build loadtest

package server

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// hydra is an Ory Hydra (LOGINSIGN_HYDRA_BIN) started for the load run: its public and admin
// origins, one client, an access token and refresh tokens of signed-in families. Hydra is
// optional: without LOGINSIGN_HYDRA_BIN the load run measures LoginSign alone.
type hydra struct {
	name              string
	pub, admin        string
	clientID, secret  string
	access            string
	refresh           []string
	userLua, introLua string
	pid               int // of `hydra serve all`, whose CPU time is metered
}

// startHydra migrates dsn (unless it is "memory", which Hydra migrates itself), starts
// `hydra serve all` on it with opaque access tokens of 1 h, creates a client and signs in
// `families` times through the login and consent challenges (accepted over the admin API,
// as a login app would).
func startHydra(t *testing.T, bin, name, dsn, dir string, families int) *hydra {
	t.Helper()
	pubAddr, adminAddr := freeAddr(t), freeAddr(t)
	env := append(os.Environ(), "DSN="+dsn, "SECRETS_SYSTEM=loadtest-hydra-system-secret-0123456789",
		"URLS_SELF_ISSUER=http://"+pubAddr, "URLS_LOGIN=http://127.0.0.1:9/login", "URLS_CONSENT=http://127.0.0.1:9/consent",
		"SERVE_PUBLIC_HOST=127.0.0.1", "SERVE_PUBLIC_PORT="+strings.Split(pubAddr, ":")[1],
		"SERVE_ADMIN_HOST=127.0.0.1", "SERVE_ADMIN_PORT="+strings.Split(adminAddr, ":")[1],
		"STRATEGIES_ACCESS_TOKEN=opaque", "TTL_ACCESS_TOKEN=1h", "LOG_LEVEL=error", "LOG_LEAK_SENSITIVE_VALUES=false")
	if dsn != "memory" {
		mig := exec.Command(bin, "migrate", "sql", "up", "-e", "--yes")
		mig.Env = env
		if out, err := mig.CombinedOutput(); err != nil {
			t.Fatalf("hydra migrate: %v\n%s", err, out)
		}
	}
	srv := exec.Command(bin, "serve", "all", "--dev", "--sqa-opt-out")
	srv.Env = env
	logf, _ := os.Create(dir + "/hydra-" + strings.ReplaceAll(name, " ", "-") + ".log")
	srv.Stdout, srv.Stderr = logf, logf
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait(); logf.Close() })
	h := &hydra{name: name, pub: "http://" + pubAddr, admin: "http://" + adminAddr, pid: srv.Process.Pid}
	waitUp(t, h.admin+"/health/ready")
	waitUp(t, h.pub+"/health/ready")

	const redirect = "http://127.0.0.1:9/cb"
	var client struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	hydraJSON(t, http.MethodPost, h.admin+"/admin/clients", map[string]any{
		"grant_types": []string{"authorization_code", "refresh_token"}, "response_types": []string{"code"},
		"scope": "openid offline_access", "redirect_uris": []string{redirect},
		"token_endpoint_auth_method": "client_secret_basic"}, &client)
	h.clientID, h.secret = client.ID, client.Secret
	for i := 0; i <= families; i++ {
		access, refresh := h.signIn(t, redirect, fmt.Sprintf("user-%d", i%4))
		if i == 0 {
			h.access = access
			continue
		}
		h.refresh = append(h.refresh, refresh)
	}
	h.userLua = writeLua(t, dir, "hydra-user-"+name+".lua", fmt.Sprintf("wrk.headers[\"Authorization\"] = \"Bearer %s\"\n", h.access))
	h.introLua = writeLua(t, dir, "hydra-intro-"+name+".lua", fmt.Sprintf(`wrk.method = "POST"
wrk.body = "token=%s"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
`, url.QueryEscape(h.access)))
	return h
}

// signIn runs one authorization-code flow: authorize, accept the login and consent
// challenges, exchange the code.
func (h *hydra) signIn(t *testing.T, redirect, subject string) (access, refresh string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	cl := &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	next := h.pub + "/oauth2/auth?" + url.Values{"client_id": {h.clientID}, "response_type": {"code"},
		"scope": {"openid offline_access"}, "redirect_uri": {redirect}, "state": {"loadtest-state"},
		"nonce": {"loadtest-nonce"}}.Encode()
	for range 10 {
		if strings.HasPrefix(next, redirect) {
			u, _ := url.Parse(next)
			code := u.Query().Get("code")
			if code == "" {
				t.Fatalf("hydra: no code in %s", next)
			}
			form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}}
			req, _ := http.NewRequest(http.MethodPost, h.pub+"/oauth2/token", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(url.QueryEscape(h.clientID), url.QueryEscape(h.secret))
			resp, err := cl.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var out struct {
				Access  string `json:"access_token"`
				Refresh string `json:"refresh_token"`
			}
			if err := decodeBody(resp, &out); err != nil || out.Refresh == "" {
				t.Fatalf("hydra code exchange: %d %v", resp.StatusCode, err)
			}
			return out.Access, out.Refresh
		}
		u, _ := url.Parse(next)
		switch {
		case u.Query().Get("login_challenge") != "" && u.Path == "/login":
			var acc struct {
				RedirectTo string `json:"redirect_to"`
			}
			hydraJSON(t, http.MethodPut, h.admin+"/admin/oauth2/auth/requests/login/accept?login_challenge="+url.QueryEscape(u.Query().Get("login_challenge")),
				map[string]any{"subject": subject}, &acc)
			next = acc.RedirectTo
			continue
		case u.Query().Get("consent_challenge") != "" && u.Path == "/consent":
			var acc struct {
				RedirectTo string `json:"redirect_to"`
			}
			hydraJSON(t, http.MethodPut, h.admin+"/admin/oauth2/auth/requests/consent/accept?consent_challenge="+url.QueryEscape(u.Query().Get("consent_challenge")),
				map[string]any{"grant_scope": []string{"openid", "offline_access"}}, &acc)
			next = acc.RedirectTo
			continue
		}
		resp, err := cl.Get(next)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		loc, err := resp.Location()
		if err != nil {
			t.Fatalf("hydra: %s answered %d without a redirect", next, resp.StatusCode)
		}
		next = loc.String()
	}
	t.Fatal("hydra: the authorization flow did not end")
	return "", ""
}

func hydraJSON(t *testing.T, method, u string, body, out any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, u, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("hydra %s %s: %d %s", method, u, resp.StatusCode, raw)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatalf("hydra %s %s: %v", method, u, err)
	}
}

// runHydra measures h at c connections next to the baselines bw (wrk) and bg (Go).
func runHydra(t *testing.T, report io.Writer, wrk string, h *hydra, c int, dur time.Duration, bw, bg result) {
	uw := runWrk(t, wrk, c, dur, h.userLua, h.pub+"/userinfo", h.pid)
	iw := runWrk(t, wrk, c, dur, h.introLua, h.admin+"/admin/oauth2/introspect", h.pid)
	basic := base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(h.clientID) + ":" + url.QueryEscape(h.secret)))
	rg := runGo(t, min(c, len(h.refresh)), dur, h.pid, func(cl *http.Client, i int) error {
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {h.refresh[i]}}
		req, _ := http.NewRequest(http.MethodPost, h.pub+"/oauth2/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", "Basic "+basic)
		resp, err := cl.Do(req)
		if err != nil {
			return err
		}
		var out struct {
			RefreshToken string `json:"refresh_token"`
		}
		if err := decodeBody(resp, &out); err != nil || resp.StatusCode != 200 || out.RefreshToken == "" {
			return fmt.Errorf("hydra refresh: %d %v", resp.StatusCode, err)
		}
		h.refresh[i] = out.RefreshToken
		return nil
	}).result(t)
	fmt.Fprintf(report, "    Hydra %-18s userinfo (wrk)      %s  %s\n", h.name, uw, ratio(uw, bw))
	fmt.Fprintf(report, "    Hydra %-18s introspection (wrk) %s  %s (admin port, no client auth)\n", h.name, iw, ratio(iw, bw))
	fmt.Fprintf(report, "    Hydra %-18s refresh grant (Go)  %s  %s\n", h.name, rg, ratio(rg, bg))
}
