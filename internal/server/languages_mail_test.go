package server

import (
	"go/ast"
	"go/parser"
	"go/token"
	"loginsign/internal/server/servertest"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"loginsign/internal/i18n"
)

// TestErrorsAndMailsFollowTheLanguage: a person whose browser asks for French gets the
// dashboard's GraphQL error messages and the mails their requests cause in French, with the
// same codes as in English; the sign-in pages' domain errors (a wrong code, with its plural)
// follow the page's language.
func TestErrorsAndMailsFollowTheLanguage(t *testing.T) {
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		b := e.browser()
		b.signIn(b.get(e.base+"/login"), "ann@example.com")
		const add = `mutation($e: String!) { addEmail(input: {email: $e}) { userEmail { email } } }`

		_, enErrs := b.graphql(add, map[string]any{"e": "not an address"})
		b.Transport = langTransport{"fr-FR, fr;q=0.9"}
		_, frErrs := b.graphql(add, map[string]any{"e": "not an address"})
		if len(enErrs) != 1 || len(frErrs) != 1 || enErrs[0]["message"] != `"not an address" is not a valid email address` ||
			frErrs[0]["message"] != `"not an address" n’est pas une adresse e-mail valide` ||
			enErrs[0]["extensions"].(map[string]any)["code"] != frErrs[0]["extensions"].(map[string]any)["code"] {
			t.Fatalf("English %v, French %v", enErrs, frErrs)
		}

		const addWithCode = `mutation($e: String!, $c: String) { addEmail(input: {email: $e, code: $c}) { userEmail { email } } }`
		if _, errs := b.graphql(addWithCode, map[string]any{"e": "alt@example.com", "c": b.changeCode()}); errs != nil {
			t.Fatal(errs)
		}
		m := e.smtp.Next(t, 10*time.Second)
		if m.Subject != "Confirmez votre adresse e-mail pour LoginSign" || !strings.Contains(string(m.Header()), "Content-Language: fr") ||
			!strings.Contains(m.Text, "a ajouté alt@example.com comme adresse secondaire") {
			t.Errorf("verification mail %q:\n%s", m.Subject, m.Text)
		}

		// The person's setting comes before the browser's language, for errors and mails.
		if _, errs := b.graphql(`mutation { setLanguage(input: {language: "de"}) { language } }`, nil); errs != nil {
			t.Fatal(errs)
		}
		if _, errs := b.graphql(add, map[string]any{"e": "x"}); len(errs) != 1 || errs[0]["message"] != `"x" ist keine gültige E-Mail-Adresse` {
			t.Errorf("with the setting de: %v", errs)
		}
		if _, errs := b.graphql(addWithCode, map[string]any{"e": "alt2@example.com", "c": b.changeCode()}); errs != nil {
			t.Fatal(errs)
		}
		if m := e.smtp.Next(t, 10*time.Second); m.Subject != "Bestätigen Sie Ihre E-Mail-Adresse für LoginSign" {
			t.Errorf("verification mail with the setting de: %q", m.Subject)
		}

		// The sign-in pages: a wrong code on the "check your email" page, in German.
		d := e.browser()
		d.Transport = langTransport{"de"}
		login := d.get(e.base + "/login")
		d.post(e.base+"/login", url.Values{"email": {"bob@example.com"}, "flow": {login.hidden(t, "flow")}})
		e.smtp.Next(t, 10*time.Second)
		wrong := d.post(e.base+"/login/code", url.Values{"code": {"000000"}})
		if wrong.StatusCode != http.StatusBadRequest || !strings.Contains(wrong.Body, "dieser Code stimmt nicht; noch 4 Versuche") ||
			!strings.Contains(wrong.Body, `<html lang="de"`) {
			t.Errorf("wrong code page: %d\n%s", wrong.StatusCode, wrong.Body)
		}
	})
}

// personFacing are the sources whose domain errors people see on pages, in the dashboard or
// through the person's REST routes: each apperr.New / WithReason format there must be in the
// catalogs (i18n errorMessages), except the ones listed in developerOnly.
var personFacing = []string{
	"internal/oauth/signin.go", "internal/oauth/waiting.go", "internal/oauth/secondstep.go",
	"internal/web/auth", "internal/account", "internal/passkey", "internal/mfa", "internal/profile",
	"internal/identity/identity.go", "internal/identity/sessions.go", "internal/identity/account_sessions.go",
	"internal/identity/claims.go", "internal/activity/query.go", "internal/licenses/redeem.go",
	"rest/profile.go", "rest/exports.go",
}

// developerOnly are formats in those sources that only a developer's or app's call reaches.
var developerOnly = map[string]bool{
	"client_id is required: which application's licenses?":                true, // app backends redeeming for a person
	"the access token belongs to another application":                     true,
	"the connection of this token no longer exists":                       true,
	"the connection of this token is blocked":                             true,
	"too many address change requests for this person; try again in %d s": true,
}

func TestPersonFacingErrorsAreTranslated(t *testing.T) {
	fset := token.NewFileSet()
	n := 0
	for _, p := range personFacing {
		p = servertest.Path(p)
		files := []string{p}
		if !strings.HasSuffix(p, ".go") {
			files, _ = filepath.Glob(filepath.Join(p, "*.go"))
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			file, err := parser.ParseFile(fset, f, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(file, func(node ast.Node) bool {
				c, ok := node.(*ast.CallExpr)
				if !ok {
					return true
				}
				sel, ok := c.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				if x, ok := sel.X.(*ast.Ident); !ok || x.Name != "apperr" {
					return true
				}
				i := map[string]int{"New": 1, "WithReason": 2}[sel.Sel.Name]
				if i == 0 || len(c.Args) <= i {
					return true
				}
				lit, ok := c.Args[i].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					return true
				}
				format, _ := strconv.Unquote(lit.Value)
				if format == "%s" || developerOnly[format] {
					return true
				}
				n++
				if _, ok := i18n.English.Error(format); !ok {
					t.Errorf("%s: %q is not in the catalogs' error messages", fset.Position(lit.Pos()), format)
				}
				return true
			})
		}
	}
	if n < 80 {
		t.Errorf("only %d person-facing error formats found", n)
	}
}
