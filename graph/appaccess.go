package graph

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"sync"

	"loginsign/ent"
	"loginsign/internal/apperr"
	"loginsign/internal/team"
)

// An Application reaches a person who is not on its team through their own connection
// (viewer.connections, node of a connection), their licenses (license → variant →
// application, myLicenses → application) and their consents. They see what the consent page
// shows them anyway: id, name, website and the icon, terms and privacy URLs. Every other
// field is its team's (team.ReadApp): settings that name the developer's hosts (redirect and
// logout URIs, allowed origins), quotas, algorithms and the dates the settings changed.
// Those fields resolve through teamField, which answers off the team what webhookUrl and
// backchannelLogoutUri answer: the NotFound (or, for a role without the action, Forbidden) of
// Portal.Authorize.

// teamField is field of obj as its team reads it, from the row Portal.Authorize loads (field
// collection may not have selected the column). A query keeps each application's answer for
// the operation (teamReads), a mutation for each root field: a developer's list of
// applications asks several such fields of each.
func teamField[T any](ctx context.Context, r *applicationResolver, obj *ent.Application, field func(*ent.Application) T) (T, error) {
	app, err := teamRead(ctx, r, obj.ID)
	if err != nil {
		var zero T
		return zero, err
	}
	return field(app), nil
}

// teamReads holds, for one GraphQL operation, the answer of Portal.Authorize(ReadApp) for each
// application asked about (withTeamReads, NewHandler's AroundOperations and AroundRootFields).
type teamReads struct {
	mu   sync.Mutex
	apps map[string]*teamReadResult
}

// teamReadResult is the answer for one application: the first field to ask reads it while the
// others wait (fields resolved at once each asked before one kept it, and ran the check again).
type teamReadResult struct {
	mu   sync.Mutex
	done bool
	app  *ent.Application
	err  error
}

type teamReadsKey struct{}

// withTeamReads gives the operation of ctx an empty teamReads.
func withTeamReads(ctx context.Context) context.Context {
	return context.WithValue(ctx, teamReadsKey{}, &teamReads{apps: map[string]*teamReadResult{}})
}

// teamRead is Portal.Authorize(ctx, appID, team.ReadApp), asked once per operation.
func teamRead(ctx context.Context, r *applicationResolver, appID string) (*ent.Application, error) {
	c, ok := ctx.Value(teamReadsKey{}).(*teamReads)
	if !ok {
		return r.Portal.Authorize(ctx, appID, team.ReadApp)
	}
	c.mu.Lock()
	res, ok := c.apps[appID]
	if !ok {
		res = &teamReadResult{}
		c.apps[appID] = res
	}
	c.mu.Unlock()
	res.mu.Lock()
	defer res.mu.Unlock()
	if res.done {
		return res.app, res.err
	}
	app, err := r.Portal.Authorize(ctx, appID, team.ReadApp)
	if err != nil && !apperr.Is(err, apperr.NotFound) && !apperr.Is(err, apperr.Forbidden) {
		return nil, err // a failure to read is not an answer to keep: the next field asks again
	}
	res.done, res.app, res.err = true, app, err
	return app, err
}

// publicAppFields are the Application fields a person off the team may read, and so filter on.
var publicAppFields = []string{"ID", "Name", "Website", "IconURL", "TermsURL", "PrivacyURL"}

// wherePredicates are the suffixes entgql gives a field's predicates in a where input.
var wherePredicates = []string{"", "NEQ", "In", "NotIn", "GT", "GTE", "LT", "LTE", "Contains", "HasPrefix", "HasSuffix",
	"IsNil", "NotNil", "EqualFold", "ContainsFold"}

var applicationWhere = reflect.TypeFor[ent.ApplicationWhereInput]()

// personFilter refuses (Invalid) a where input of the person's own lists (their connections,
// addresses and licenses) that filters an application, at any depth (hasApplicationWith,
// hasLicensesWith → hasApplicationWith, …), on a field only its team reads: the rows a filter
// keeps tell its value as well as the field would (clientRequestsPerMinuteGT, halved twenty
// times, is the quota).
func personFilter(where any) error {
	if field, ok := teamOnlyPredicate(reflect.ValueOf(where)); ok {
		return apperr.New(apperr.Invalid, "an application is filtered here by its id, name, website, iconURL, termsURL or privacyURL only, not %s", field)
	}
	return nil
}

// teamOnlyPredicate finds the first predicate of v on an application field outside
// publicAppFields; it walks only the nested where inputs.
func teamOnlyPredicate(v reflect.Value) (string, bool) {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return "", false
		}
		return teamOnlyPredicate(v.Elem())
	case reflect.Slice:
		for i := range v.Len() {
			if f, ok := teamOnlyPredicate(v.Index(i)); ok {
				return f, true
			}
		}
	case reflect.Struct:
		for i := range v.NumField() {
			f, fv := v.Type().Field(i), v.Field(i)
			if !f.IsExported() || f.Name == "Predicates" || fv.IsZero() {
				continue // Predicates are added by code, never by a client (json:"-")
			}
			if isWhereInput(f.Type) {
				if name, ok := teamOnlyPredicate(fv); ok {
					return name, true
				}
				continue
			}
			if v.Type() == applicationWhere && !publicPredicate(f.Name) {
				return f.Name, true
			}
		}
	}
	return "", false
}

// isWhereInput reports whether t is an ent where input, a pointer to one or a list of them.
func isWhereInput(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	return t.PkgPath() == applicationWhere.PkgPath() && strings.HasSuffix(t.Name(), "WhereInput")
}

// publicPredicate reports whether an ApplicationWhereInput field is a predicate of a field in
// publicAppFields (IDTokenSigningAlg is not a predicate of ID).
func publicPredicate(name string) bool {
	for _, f := range publicAppFields {
		if rest, ok := strings.CutPrefix(name, f); ok && slices.Contains(wherePredicates, rest) {
			return true
		}
	}
	return false
}
