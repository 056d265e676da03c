// Package model holds the GraphQL types that are not ent entities: gqlgen's generated models
// (models_gen.go) and the hand-written ones beside them.
package model
