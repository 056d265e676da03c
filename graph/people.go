package graph

import (
	"context"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"loginsign/ent"
	"loginsign/internal/portal"
)

// connPeople holds, for one query, the persons behind the connections of the lists it
// answered (portal.People), by connection id: AppConnection.globalId and name read them here
// instead of one to three statements per row (Portal.Person, Portal.VisibleName).
type connPeople struct {
	mu sync.Mutex
	m  map[string]portal.ConnectionPerson
}

type connPeopleKey struct{}

// withConnPeople gives the operation of ctx an empty connPeople.
func withConnPeople(ctx context.Context) context.Context {
	return context.WithValue(ctx, connPeopleKey{}, &connPeople{m: map[string]portal.ConnectionPerson{}})
}

// personOf is the person behind conn as a list of this operation loaded it.
func personOf(ctx context.Context, conn *ent.AppConnection) (portal.ConnectionPerson, bool) {
	c, ok := ctx.Value(connPeopleKey{}).(*connPeople)
	if !ok || conn.Edges.User != nil {
		return portal.ConnectionPerson{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.m[conn.ID]
	return p, ok
}

// loadPeople is a field middleware: when a field answers a list of connections (a page of
// them, or nodes(ids:)) without their persons and its selection asks for a connection's
// globalId or name, it reads those persons in two statements before the rows' fields
// resolve.
func (r *Resolver) loadPeople(ctx context.Context, next graphql.Resolver) (any, error) {
	res, err := next(ctx)
	if err != nil || res == nil {
		return res, err
	}
	c, ok := ctx.Value(connPeopleKey{}).(*connPeople)
	if !ok {
		return res, err
	}
	var conns []*ent.AppConnection
	switch v := res.(type) {
	case *ent.AppConnectionConnection:
		for _, e := range v.Edges {
			if e != nil && e.Node != nil && e.Node.Edges.User == nil {
				conns = append(conns, e.Node)
			}
		}
	case []ent.Noder:
		for _, n := range v {
			if conn, ok := n.(*ent.AppConnection); ok && conn != nil && conn.Edges.User == nil {
				conns = append(conns, conn)
			}
		}
	}
	fc := graphql.GetFieldContext(ctx)
	if len(conns) == 0 || fc == nil || !asksForPerson(fc.Field.Selections, map[string]bool{}) {
		return res, err
	}
	people, perr := r.Portal.People(ctx, conns)
	if perr != nil {
		return nil, perr
	}
	c.mu.Lock()
	for id, p := range people {
		c.m[id] = p
	}
	c.mu.Unlock()
	return res, err
}

// asksForPerson reports whether set selects AppConnection.globalId or name at any depth
// (each fragment walked once).
func asksForPerson(set ast.SelectionSet, seen map[string]bool) bool {
	for _, sel := range set {
		switch sel := sel.(type) {
		case *ast.Field:
			if sel.ObjectDefinition != nil && sel.ObjectDefinition.Name == "AppConnection" &&
				(sel.Name == "globalId" || sel.Name == "name") {
				return true
			}
			if asksForPerson(sel.SelectionSet, seen) {
				return true
			}
		case *ast.InlineFragment:
			if asksForPerson(sel.SelectionSet, seen) {
				return true
			}
		case *ast.FragmentSpread:
			if sel.Definition != nil && !seen[sel.Name] {
				seen[sel.Name] = true
				if asksForPerson(sel.Definition.SelectionSet, seen) {
					return true
				}
			}
		}
	}
	return false
}
