// Package schema is the ent schema of LoginSign's database: one file per area, each entity
// with its fields, edges, indexes and GraphQL annotations. `make generate` turns it into the
// ent and GraphQL code.
package schema
