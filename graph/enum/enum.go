// Package enum converts the ent enums whose stored values are lower_snake (ImportRowStatus,
// ImportSourceKind, LicenseCodeSource, WebhookEventStatus) to and from GraphQL's UPPER_SNAKE
// values. gqlgen uses these function pairs for the enums declared in schema/naming.graphql, so
// the database and the REST API keep the stored values while GraphQL follows the schema's one
// convention. The old lower_snake values are still accepted as input for one release.
package enum

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"

	"loginsign/ent/importrow"
	"loginsign/ent/importsource"
	"loginsign/ent/licensecode"
	"loginsign/ent/webhookevent"
)

// Upper is the GraphQL value of a stored lower_snake value.
func Upper(stored string) string { return strings.ToUpper(stored) }

func marshal(stored string) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) { io.WriteString(w, strconv.Quote(Upper(stored))) })
}

// unmarshal accepts the GraphQL value (UPPER_SNAKE) or, for one release, the stored one.
func unmarshal[T ~string](v any, name string, valid func(T) error) (T, error) {
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s must be a string", name)
	}
	t := T(strings.ToLower(s))
	if s != Upper(string(t)) && s != string(t) {
		return "", fmt.Errorf("%q is not a valid %s", s, name)
	}
	if err := valid(t); err != nil {
		return "", fmt.Errorf("%q is not a valid %s", s, name)
	}
	return t, nil
}

func MarshalImportRowStatus(v importrow.Status) graphql.Marshaler { return marshal(string(v)) }

func UnmarshalImportRowStatus(v any) (importrow.Status, error) {
	return unmarshal(v, "ImportRowStatus", importrow.StatusValidator)
}

func MarshalImportSourceKind(v importsource.Kind) graphql.Marshaler { return marshal(string(v)) }

func UnmarshalImportSourceKind(v any) (importsource.Kind, error) {
	return unmarshal(v, "ImportSourceKind", importsource.KindValidator)
}

func MarshalLicenseCodeSource(v licensecode.Source) graphql.Marshaler { return marshal(string(v)) }

func UnmarshalLicenseCodeSource(v any) (licensecode.Source, error) {
	return unmarshal(v, "LicenseCodeSource", licensecode.SourceValidator)
}

func MarshalWebhookEventStatus(v webhookevent.Status) graphql.Marshaler { return marshal(string(v)) }

func UnmarshalWebhookEventStatus(v any) (webhookevent.Status, error) {
	return unmarshal(v, "WebhookEventStatus", webhookevent.StatusValidator)
}
