package graph_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/client"
	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"

	"loginsign/ent"
	"loginsign/ent/licensecode"
	"loginsign/internal/auth"
	"loginsign/internal/connections"
	"loginsign/internal/licenses"
	"loginsign/internal/portal"
	"loginsign/internal/store/storetest"
)

// TestPersonsLicensesAndVariantsRunFewStatementsPerPoint (review helper gql17, checks17):
// myLicenses and licenseVariants answer lists the domain reads whole (no field collection),
// priced as their bound of 100 rows times their selection. An edge of their rows nothing
// loaded (LicenseCode.application, .linkedConnection, .owner, LicenseVariant.application) was
// read again for every row and alias, a statement per 1 to 5 points, and each variant's
// codeCounts ran three or four statements for 20 points: a person holding 100 codes ran
// some 0.5 statements per point, ten times the other fields (an operation within the limit,
// some 10,000 statements). Each list now reads its shared application, connection and counts
// once, and a page of licenseCodes reads its variants' counts together (a page of 100 codes
// of 100 variants ran 307 statements for 2,440 points). Bound: one statement per 20 points,
// for one alias and for many, holder and owner alike; the counts still answer each caller's
// own view.
func TestPersonsLicensesAndVariantsRunFewStatementsPerPoint(t *testing.T) {
	t.Parallel()
	f, statements := countedFixture(t, storetest.SQLite(t))
	var cost int
	f.handler.(*handler.Server).AroundResponses(func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		if s, ok := graphql.GetOperationContext(ctx).Stats.GetExtension("ComplexityLimit").(*extension.ComplexityStats); ok {
			cost = s.Complexity
		}
		return next(ctx)
	})
	ctx := context.Background()
	alice, _ := f.identity.CreateUser(ctx, "alice@example.com", "Alice")
	bob, _ := f.identity.CreateUser(ctx, "bob@example.com", "Bob")
	actx := auth.WithSession(ctx, auth.Session{UserID: alice.ID, SignedInAt: time.Now()})
	app, err := f.portal.CreateApplication(actx, portal.ApplicationInput{Name: "A"})
	if err != nil {
		t.Fatal(err)
	}
	ls := licenses.New(f.db, f.portal.Authorize, time.Now)
	var vs []*ent.LicenseVariant
	for i := range licenses.MaxVariants {
		v, err := ls.CreateVariant(actx, app.Application.ID, licenses.VariantInput{Name: fmt.Sprint("V", i)})
		if err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	// Alice (the owner) and Bob each hold MaxPerConnection codes, one of each variant.
	for _, uid := range []string{alice.ID, bob.ID} {
		var conn *ent.AppConnection
		if err := f.db.Tx(ctx, func(tx *ent.Tx) (err error) {
			conn, err = connections.CreateWithAlias(ctx, tx, uid, app.Application.ID, "relay.example", "", time.Now())
			return err
		}); err != nil {
			t.Fatal(err)
		}
		for i := range licenses.MaxPerConnection {
			now := time.Now()
			code := fmt.Sprintf("C%s%d", uid[len(uid)-4:], i)
			if err := f.db.LicenseCode.Create().SetApplicationID(app.Application.ID).SetVariantID(vs[i%len(vs)].ID).SetCode(code).SetCodeKey(strings.ToUpper(code)).
				SetState(licensecode.StateACTIVE).SetLinkedConnectionID(conn.ID).SetActivatedAt(now).SetCreatedAt(now).Exec(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	aliases := func(n int, field string) string {
		var b strings.Builder
		b.WriteString("query($id: ID!) {")
		for i := range n {
			fmt.Fprintf(&b, " a%d: %s", i, field)
		}
		b.WriteString(" }")
		return b.String()
	}
	type counts struct{ Active int }
	for _, c := range []struct {
		who, name, field string
		active           int // each variant's active codes as who sees them
	}{
		{alice.ID, "owner", "myLicenses(applicationId: $id) { application { name } }", 0},
		{alice.ID, "owner", "myLicenses(applicationId: $id) { linkedConnection { id } owner { email globalId } }", 0},
		{alice.ID, "owner", "myLicenses(applicationId: $id) { variant { application { name } } }", 0},
		{alice.ID, "owner", "myLicenses(applicationId: $id) { variant { codeCounts { active } } }", 2},
		{bob.ID, "holder", "myLicenses(applicationId: $id) { application { name } }", 0},
		{bob.ID, "holder", "myLicenses(applicationId: $id) { linkedConnection { id } owner { email globalId } }", 0},
		{bob.ID, "holder", "myLicenses(applicationId: $id) { variant { codeCounts { active } } }", 1},
		{alice.ID, "owner", "application(id: $id) { licenseVariants { application { name } } }", 0},
		{alice.ID, "owner", "application(id: $id) { licenseVariants { codeCounts { active } } }", 2},
		{alice.ID, "owner", "application(id: $id) { licenseCodes(first: 100) { edges { node { application { name } variant { application { name } } } } } }", 0},
		{alice.ID, "owner", "application(id: $id) { licenseCodes(first: 100) { edges { node { variant { codeCounts { active } } } } } }", 2},
	} {
		var got map[string][]struct {
			Application      struct{ Name string }
			Owner            struct{ Email, GlobalID string }
			LinkedConnection struct{ ID string }
			Variant          struct {
				Application struct{ Name string }
				CodeCounts  counts
			}
		}
		for _, n := range []int{1, 8} {
			if n > 1 && strings.Contains(c.field, "licenseCodes") {
				n = 5 // each alias of licenseCodes is priced as an aggregate (1,000 points): 5 pages of 100 fit
			}
			var raw map[string]any
			statements.Store(0)
			cost = 0
			if err := f.as(c.who).Post(aliases(n, c.field), &raw, client.Var("id", app.Application.ID)); err != nil {
				t.Fatalf("%s: %s: %v", c.name, c.field, err)
			}
			if ran := statements.Load(); int(ran)*20 > cost {
				t.Errorf("%s: %d aliases of %s ran %d statements for %d points (%.3f a point), want at most one per 20 points",
					c.name, n, c.field, ran, cost, float64(ran)/float64(cost))
			}
		}
		// The answers: the application's name on every row, and each caller's own counts.
		if strings.Contains(c.field, "licenseCodes") {
			continue // a page of codes: its counts are those of licenseVariants
		}
		if strings.HasPrefix(c.field, "application") {
			var answer map[string]struct {
				LicenseVariants []struct {
					Application struct{ Name string }
					CodeCounts  counts
				}
			}
			if err := f.as(c.who).Post(aliases(1, c.field), &answer, client.Var("id", app.Application.ID)); err != nil {
				t.Fatal(err)
			}
			for _, v := range answer["a0"].LicenseVariants {
				if strings.Contains(c.field, "codeCounts") && v.CodeCounts.Active != c.active || strings.Contains(c.field, "name") && v.Application.Name != "A" {
					t.Fatalf("%s: %s answered %+v, want application A and %d active codes", c.name, c.field, v, c.active)
				}
			}
			continue
		}
		if err := f.as(c.who).Post(aliases(1, c.field), &got, client.Var("id", app.Application.ID)); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(c.field, "codeCounts") {
			if strings.HasPrefix(c.field, "myLicenses") {
				for _, l := range got["a0"] {
					if l.Variant.CodeCounts.Active != c.active {
						t.Fatalf("%s: %s answered %d active codes of a variant, want %d", c.name, c.field, l.Variant.CodeCounts.Active, c.active)
					}
				}
			}
		}
		if strings.Contains(c.field, "owner") {
			for _, l := range got["a0"] {
				if l.LinkedConnection.ID == "" || l.Owner.GlobalID == "" || l.Owner.Email == "" {
					t.Fatalf("%s: %s answered %+v, want the holder", c.name, c.field, l)
				}
			}
		}
		if strings.Contains(c.field, "application { name }") && strings.HasPrefix(c.field, "myLicenses") {
			for _, l := range got["a0"] {
				if l.Application.Name != "A" && l.Variant.Application.Name != "A" {
					t.Fatalf("%s: %s answered %+v, want application A", c.name, c.field, l)
				}
			}
		}
	}
}
