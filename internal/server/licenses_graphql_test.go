package server

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"loginsign/internal/licenses"
	"loginsign/internal/store/storetest"
)

// gql posts a GraphQL operation and returns the raw answer.
func (e *apiEnv) gql(cookie *http.Cookie, query string) string {
	e.t.Helper()
	code, _, body := e.call("POST", "/graphql", map[string]any{"query": query}, nil, cookie)
	if code != 200 {
		e.t.Fatalf("graphql = %d %s", code, body)
	}
	return body
}

// TestLicensesGraphQL runs the developer's and the person's license operations through
// GraphQL: the same domain calls and the same errors as REST.
func TestLicensesGraphQL(t *testing.T) {
	t.Parallel()
	for name, dbURL := range storetest.URLs(t) {
		t.Run(name, func(t *testing.T) {
			e := newAPIEnv(t, dbURL, licenses.RedeemLimits{})
			dev, rival := e.cookie(e.dev), e.cookie(e.rival)
			body := e.gql(dev, fmt.Sprintf(`mutation { createLicenseVariant(applicationId: %q, input: {name: "Pro", duration: MONTH}) { id name duration codeCounts { unused active expired } } }`, e.app.ID))
			v := decode[struct {
				Data struct{ CreateLicenseVariant struct{ ID string } }
			}](t, body).Data.CreateLicenseVariant
			if want := fmt.Sprintf(`{"data":{"createLicenseVariant":{"id":%q,"name":"Pro","duration":"MONTH","codeCounts":{"unused":0,"active":0,"expired":0}}}}`, v.ID); body != want {
				t.Fatalf("create = %s", body)
			}
			body = e.gql(dev, fmt.Sprintf(`mutation { generateLicenseCodes(applicationId: %q, input: {variantId: %q, count: 2}) { codes variant { name } } }`, e.app.ID, v.ID))
			codes := decode[struct {
				Data struct{ GenerateLicenseCodes struct{ Codes []string } }
			}](t, body).Data.GenerateLicenseCodes.Codes
			if len(codes) != 2 {
				t.Fatalf("generate = %s", body)
			}
			body = e.gql(dev, fmt.Sprintf(`mutation { uploadLicenseCodes(applicationId: %q, input: {variantId: %q, codes: ["UP-0001", "up0001", "no"]}) { created duplicates invalid { line code reason } } }`, e.app.ID, v.ID))
			if want := `{"data":{"uploadLicenseCodes":{"created":1,"duplicates":["up0001"],"invalid":[{"line":3,"code":"no","reason":"a code is 4 to 64 characters of A-Z, a-z, 0-9, - and _"}]}}}`; body != want {
				t.Fatalf("upload = %s", body)
			}

			ann := e.person("ann@example.com", "Ann")
			conn := e.connect(ann, e.app, e.now)
			annC := e.cookie(ann)
			body = e.gql(annC, fmt.Sprintf(`mutation { redeemLicenseCode(applicationId: %q, code: %q) { code state linkedConnectionID } }`, e.app.ID, codes[0]))
			if want := fmt.Sprintf(`{"data":{"redeemLicenseCode":{"code":%q,"state":"ACTIVE","linkedConnectionID":%q}}}`, codes[0], conn.ID); body != want {
				t.Fatalf("redeem = %s", body)
			}
			body = e.gql(annC, fmt.Sprintf(`mutation { redeemLicenseCode(applicationId: %q, code: "NOPE-NOPE") { code } }`, e.app.ID))
			if want := `{"errors":[{"message":"no such license code for this application","path":["redeemLicenseCode"],"locations":[{"line":1,"column":12}],"extensions":{"code":"code_not_found"}}],"data":null}`; body != want {
				t.Fatalf("unknown code = %s", body)
			}

			list := `{ applications(first: 5) { edges { node { licenseVariants { name codeCounts { unused active expired } } licenseCodes(first: 10, state: ACTIVE) { totalCount edges { node { code state owner { connectionId globalId name email } } } } } } } }`
			body = e.gql(dev, list)
			if want := fmt.Sprintf(`{"data":{"applications":{"edges":[{"node":{"licenseVariants":[{"name":"Pro","codeCounts":{"unused":2,"active":1,"expired":0}}],"licenseCodes":{"totalCount":1,"edges":[{"node":{"code":%q,"state":"ACTIVE","owner":{"connectionId":%q,"globalId":%q,"name":"Ann","email":%q}}}]}}}]}}}`,
				codes[0], conn.ID, ann.GlobalID, conn.AliasEmail); body != want {
				t.Fatalf("list = %s\nwant %s", body, want)
			}
			// A month later the same license reads EXPIRED in every field at once.
			e.now = e.now.AddDate(0, 1, 0)
			body = e.gql(dev, `{ applications(first: 5) { edges { node { licenseVariants { codeCounts { active expired } } licenseCodes(first: 10, state: EXPIRED) { totalCount edges { node { state } } } } } } }`)
			if want := `{"data":{"applications":{"edges":[{"node":{"licenseVariants":[{"codeCounts":{"active":0,"expired":1}}],"licenseCodes":{"totalCount":1,"edges":[{"node":{"state":"EXPIRED"}}]}}}]}}}`; body != want {
				t.Fatalf("after expiry = %s", body)
			}
			body = e.gql(annC, fmt.Sprintf(`{ myLicenses(applicationId: %q) { code state } }`, e.app.ID))
			if want := fmt.Sprintf(`{"data":{"myLicenses":[{"code":%q,"state":"EXPIRED"}]}}`, codes[0]); body != want {
				t.Fatalf("myLicenses = %s", body)
			}

			for _, op := range []string{
				fmt.Sprintf(`mutation { createLicenseVariant(applicationId: %q, input: {name: "Mine"}) { id } }`, e.app.ID),
				fmt.Sprintf(`mutation { deleteLicenseVariant(applicationId: %q, id: %q, force: true) }`, e.app.ID, v.ID),
				fmt.Sprintf(`mutation { generateLicenseCodes(applicationId: %q, input: {variantId: %q, count: 1}) { codes } }`, e.app.ID, v.ID),
				fmt.Sprintf(`mutation { addLicenseVariant(input: {applicationId: %q, name: "Mine"}) { variant { id } } }`, e.app.ID),
				fmt.Sprintf(`mutation { editLicenseVariant(input: {applicationId: %q, variantId: %q, name: "Mine"}) { variant { id } } }`, e.app.ID, v.ID),
				fmt.Sprintf(`mutation { removeLicenseVariant(input: {applicationId: %q, variantId: %q, force: true}) { deletedVariantId } }`, e.app.ID, v.ID),
				fmt.Sprintf(`mutation { createLicenseCodes(input: {applicationId: %q, variantId: %q, count: 1}) { codes } }`, e.app.ID, v.ID),
				fmt.Sprintf(`mutation { importLicenseCodes(input: {applicationId: %q, variantId: %q, codes: ["RIVAL-0001"]}) { created } }`, e.app.ID, v.ID),
				fmt.Sprintf(`mutation { removeLicenseCode(input: {applicationId: %q, codeId: "lic_missing"}) { deletedCodeId } }`, e.app.ID),
			} {
				if body := e.gql(rival, op); !contains(body, `"extensions":{"code":"not_found"}`) {
					t.Fatalf("rival: %s", body)
				}
			}
			body = e.gql(dev, fmt.Sprintf(`mutation { removeLicenseVariant(input: {applicationId: %q, variantId: %q}) { deletedVariantId } }`, e.app.ID, v.ID))
			if want := fmt.Sprintf(`{"data":{"removeLicenseVariant":{"deletedVariantId":%q}}}`, v.ID); body != want {
				t.Fatalf("delete with only expired and unused codes = %s", body)
			}
		})
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
