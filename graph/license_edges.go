package graph

import (
	"context"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"loginsign/ent"
	"loginsign/ent/appconnection"
	"loginsign/internal/licenses"
)

// A person's licenses (myLicenses) and an application's variants (licenseVariants) are lists
// the domain answers whole, without ent's field collection: an edge of their rows that nothing
// loaded is read again for each row and alias (LicenseCode.application, .linkedConnection,
// .owner, LicenseVariant.application), and each variant's codeCounts ran a role check, a
// holder lookup and two counts. Those lists are priced as their bound (100 rows) times their
// selection, so an edge at 1 or 5 points ran a statement per row: some 0.5 statements per
// point, ten times the other fields. The rows of one such list share one application and
// (for a person's licenses) one connection: they are read once and set on every row
// (shareLicenseEdges), and the variants' counts are read together and kept for the operation
// (licenseCounts) whenever the selection asks for them.

// licenseCounts holds, for one query (or one root field of a mutation), each variant's
// codeCounts as its caller may see them (licenses.VariantsCodeCounts), by variant id.
type licenseCounts struct {
	mu sync.Mutex
	m  map[string]*countLoad
}

// countLoad is one variant's counts, read once by whichever asks first.
type countLoad struct {
	mu     sync.Mutex
	done   bool
	counts licenses.CodeCounts
}

type licenseCountsKey struct{}

// withLicenseCounts gives the operation of ctx an empty licenseCounts.
func withLicenseCounts(ctx context.Context) context.Context {
	return context.WithValue(ctx, licenseCountsKey{}, &licenseCounts{m: map[string]*countLoad{}})
}

func (c *licenseCounts) entry(id string) *countLoad {
	c.mu.Lock()
	defer c.mu.Unlock()
	l, ok := c.m[id]
	if !ok {
		l = &countLoad{}
		c.m[id] = l
	}
	return l
}

// codeCountsOf is v's codeCounts: as the operation read them, else read now (and kept).
func (r *Resolver) codeCountsOf(ctx context.Context, v *ent.LicenseVariant) (licenses.CodeCounts, error) {
	c, ok := ctx.Value(licenseCountsKey{}).(*licenseCounts)
	if !ok {
		return r.Licenses.VariantCodeCounts(ctx, v)
	}
	l := c.entry(v.ID)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done {
		return l.counts, nil
	}
	counts, err := r.Licenses.VariantCodeCounts(ctx, v)
	if err != nil {
		return counts, err // a failure is not an answer to keep
	}
	l.done, l.counts = true, counts
	return counts, nil
}

// readCounts reads the codeCounts of vs together when the field of ctx asks for them, and
// keeps them for the operation.
func (r *Resolver) readCounts(ctx context.Context, vs []*ent.LicenseVariant) error {
	c, ok := ctx.Value(licenseCountsKey{}).(*licenseCounts)
	if !ok || len(vs) == 0 || !asks(ctx)["LicenseVariant.codeCounts"] {
		return nil
	}
	var todo []*ent.LicenseVariant
	for _, v := range vs {
		if v == nil {
			continue
		}
		l := c.entry(v.ID)
		l.mu.Lock()
		done := l.done
		l.mu.Unlock()
		if !done {
			todo = append(todo, v)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	counts, err := r.Licenses.VariantsCodeCounts(ctx, todo)
	if err != nil {
		return err
	}
	for _, v := range todo {
		l := c.entry(v.ID)
		l.mu.Lock()
		if !l.done {
			l.done, l.counts = true, counts[v.ID]
		}
		l.mu.Unlock()
	}
	return nil
}

// shareLicenseEdges sets, on the person's licenses codes (all held by conn), the edges the
// field of ctx asks for: the application (one read) on each code and its variant, and conn
// (with its person and consent when owner is asked, three reads) as each code's
// linkedConnection.
func (r *Resolver) shareLicenseEdges(ctx context.Context, conn *ent.AppConnection, codes []*ent.LicenseCode) error {
	if conn == nil || len(codes) == 0 {
		return nil
	}
	want := asks(ctx)
	if want["LicenseCode.application"] || want["LicenseVariant.application"] || want["AppConnection.application"] {
		app, err := r.Client.Application.Get(ctx, conn.ApplicationID)
		if err != nil {
			return err
		}
		conn.Edges.Application = app
		for _, c := range codes {
			c.Edges.Application = app
			if v := c.Edges.Variant; v != nil && v.ApplicationID == app.ID {
				v.Edges.Application = app
			}
		}
	}
	if want["LicenseCode.owner"] || want["LicenseCode.linkedConnection"] {
		holder := conn
		if want["LicenseCode.owner"] || want["AppConnection.consent"] {
			full, err := r.Client.AppConnection.Query().Where(appconnection.ID(conn.ID)).WithUser().WithConsent().Only(ctx)
			if err != nil {
				return err
			}
			full.Edges.Application = conn.Edges.Application
			holder = full
		}
		for _, c := range codes {
			if c.LinkedConnectionID != nil && *c.LinkedConnectionID == holder.ID {
				c.Edges.LinkedConnection = holder
			}
		}
	}
	return nil
}

// asks is the set of fields ("Type.field") the selection of the field of ctx asks for at any
// depth, each fragment walked once.
func asks(ctx context.Context) map[string]bool {
	out := map[string]bool{}
	fc := graphql.GetFieldContext(ctx)
	if fc == nil {
		return out
	}
	var walk func(set ast.SelectionSet, seen map[string]bool)
	walk = func(set ast.SelectionSet, seen map[string]bool) {
		for _, sel := range set {
			switch sel := sel.(type) {
			case *ast.Field:
				if sel.ObjectDefinition != nil {
					out[sel.ObjectDefinition.Name+"."+sel.Name] = true
				}
				walk(sel.SelectionSet, seen)
			case *ast.InlineFragment:
				walk(sel.SelectionSet, seen)
			case *ast.FragmentSpread:
				if sel.Definition != nil && !seen[sel.Name] {
					seen[sel.Name] = true
					walk(sel.Definition.SelectionSet, seen)
				}
			}
		}
	}
	walk(fc.Field.Selections, map[string]bool{})
	return out
}
