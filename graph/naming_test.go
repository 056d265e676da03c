package graph_test

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/vektah/gqlparser/v2/ast"

	"loginsign/graph"
)

// The GraphQL naming convention (the one GitHub's and Shopify's public schemas use):
//   - fields, arguments and input fields are camelCase with acronyms written as words
//     (globalId, iconUrl, applicationId): no two capitals in a row;
//   - enum values are UPPER_SNAKE;
//   - every mutation is xxx(input: XxxInput!): XxxPayload!.
//
// Deprecated fields, mutations and enum values are reported separately (deprecatedNames): old
// names are kept one release with @deprecated, and each must name its replacement, which must
// exist, must not be deprecated itself and must follow the convention (a field may be
// deprecated without replacement when what it told is no longer answered). entgql's where-input
// predicates keep their suffixes (idNEQ, nameHasPrefix) and mirror the object type's field
// names, so the predicates of a deprecated field are exempt with it.
// namingExceptions lists what broke the convention when the lint was written; it may only
// shrink (it is empty now): a listed name that now passes fails the test too.

var (
	camelCase   = regexp.MustCompile(`^[a-z][a-zA-Z0-9]*$`)
	upperSnake  = regexp.MustCompile(`^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$`)
	predicateRe = regexp.MustCompile(`(NEQ|GTE|LTE|GT|LT|NotIn|In|HasPrefix|HasSuffix|IsNil|NotNil|EqualFold|ContainsFold|Contains)$`)
)

// acronymsAsWords reports whether name has no two upper-case letters in a row.
func acronymsAsWords(name string) bool {
	prev := false
	for _, r := range name {
		up := unicode.IsUpper(r)
		if up && prev {
			return false
		}
		prev = up
	}
	return true
}

func goodName(name string) bool { return camelCase.MatchString(name) && acronymsAsWords(name) }

func deprecated(dl ast.DirectiveList) bool { return dl.ForName("deprecated") != nil }

// namingViolations lists every place the schema breaks the convention.
func namingViolations(s *ast.Schema) []string {
	var out []string
	for _, def := range s.Types {
		if def.BuiltIn || strings.HasPrefix(def.Name, "__") {
			continue
		}
		where := strings.HasSuffix(def.Name, "WhereInput")
		object := s.Types[strings.TrimSuffix(def.Name, "WhereInput")]
		for _, f := range def.Fields {
			if strings.HasPrefix(f.Name, "__") || deprecated(f.Directives) {
				continue
			}
			name := f.Name
			if where {
				name = predicateRe.ReplaceAllString(name, "")
				if object != nil {
					if of := object.Fields.ForName(name); of != nil && deprecated(of.Directives) {
						continue
					}
				}
			}
			if name != "" && !goodName(name) {
				out = append(out, fmt.Sprintf("field %s.%s", def.Name, f.Name))
			}
			for _, a := range f.Arguments {
				if !goodName(a.Name) {
					out = append(out, fmt.Sprintf("argument %s.%s(%s)", def.Name, f.Name, a.Name))
				}
			}
		}
		if def.Kind == ast.Enum {
			for _, v := range def.EnumValues {
				if !deprecated(v.Directives) && !upperSnake.MatchString(v.Name) {
					out = append(out, fmt.Sprintf("enum value %s.%s", def.Name, v.Name))
				}
			}
		}
	}
	if m := s.Mutation; m != nil {
		for _, f := range m.Fields {
			if deprecated(f.Directives) {
				continue
			}
			upper := strings.ToUpper(f.Name[:1]) + f.Name[1:]
			in := f.Arguments.ForName("input")
			if len(f.Arguments) != 1 || in == nil || !in.Type.NonNull || in.Type.NamedType != upper+"Input" {
				out = append(out, fmt.Sprintf("mutation %s: arguments must be (input: %sInput!)", f.Name, upper))
			}
			if !f.Type.NonNull || f.Type.NamedType != upper+"Payload" {
				out = append(out, fmt.Sprintf("mutation %s: must return %sPayload!", f.Name, upper))
			}
		}
	}
	slices.Sort(out)
	return out
}

// replacementRe finds the replacement a deprecation reason names: "Use revokeSession(input:)",
// "Use iconUrl.", "Use PENDING.".
var replacementRe = regexp.MustCompile(`^Use ([A-Za-z_][A-Za-z0-9_]*)`)

// deprecatedNames lists the deprecated fields, mutations and enum values with the reason they
// give. It reports a deprecated mutation whose reason names no replacement, and any reason
// naming a replacement that does not exist, is itself deprecated or breaks the convention (a
// field may be deprecated without replacement when what it told is no longer answered).
func deprecatedNames(s *ast.Schema) (list, problems []string) {
	for _, def := range s.Types {
		if def.BuiltIn || strings.HasPrefix(def.Name, "__") {
			continue
		}
		check := func(kind, name string, dl ast.DirectiveList, replacementOK func(string) bool) {
			d := dl.ForName("deprecated")
			if d == nil {
				return
			}
			reason := ""
			if a := d.Arguments.ForName("reason"); a != nil {
				reason = a.Value.Raw
			}
			list = append(list, fmt.Sprintf("%s %s.%s: %s", kind, def.Name, name, reason))
			m := replacementRe.FindStringSubmatch(reason)
			if m == nil && kind == "mutation" {
				problems = append(problems, fmt.Sprintf("%s %s.%s: the reason names no replacement (\"Use x ...\")", kind, def.Name, name))
			} else if m != nil && !replacementOK(m[1]) {
				problems = append(problems, fmt.Sprintf("%s %s.%s: replacement %s is missing, deprecated or breaks the convention", kind, def.Name, name, m[1]))
			}
		}
		for _, f := range def.Fields {
			kind := "field"
			if def == s.Mutation {
				kind = "mutation"
			}
			check(kind, f.Name, f.Directives, func(n string) bool {
				r := def.Fields.ForName(n)
				return r != nil && !deprecated(r.Directives) && goodName(n)
			})
		}
		for _, v := range def.EnumValues {
			check("enum value", v.Name, v.Directives, func(n string) bool {
				r := def.EnumValues.ForName(n)
				return r != nil && !deprecated(r.Directives) && upperSnake.MatchString(n)
			})
		}
	}
	slices.Sort(list)
	slices.Sort(problems)
	return list, problems
}

func TestSchemaNamingConvention(t *testing.T) {
	t.Parallel()
	s := graph.NewExecutableSchema(graph.Config{}).Schema()
	old, problems := deprecatedNames(s)
	for _, d := range old {
		t.Logf("deprecated, kept one release: %s", d)
	}
	for _, p := range problems {
		t.Errorf("deprecated: %s", p)
	}
	got := namingViolations(s)
	for _, v := range got {
		if !namingExceptions[v] {
			t.Errorf("new naming inconsistency: %s", v)
		}
	}
	for v := range namingExceptions {
		if !slices.Contains(got, v) {
			t.Errorf("%s now follows the convention: take it off namingExceptions", v)
		}
	}
}

func TestNamingLintCatchesEachRule(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"globalId", true}, {"iconUrl", true}, {"applicationId", true}, {"globalID", false}, {"iconURL", false},
		{"Name", false}, {"snake_case", false}, {"x", true},
	} {
		if goodName(tc.name) != tc.ok {
			t.Errorf("goodName(%q) = %v", tc.name, !tc.ok)
		}
	}
	if upperSnake.MatchString("pending") || !upperSnake.MatchString("EMAIL_CHANGED") {
		t.Error("enum value rule")
	}
}
