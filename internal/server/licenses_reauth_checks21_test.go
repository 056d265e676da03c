package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"loginsign/ent/appmember"
	"loginsign/ent/licensecode"
	"loginsign/ent/licensevariant"
	"loginsign/internal/auth"
)

// TestAStolenDeveloperSessionCannotMintOrHarvestLicenseCodes21: license codes are worth what
// the application sells them for. With a sign-in 16 minutes old (a session cookie taken from
// the developer's browser), generating and uploading codes, listing codes that may be unused,
// deleting a variant and removing a member answer 401 reauthentication_required over REST
// (the body every other such refusal has) and GraphQL (extensions.code), and change nothing;
// the codes people hold still list. Signed in again, every one goes through. Before, the old
// cookie minted 10,000 codes a request and read every unused code, 1,000 a page.
func TestAStolenDeveloperSessionCannotMintOrHarvestLicenseCodes21(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *portalEnv) {
		ctx := context.Background()
		owner := e.person("owner@example.com", "Owen Owner", true)
		app := owner.createApp("Shop", true)
		member := e.person("member@example.com", "Meg Member", true)
		e.join(owner, app, member, "support")
		base := "/api/developer/applications/" + app
		variant := owner.json("POST", base+"/licenses/variants", map[string]any{"name": "Gold"}, http.StatusCreated)["id"].(string)
		owner.json("POST", base+"/licenses/codes/generate", map[string]any{"variantId": variant, "count": 3}, http.StatusCreated)
		vars := map[string]any{"app": app, "variant": variant, "user": member.user.ID}
		state := func() string {
			codes := e.srv.db.LicenseCode.Query().Where(licensecode.ApplicationID(app)).CountX(ctx)
			variants := e.srv.db.LicenseVariant.Query().Where(licensevariant.ApplicationID(app)).CountX(ctx)
			members := e.srv.db.AppMember.Query().Where(appmember.ApplicationID(app)).CountX(ctx)
			return fmt.Sprintf("codes %d variants %d members %d", codes, variants, members)
		}

		owner.signedInAgo(auth.RecentSignIn + time.Minute)
		before := state()
		const wantREST = `{"error":"reauthentication_required","message":"for your safety, sign in again to do this: your last sign-in was more than 15 minutes ago"}`
		for _, c := range []struct {
			name, method, path string
			body               any
		}{
			{"generate codes", "POST", base + "/licenses/codes/generate", map[string]any{"variantId": variant, "count": 10000}},
			{"upload codes", "POST", base + "/licenses/codes/upload", map[string]any{"variantId": variant, "codes": []string{"THIEF-CODE-0001"}}},
			{"list codes", "GET", base + "/licenses/codes?limit=1000", nil},
			{"list unused codes", "GET", base + "/licenses/codes?state=UNUSED&limit=1000", nil},
			{"delete the variant", "DELETE", base + "/licenses/variants/" + variant + "?force=true", nil},
			{"remove a member", "DELETE", base + "/members/" + member.user.ID, nil},
		} {
			if status, body := owner.do(c.method, c.path, c.body); status != http.StatusUnauthorized || strings.TrimSpace(string(body)) != wantREST {
				t.Errorf("REST %s with a sign-in 16 minutes old: %d %s, want 401 %s", c.name, status, body, wantREST)
			}
		}
		for _, c := range []struct{ path, query string }{
			{"createLicenseCodes", `mutation($app: ID!, $variant: ID!) { createLicenseCodes(input: {applicationId: $app, variantId: $variant, count: 10}) { codes } }`},
			{"generateLicenseCodes", `mutation($app: ID!, $variant: ID!) { generateLicenseCodes(applicationId: $app, input: {variantId: $variant, count: 10}) { codes } }`},
			{"importLicenseCodes", `mutation($app: ID!, $variant: ID!) { importLicenseCodes(input: {applicationId: $app, variantId: $variant, codes: ["THIEF-CODE-0002"]}) { created } }`},
			{"uploadLicenseCodes", `mutation($app: ID!, $variant: ID!) { uploadLicenseCodes(applicationId: $app, input: {variantId: $variant, codes: ["THIEF-CODE-0003"]}) { created } }`},
			{"application.licenseCodes", `query($app: ID!) { application(id: $app) { licenseCodes(first: 1000) { edges { node { code } } } } }`},
			{"application.licenseCodes", `query($app: ID!) { application(id: $app) { licenseCodes(state: UNUSED, first: 50) { edges { node { code } } } } }`},
			{"removeLicenseVariant", `mutation($app: ID!, $variant: ID!) { removeLicenseVariant(input: {applicationId: $app, variantId: $variant, force: true}) { deletedVariantId } }`},
			{"deleteLicenseVariant", `mutation($app: ID!, $variant: ID!) { deleteLicenseVariant(applicationId: $app, id: $variant, force: true) }`},
			{"removeMember", `mutation($app: ID!, $user: ID!) { removeMember(input: {applicationId: $app, userId: $user}) { removedUserId } }`},
		} {
			got := owner.gql(c.query, vars)
			var path []string
			if len(got.Errors) > 0 {
				for _, p := range got.Errors[0].Path {
					path = append(path, fmt.Sprint(p))
				}
			}
			if got.code() != "reauthentication_required" || strings.Join(path, ".") != c.path {
				j, _ := json.Marshal(got)
				t.Errorf("GraphQL %s with a sign-in 16 minutes old: %s, want reauthentication_required at %s", c.path, j, c.path)
			}
		}
		if after := state(); after != before {
			t.Errorf("refused requests changed the application: before %s, after %s", before, after)
		}
		// The codes people hold are what support looks up; they still list.
		owner.json("GET", base+"/licenses/codes?state=ACTIVE", nil, http.StatusOK)
		owner.mustGQL(`query($app: ID!) { application(id: $app) { licenseCodes(state: EXPIRED) { totalCount } } }`, vars)

		owner.signInAgain()
		owner.json("POST", base+"/licenses/codes/generate", map[string]any{"variantId": variant, "count": 2}, http.StatusCreated)
		owner.mustGQL(`mutation($app: ID!, $variant: ID!) { importLicenseCodes(input: {applicationId: $app, variantId: $variant, codes: ["OWN-CODE-0001"]}) { created } }`, vars)
		if list := owner.json("GET", base+"/licenses/codes?state=UNUSED", nil, http.StatusOK); len(list["codes"].([]any)) != 6 {
			t.Errorf("unused codes signed in again: %v, want 6", list["codes"])
		}
		owner.mustGQL(`mutation($app: ID!, $user: ID!) { removeMember(input: {applicationId: $app, userId: $user}) { removedUserId } }`, vars)
		owner.json("DELETE", base+"/licenses/variants/"+variant, nil, http.StatusOK)
		if n := e.srv.db.AppMember.Query().Where(appmember.ApplicationID(app), appmember.UserID(member.user.ID)).CountX(ctx); n != 0 {
			t.Error("signed in again, the member was not removed")
		}
		if n := e.srv.db.LicenseCode.Query().Where(licensecode.ApplicationID(app)).CountX(ctx); n != 0 {
			t.Errorf("signed in again, %d codes are left after the variant's deletion", n)
		}
	})
}
