package portal_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"loginsign/ent"
	"loginsign/internal/connections"
	"loginsign/internal/portal"
)

// TestTheUsersSearchFindsWhatItMatches (review21, checks22): the users search, rewritten in
// checks21 to look the person and the consent up by key (EXISTS) and to keep PostgreSQL's
// per-column branches inside the application, finds exactly the application's connections
// whose alias, shared address or Global User ID holds the term, or whose person's name does
// where that connection shares the profile, ignoring case; on both backends, for terms shorter
// than three characters (one OR) and longer (PostgreSQL's UNION of branches). The answer is
// compared with the same rule worked out here over the application's rows. People connected
// to two applications share their profile with one only: the name finds them in that one.
func TestTheUsersSearchFindsWhatItMatches(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		ctx := context.Background()
		if err := e.svc.EnsureSearchIndexes(ctx); err != nil {
			t.Fatal(err)
		}
		dev := e.developer(t)
		app, other := e.app(t, dev), e.app(t, e.developer(t))
		named := func(name string) *ent.User {
			u := e.person(t)
			return e.db.User.UpdateOne(u).SetName(name).SaveX(ctx)
		}
		consent := func(c *ent.AppConnection, scopes ...string) {
			e.db.Consent.Create().SetConnectionID(c.ID).SetScopes(append([]string{"openid"}, scopes...)).ExecX(ctx)
		}
		both, hidden, shared, outside := named("Zelda Quince"), named("Zelda Hidden"), named("Mara Shared"), named("Zelda Outside")
		c := e.connect(t, both, app, "")
		consent(c, "profile")
		consent(e.connect(t, both, other, ""), "email")
		consent(e.connect(t, hidden, app, ""), "email")
		consent(e.connect(t, shared, app, shared.Email), "profile", "email")
		consent(e.connect(t, outside, other, outside.Email), "profile")

		conns := e.db.AppConnection.Query().WithUser().WithConsent().AllX(ctx)
		want := func(q string) []string {
			lower, upper := strings.ToLower(q), strings.ToUpper(q)
			var out []string
			for _, c := range conns {
				if c.ApplicationID != app.ID {
					continue
				}
				u := c.Edges.User
				if strings.Contains(c.AliasEmail, lower) || (c.AppEmail != "" && strings.Contains(c.AppEmail, lower)) ||
					strings.Contains(u.GlobalID, upper) ||
					(connections.SharesProfile(c) && strings.Contains(strings.ToLower(u.Name), lower)) {
					out = append(out, c.ID)
				}
			}
			slices.Sort(out)
			return out
		}
		terms := []string{"ze", "zelda", "ZELDA QU", "hidden", "outside", "mara", "ra s", "relay", "example",
			strings.Split(shared.Email, "@")[0], strings.Split(hidden.Email, "@")[0],
			strings.ToLower(both.GlobalID[:6]), both.GlobalID[len(both.GlobalID)-2:], outside.GlobalID, "nobody"}
		for _, q := range terms {
			first := 50
			page, err := e.svc.ConnectedUsers(dev, app.ID, portal.UserPage{First: &first, Filter: &portal.UserFilter{Search: q}})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, ed := range page.Edges {
				got = append(got, ed.Node.ID)
			}
			slices.Sort(got)
			if w := want(q); !slices.Equal(got, w) || page.TotalCount != len(w) {
				t.Errorf("search %q found %v (total %d), want %v", q, got, page.TotalCount, w)
			}
		}
	})
}
