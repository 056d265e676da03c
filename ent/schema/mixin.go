package schema

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/mixin"

	"loginsign/internal/ids"
)

// idMixin gives an entity an opaque, prefixed string primary key. Internal counters never
// leave the process: every id a client sees is one of these.
type idMixin struct {
	mixin.Schema
	prefix string
}

func (m idMixin) Fields() []ent.Field {
	prefix := m.prefix
	return []ent.Field{
		field.String("id").
			Immutable().
			NotEmpty().
			MaxLen(64).
			DefaultFunc(func() string { return ids.New(prefix) }),
	}
}

// timeMixin adds created_at and updated_at.
type timeMixin struct{ mixin.Schema }

func (timeMixin) Fields() []ent.Field {
	return []ent.Field{
		field.Time("created_at").Immutable().Default(now).
			Annotations(entgql.OrderField("CREATED_AT")),
		field.Time("updated_at").Default(now).UpdateDefault(now).
			Annotations(entgql.OrderField("UPDATED_AT")),
	}
}

func now() time.Time { return time.Now().UTC() }

// renamedInGraphQL marks a field whose entgql name spells an acronym in capitals (iconURL,
// applicationID) as deprecated in favour of newName, declared by hand (schema/naming.graphql)
// with acronyms as words, the convention of the whole schema (graph/naming_test.go).
func renamedInGraphQL(newName string) entgql.Annotation {
	return entgql.Directives(entgql.Deprecated("Use " + newName + "."))
}

// upperSnakeInGraphQL marks an enum field whose stored values are lower_snake: entgql does not
// declare its GraphQL enum, schema/naming.graphql declares it with UPPER_SNAKE values (the old
// lower_snake ones kept one release as deprecated input), and graph/enum converts between the
// two, so the stored values (and the REST API, which shows them) do not change.
var upperSnakeInGraphQL = entgql.Skip(entgql.SkipEnumField)
