//go:build ignore

package main

import (
	"log"
	"os"

	"entgo.io/contrib/entgql"
	"entgo.io/ent/entc"
	"entgo.io/ent/entc/gen"
)

func main() {
	// go generate ./ent runs this from ./ent. entgql compares its schema path with the names
	// gqlgen.yml's globs produce, relative to gqlgen.yml, so work from the module root.
	if err := os.Chdir(".."); err != nil {
		log.Fatal(err)
	}
	ex, err := entgql.NewExtension(
		entgql.WithSchemaGenerator(),
		entgql.WithSchemaPath("schema/ent.graphql"),
		entgql.WithConfigPath("gqlgen.yml"),
		entgql.WithWhereInputs(true),
		entgql.WithRelaySpec(true),
	)
	if err != nil {
		log.Fatalf("creating entgql extension: %v", err)
	}
	cfg := &gen.Config{Features: []gen.Feature{gen.FeatureUpsert, gen.FeatureLock, gen.FeatureExecQuery, gen.FeatureModifier}}
	if err := entc.Generate("./ent/schema", cfg, entc.Extensions(ex)); err != nil {
		log.Fatalf("running ent codegen: %v", err)
	}
}
