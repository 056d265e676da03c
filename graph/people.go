package graph

import (
	"context"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"loginsign/ent"
	"loginsign/internal/apperr"
	"loginsign/internal/portal"
	"loginsign/internal/store"
)

// connPeople holds, for one query (or one root field of a mutation), the persons behind the
// connections it answered, by connection id: AppConnection.globalId and name read them here
// instead of one to three statements per row and per alias. A list's rows are read together (loadPeople); a connection that came
// alone (node(id:), a license's linkedConnection, a mutation's answer) is read once, in two
// statements, however many aliases of globalId and name ask for it.
type connPeople struct {
	mu sync.Mutex
	m  map[string]*personLoad
}

// personLoad is the person behind one connection, read once (once) by whichever field asks
// first; the others wait for that answer.
type personLoad struct {
	once sync.Once
	p    portal.ConnectionPerson
	err  error
}

type connPeopleKey struct{}

// withConnPeople gives the operation of ctx an empty connPeople.
func withConnPeople(ctx context.Context) context.Context {
	return context.WithValue(ctx, connPeopleKey{}, &connPeople{m: map[string]*personLoad{}})
}

// entry is the load of connection id, made when missing.
func (c *connPeople) entry(id string) *personLoad {
	c.mu.Lock()
	defer c.mu.Unlock()
	l, ok := c.m[id]
	if !ok {
		l = &personLoad{}
		c.m[id] = l
	}
	return l
}

// loaded reports the person behind conn when its own edges hold them: its account, and (for
// the name) its consent, loaded even when it has none.
func loaded(conn *ent.AppConnection, needConsent bool) (portal.ConnectionPerson, bool) {
	u := conn.Edges.User
	if u == nil {
		return portal.ConnectionPerson{}, false
	}
	c, err := conn.Edges.ConsentOrErr()
	if needConsent && store.NotLoaded(err) {
		return portal.ConnectionPerson{}, false
	}
	return portal.ConnectionPerson{User: u, Consent: c}, true
}

// personOf is the person behind conn: from its own edges when they hold them, else as this
// operation read it, reading it now (portal.People, two statements) when nothing did yet.
// Outside an operation that keeps persons it reads them for this call alone.
func (r *Resolver) personOf(ctx context.Context, conn *ent.AppConnection, needConsent bool) (portal.ConnectionPerson, error) {
	if p, ok := loaded(conn, needConsent); ok {
		return p, nil
	}
	read := func() (portal.ConnectionPerson, error) {
		people, err := r.Portal.People(ctx, []*ent.AppConnection{conn})
		if err != nil {
			return portal.ConnectionPerson{}, err
		}
		p, ok := people[conn.ID]
		if !ok {
			return p, apperr.New(apperr.NotFound, "user not found")
		}
		return p, nil
	}
	c, ok := ctx.Value(connPeopleKey{}).(*connPeople)
	if !ok {
		return read()
	}
	l := c.entry(conn.ID)
	l.once.Do(func() { l.p, l.err = read() })
	return l.p, l.err
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
	for id, p := range people {
		l := c.entry(id)
		l.once.Do(func() { l.p = p })
	}
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
