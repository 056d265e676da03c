package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"loginsign/ent/appconnection"
	"loginsign/internal/auth"
	"loginsign/internal/mail"
	"loginsign/internal/mfa"
	"loginsign/internal/profile"
)

// testPNG is a w×h PNG with a colour gradient.
func testPNG(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), 128, 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// bombPNG is a decompression bomb: a small file (well under the size limit) that decodes to
// 8000×8000 pixels (256 MB as RGBA).
func bombPNG(t testing.TB) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&buf, image.NewGray(image.Rect(0, 0, 8000, 8000))); err != nil {
		t.Fatal(err)
	}
	if buf.Len() > profile.MaxPictureBytes {
		t.Fatalf("the bomb is %d bytes, over the size limit: it would not test the dimension check", buf.Len())
	}
	return buf.Bytes()
}

// putPicture uploads body as b's picture; chunked sends it without a Content-Length.
func (b *browser) putPicture(body []byte, contentType string, chunked bool) (int, map[string]any) {
	b.e.t.Helper()
	var r io.Reader = bytes.NewReader(body)
	if chunked {
		r = io.MultiReader(r) // hides the length: the client streams it chunked
	}
	req, _ := http.NewRequest(http.MethodPut, b.e.base+"/api/profile/picture", r)
	req.Header.Set("Content-Type", contentType)
	resp, err := b.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func (b *browser) profile() map[string]any {
	b.e.t.Helper()
	data, errs := b.graphql(`{ viewer { profile { name pictureUrl region regionName suggestedRegion } } }`, nil)
	if errs != nil {
		b.e.t.Fatalf("profile: %v", errs)
	}
	return data["viewer"].(map[string]any)["profile"].(map[string]any)
}

// TestProfilePicture: the upload limits (oversized with and without Content-Length, not an
// image, a decompression bomb, too many pixels, over GraphQL too) answer 4xx and change
// nothing; a good picture is re-encoded as a JPEG of at most 256×256 and served by LoginSign
// with ETag, Cache-Control and nosniff; a new upload gets a new URL and the old one is gone;
// removing it clears it; signed out nobody uploads.
func TestProfilePicture(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		ctx := context.Background()
		if st, _ := e.browser().putPicture(testPNG(t, 10, 10), "image/png", false); st != http.StatusUnauthorized {
			t.Fatalf("signed-out upload: %d", st)
		}
		b := e.browser()
		b.signIn(b.get(e.base+"/login"), defaultTestEmail)
		nothingStored := func(what string) {
			t.Helper()
			if n := e.srv.db.ProfilePicture.Query().CountX(ctx); n != 0 {
				t.Fatalf("%s: %d pictures stored", what, n)
			}
			if p := b.profile(); p["pictureUrl"] != nil {
				t.Fatalf("%s: pictureUrl = %v", what, p["pictureUrl"])
			}
		}

		huge := make([]byte, profile.MaxPictureBytes+1)
		copy(huge, testPNG(t, 10, 10))
		for _, chunked := range []bool{false, true} {
			if st, body := b.putPicture(huge, "image/png", chunked); st != http.StatusRequestEntityTooLarge || body["error"] != "picture_too_large" {
				t.Fatalf("oversized (chunked %v): %d %v", chunked, st, body)
			}
		}
		nothingStored("oversized")
		if st, body := b.putPicture([]byte("<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>"), "image/svg+xml", false); st != http.StatusBadRequest || !strings.Contains(body["message"].(string), "not a PNG, JPEG or GIF") {
			t.Fatalf("not an image: %d %v", st, body)
		}
		nothingStored("not an image")
		bomb := bombPNG(t)
		if st, body := b.putPicture(bomb, "image/png", false); st != http.StatusRequestEntityTooLarge || !strings.Contains(body["message"].(string), "8000×8000") {
			t.Fatalf("decompression bomb: %d %v", st, body)
		}
		// A header that claims 100000×100000 pixels with no image data behind it.
		tall := testPNG(t, 1, 1)
		copy(tall[16:24], []byte{0, 1, 0x86, 0xa0, 0, 1, 0x86, 0xa0})
		if st, _ := b.putPicture(tall, "image/png", false); st != http.StatusRequestEntityTooLarge && st != http.StatusBadRequest {
			t.Fatalf("forged dimensions: %d", st)
		}
		nothingStored("decompression bomb")
		// The same rule over GraphQL.
		for name, img := range map[string]string{
			"bomb":     base64.StdEncoding.EncodeToString(bomb),
			"text":     base64.StdEncoding.EncodeToString([]byte("hello")),
			"garbage":  "%%%not base64",
			"data URI": "data:text/plain,hello",
		} {
			if _, errs := b.graphql(`mutation($i: String!) { setProfilePicture(input: {image: $i}) { profile { pictureUrl } } }`, map[string]any{"i": img}); errs == nil {
				t.Fatalf("setProfilePicture accepted %s", name)
			}
		}
		nothingStored("GraphQL refusals")

		// A good picture: 600×300 becomes a 256×128 JPEG served by LoginSign.
		st, body := b.putPicture(testPNG(t, 600, 300), "image/png", false)
		first, _ := body["pictureUrl"].(string)
		if st != http.StatusOK || !strings.HasPrefix(first, e.base+profile.PicturePath+"pic_") {
			t.Fatalf("upload: %d %v", st, body)
		}
		resp, err := http.Get(first)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		h := resp.Header
		if resp.StatusCode != 200 || h.Get("Content-Type") != "image/jpeg" || h.Get("X-Content-Type-Options") != "nosniff" ||
			h.Get("Cache-Control") != "public, no-cache" || h.Get("ETag") == "" {
			t.Fatalf("GET picture: %d %v", resp.StatusCode, h)
		}
		if cfg, err := jpeg.DecodeConfig(bytes.NewReader(raw)); err != nil || cfg.Width != 256 || cfg.Height != 128 {
			t.Fatalf("served picture: %v %+v", err, cfg)
		}
		req, _ := http.NewRequest(http.MethodGet, first, nil)
		req.Header.Set("If-None-Match", h.Get("ETag"))
		if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusNotModified {
			t.Fatalf("revalidation: %v %v", err, resp)
		} else {
			resp.Body.Close()
		}
		if p := b.profile(); p["pictureUrl"] != first {
			t.Fatalf("profile after upload: %v", p)
		}
		// The GraphQL upload works too (a small picture is kept at its size), with a new URL.
		data, errs := b.graphql(`mutation($i: String!) { setProfilePicture(input: {image: $i}) { profile { pictureUrl } } }`,
			map[string]any{"i": "data:image/png;base64," + base64.StdEncoding.EncodeToString(testPNG(t, 40, 50))})
		if errs != nil {
			t.Fatal(errs)
		}
		second := data["setProfilePicture"].(map[string]any)["profile"].(map[string]any)["pictureUrl"].(string)
		if second == first || e.srv.db.ProfilePicture.Query().CountX(ctx) != 1 {
			t.Fatalf("second picture %s (first %s)", second, first)
		}
		if resp, _ := http.Get(first); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("the replaced picture answers %d", resp.StatusCode)
		}
		// A refused upload leaves the current picture alone.
		if st, _ := b.putPicture(testPNG(t, 100, 100)[:200], "image/png", false); st != http.StatusBadRequest {
			t.Fatalf("truncated PNG: %d", st)
		}
		if p := b.profile(); p["pictureUrl"] != second {
			t.Fatalf("a refused upload changed the picture: %v", p)
		}
		data, errs = b.graphql(`mutation { removeProfilePicture(input: {}) { profile { pictureUrl } } }`, nil)
		if errs != nil || data["removeProfilePicture"].(map[string]any)["profile"].(map[string]any)["pictureUrl"] != nil {
			t.Fatalf("removeProfilePicture: %v %v", data, errs)
		}
		if resp, _ := http.Get(second); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("the removed picture answers %d", resp.StatusCode)
		}
		nothingStored("removed")
	})
}

// TestProfileRegionValidation: updateProfile takes ISO 3166-1 alpha-2 codes (any case) and
// refuses anything else without changing anything; names are checked; suggestedRegion comes
// from Accept-Language; signed out nobody updates a profile.
func TestProfileRegionValidation(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		const upd = `mutation($n: String, $r: String) { updateProfile(input: {name: $n, region: $r}) { profile { name region regionName } } }`
		if _, errs := e.browser().graphql(upd, map[string]any{"n": "X"}); errs == nil || errs[0]["extensions"].(map[string]any)["code"] != "unauthorized" {
			t.Fatalf("signed-out updateProfile: %v", errs)
		}
		b := e.browser()
		b.signIn(b.get(e.base+"/login"), defaultTestEmail)
		data, errs := b.graphql(upd, map[string]any{"n": "  Ann Example ", "r": "de"})
		p := data["updateProfile"].(map[string]any)["profile"].(map[string]any)
		if errs != nil || p["name"] != "Ann Example" || p["region"] != "DE" || p["regionName"] != "Germany" {
			t.Fatalf("updateProfile: %v %v", data, errs)
		}
		for _, bad := range []map[string]any{
			{"r": "XX"}, {"r": "EU"}, {"r": "UN"}, {"r": "ZZ"}, {"r": "AA"}, {"r": "DEU"}, {"r": "276"}, {"r": "de-DE"}, {"r": "D"},
			{"n": strings.Repeat("a", profile.MaxName+1)}, {"n": "Ann\nExample"}, {"n": "new name", "r": "XX"},
		} {
			if _, errs := b.graphql(upd, bad); errs == nil || !strings.HasPrefix(errs[0]["extensions"].(map[string]any)["code"].(string), "invalid_") {
				t.Fatalf("updateProfile %v: %v", bad, errs)
			}
		}
		if p := b.profile(); p["name"] != "Ann Example" || p["region"] != "DE" || p["suggestedRegion"] != nil {
			t.Fatalf("a refused update changed the profile: %v", p)
		}
		// Only the fields sent change; "" clears.
		data, errs = b.graphql(upd, map[string]any{"r": ""})
		if p := data["updateProfile"].(map[string]any)["profile"].(map[string]any); errs != nil || p["name"] != "Ann Example" || p["region"] != nil {
			t.Fatalf("clearing the region: %v %v", data, errs)
		}
		// With no region chosen, the browser's language suggests one (not saved).
		for accept, want := range map[string]any{"de-CH, de;q=0.9, en;q=0.5": "CH", "ja": "JP", "en-GB": "GB", "*": nil} {
			body, _ := json.Marshal(map[string]any{"query": `{ viewer { profile { region suggestedRegion regionChoices { code name } } } }`})
			req, _ := http.NewRequest(http.MethodPost, e.base+"/graphql", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept-Language", accept)
			resp, err := b.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var out struct {
				Data struct {
					Viewer struct {
						Profile struct {
							Region          *string
							SuggestedRegion any
							RegionChoices   []struct{ Code, Name string }
						}
					}
				}
			}
			decodeJSON(t, resp, &out)
			pr := out.Data.Viewer.Profile
			if pr.SuggestedRegion != want || pr.Region != nil {
				t.Fatalf("Accept-Language %q: suggestedRegion %v, want %v", accept, pr.SuggestedRegion, want)
			}
			if len(pr.RegionChoices) < 240 || !slices.Contains(pr.RegionChoices, struct{ Code, Name string }{"DE", "Germany"}) ||
				slices.ContainsFunc(pr.RegionChoices, func(c struct{ Code, Name string }) bool { return c.Code == "EU" || c.Code == "ZZ" }) {
				t.Fatalf("regionChoices: %d %v", len(pr.RegionChoices), pr.RegionChoices[:3])
			}
		}
	})
}

// TestProfileSeenByAppsOnlyWithProfileScope: the name and the picture (an absolute URL on
// LoginSign) reach an app in the id_token (verified by go-oidc) and at /api/user only with the
// profile scope; the consent page shows what the person set; the region is reported on the
// connection (and the portal's regions) as a country name, and follows the person's changes.
func TestProfileSeenByAppsOnlyWithProfileScope(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		ctx := e.ctx()
		b := e.browser()
		b.signIn(b.get(e.base+"/login"), defaultTestEmail)
		provider, err := oidc.NewProvider(oidc.ClientContext(ctx, http.DefaultClient), e.base)
		if err != nil {
			t.Fatal(err)
		}
		verify := provider.Verifier(&oidc.Config{ClientID: e.app.ID})

		// Each run asks for consent (prompt=consent), so the page shows what is shared now.
		run := func(scopes ...string) (map[string]any, map[string]any, page) {
			t.Helper()
			conf := e.config(e.app, rpCallback, scopes...)
			verifier := oauth2.GenerateVerifier()
			p := b.get(conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier), oidc.Nonce("n"),
				oauth2.SetAuthURLParam("prompt", "consent")))
			consentPage := p
			if p.StatusCode == 200 {
				p = b.consent(p, "allow", "alias")
			}
			q := callback(t, p)
			tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatal(err)
			}
			idt, err := verify.Verify(oidc.ClientContext(ctx, http.DefaultClient), tok.Extra("id_token").(string))
			if err != nil {
				t.Fatal(err)
			}
			var claims map[string]any
			idt.Claims(&claims)
			_, info, _ := e.apiUser(tok.AccessToken)
			return claims, info, consentPage
		}

		// Nothing set yet: the consent page says so.
		_, _, cp := run("openid", "profile")
		if !strings.Contains(cp.Body, "you have set neither") {
			t.Fatalf("consent page with nothing set:\n%s", cp.Body)
		}
		const upd = `mutation($n: String, $r: String) { updateProfile(input: {name: $n, region: $r}) { profile { name } } }`
		if _, errs := b.graphql(upd, map[string]any{"n": "Ann Example", "r": "de"}); errs != nil {
			t.Fatal(errs)
		}
		st, body := b.putPicture(testPNG(t, 64, 64), "image/png", false)
		pic, _ := body["pictureUrl"].(string)
		if st != 200 || !strings.HasPrefix(pic, e.base+"/pictures/") {
			t.Fatalf("upload: %d %v", st, body)
		}

		claims, info, _ := run("openid", "email")
		for _, k := range []string{"name", "picture", "image"} {
			if _, ok := claims[k]; ok {
				t.Errorf("id_token without the profile scope has %s: %v", k, claims)
			}
			if _, ok := info[k]; ok {
				t.Errorf("/api/user without the profile scope has %s: %v", k, info)
			}
		}
		// The consent page names what is set.
		claims, info, cp = run("openid", "email", "profile")
		if !strings.Contains(cp.Body, "Ann Example") || !strings.Contains(cp.Body, "and your picture") {
			t.Fatalf("consent page does not show the profile:\n%s", cp.Body)
		}
		if claims["name"] != "Ann Example" || claims["picture"] != pic || info["name"] != "Ann Example" || info["picture"] != pic {
			t.Fatalf("with profile: id_token %v, /api/user %v (want picture %s)", claims, info, pic)
		}
		if resp, err := http.Get(claims["picture"].(string)); err != nil || resp.StatusCode != 200 {
			t.Fatalf("the app cannot load the picture: %v %v", err, resp)
		}

		// The region on the connection and in the portal's chart.
		region := func() string {
			c := e.srv.db.AppConnection.Query().Where(appconnection.ApplicationID(e.app.ID)).OnlyX(context.Background())
			return c.Region
		}
		if r := region(); r != "Germany" {
			t.Fatalf("connection region = %q", r)
		}
		dev, _, _ := e.srv.identity.EnsureUser(context.Background(), "dev@example.com")
		regions, err := e.srv.portal.UsersPerRegion(auth.WithSession(context.Background(), auth.Session{UserID: dev.ID}), e.app.ID)
		if err != nil || len(regions) != 1 || regions[0].Region != "Germany" || regions[0].Count != 1 {
			t.Fatalf("UsersPerRegion = %v %v", regions, err)
		}
		if _, errs := b.graphql(upd, map[string]any{"r": "fr"}); errs != nil {
			t.Fatal(errs)
		}
		if r := region(); r != "France" {
			t.Fatalf("connection region after a change = %q", r)
		}
	})
}

// TestSecurityNotices: mail goes to the person when TOTP is turned on or off, recovery codes
// are renewed, a recovery code is used, and a passkey is removed (adding one is in the
// browser test); the links in it are the dashboard. Magic links still arrive as before.
func TestSecurityNotices(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		dash := e.browser()
		dash.signIn(dash.get(e.base+"/login"), defaultTestEmail)
		notice := func(headline string) {
			t.Helper()
			deadline := time.Now().Add(10 * time.Second)
			for time.Now().Before(deadline) {
				for _, m := range e.smtp.Messages() {
					if m.Subject == mail.SecurityNoticeSubject+headline {
						if len(m.To) != 1 || !strings.EqualFold(strings.Trim(m.To[0], "<>"), defaultTestEmail) ||
							!strings.Contains(m.Text, e.base+"/dashboard") || !strings.Contains(m.HTML, e.base+"/dashboard") {
							t.Fatalf("notice %q: to %v\n%s", headline, m.To, m.Text)
						}
						return
					}
				}
				time.Sleep(20 * time.Millisecond)
			}
			t.Fatalf("no notice %q", headline)
		}
		_, recovery := enrolTOTP(t, dash)
		notice("Two-step verification was turned on")

		conf := e.config(e.app, rpCallback)
		b, _ := e.secondStep(t, conf.AuthCodeURL("st"), defaultTestEmail)
		if p := b.code(recovery[0]); p.StatusCode != 200 && p.StatusCode != http.StatusSeeOther {
			t.Fatalf("recovery code: %d %s", p.StatusCode, p.Body)
		}
		notice("A recovery code was used")

		data, errs := dash.graphql(`mutation($c: String!) { regenerateRecoveryCodes(input: {code: $c}) { recoveryCodes } }`, map[string]any{"c": recovery[1]})
		if errs != nil {
			t.Fatal(errs)
		}
		notice("New recovery codes were made")
		fresh := data["regenerateRecoveryCodes"].(map[string]any)["recoveryCodes"].([]any)[0].(string)
		if _, errs := dash.graphql(`mutation($c: String!) { disableTwoStep(input: {code: $c}) { disabled } }`, map[string]any{"c": fresh}); errs != nil {
			t.Fatal(errs)
		}
		notice("Two-step verification was turned off")

		u, _, _ := e.srv.identity.EnsureUser(context.Background(), defaultTestEmail)
		e.addSoftKey(t, u.ID)
		pk, _ := e.srv.db.Passkey.Query().First(context.Background())
		if _, errs := dash.graphql(`mutation($id: ID!, $c: String) { deletePasskey(input: {id: $id, code: $c}) { deletedId } }`, map[string]any{"id": pk.ID, "c": dash.changeCode()}); errs != nil {
			t.Fatal(errs)
		}
		notice("A passkey was removed")
		// Mail for sign-in still works after all the notices.
		b2 := e.browser()
		b2.signIn(b2.get(e.base+"/login"), defaultTestEmail)
	})
}

// TestRefreshKeepsAMRAndACR: an id_token from a refresh reports how the person originally
// signed in (TOTP: amr otp+mfa, acr mfa; a magic link alone: no amr, acr 1fa), through a
// rotation and a second rotation, verified by go-oidc.
func TestRefreshKeepsAMRAndACR(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		ctx := e.ctx()
		provider, err := oidc.NewProvider(oidc.ClientContext(ctx, http.DefaultClient), e.base)
		if err != nil {
			t.Fatal(err)
		}
		verify := provider.Verifier(&oidc.Config{ClientID: e.app.ID})
		claims := func(tok *oauth2.Token) (amr []string, acr string) {
			t.Helper()
			raw, _ := tok.Extra("id_token").(string)
			idt, err := verify.Verify(oidc.ClientContext(ctx, http.DefaultClient), raw)
			if err != nil {
				t.Fatal(err)
			}
			var c struct {
				AMR []string `json:"amr"`
				ACR string   `json:"acr"`
			}
			idt.Claims(&c)
			return c.AMR, c.ACR
		}
		refresh := func(conf *oauth2.Config, tok *oauth2.Token) *oauth2.Token {
			t.Helper()
			tok.Expiry = time.Now().Add(-time.Minute)
			next, err := conf.TokenSource(ctx, tok).Token()
			if err != nil {
				t.Fatal(err)
			}
			return next
		}
		conf := e.config(e.app, rpCallback)

		// A magic link alone.
		code, verifier := e.authorizeCode(e.browser(), "bob@example.com")
		tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 2; i++ {
			tok = refresh(conf, tok)
			if amr, acr := claims(tok); len(amr) != 0 || acr != mfa.ACR1FA {
				t.Fatalf("refresh %d after a magic link: amr=%v acr=%q", i, amr, acr)
			}
		}

		// With TOTP.
		dash := e.browser()
		dash.signIn(dash.get(e.base+"/login"), defaultTestEmail)
		secret, _ := enrolTOTP(t, dash)
		verifier = oauth2.GenerateVerifier()
		b, _ := e.secondStep(t, conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)), defaultTestEmail)
		p := b.code(totpCode(t, secret, time.Now().Add(30*time.Second)))
		if p.StatusCode == 200 {
			p = b.consent(p, "allow", "alias")
		}
		q := callback(t, p)
		tok, err = conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		if amr, acr := claims(tok); !slices.Equal(amr, []string{"otp", "mfa"}) || acr != mfa.ACRMFA {
			t.Fatalf("code exchange: amr=%v acr=%q", amr, acr)
		}
		for i := 0; i < 2; i++ {
			tok = refresh(conf, tok)
			if amr, acr := claims(tok); !slices.Equal(amr, []string{"otp", "mfa"}) || acr != mfa.ACRMFA {
				t.Fatalf("refresh %d after TOTP: amr=%v acr=%q", i, amr, acr)
			}
		}
	})
}

// TestProfilePictureRateLimit: uploads are counted per person before any decoding, refused
// ones too; past the limit the answer is 429 with Retry-After and nothing changes.
func TestProfilePictureRateLimit(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	e.srv.profiles.Uploads.N = 2
	b := e.browser()
	b.signIn(b.get(e.base+"/login"), defaultTestEmail)
	if st, _ := b.putPicture([]byte("not an image"), "image/png", false); st != http.StatusBadRequest {
		t.Fatalf("first: %d", st)
	}
	if st, _ := b.putPicture(testPNG(t, 8, 8), "image/png", false); st != http.StatusOK {
		t.Fatalf("second: %d", st)
	}
	before := b.profile()["pictureUrl"]
	req, _ := http.NewRequest(http.MethodPut, e.base+"/api/profile/picture", bytes.NewReader(testPNG(t, 9, 9)))
	resp, err := b.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("third: %d %v", resp.StatusCode, resp.Header)
	}
	if _, errs := b.graphql(`mutation($i: String!) { setProfilePicture(input: {image: $i}) { profile { pictureUrl } } }`,
		map[string]any{"i": base64.StdEncoding.EncodeToString(testPNG(t, 9, 9))}); errs == nil {
		t.Fatal("GraphQL upload past the limit accepted")
	}
	if b.profile()["pictureUrl"] != before {
		t.Fatal("a refused upload changed the picture")
	}
	// Name and region are not limited by it.
	if _, errs := b.graphql(`mutation { updateProfile(input: {name: "Ann"}) { profile { name } } }`, nil); errs != nil {
		t.Fatal(errs)
	}
}
