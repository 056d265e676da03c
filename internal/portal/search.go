package portal

import (
	"context"
	"fmt"

	"entgo.io/ent/dialect"
)

// searchIndexes are the PostgreSQL trigram indexes behind the user search. ent cannot declare
// them (they need the pg_trgm extension and an operator class), so EnsureSearchIndexes makes
// them after the migration.
var searchIndexes = []string{
	`CREATE INDEX CONCURRENTLY IF NOT EXISTS appconnection_alias_email_trgm ON app_connections USING gin (alias_email gin_trgm_ops)`,
	`CREATE INDEX CONCURRENTLY IF NOT EXISTS appconnection_app_email_trgm ON app_connections USING gin (app_email gin_trgm_ops)`,
	`CREATE INDEX CONCURRENTLY IF NOT EXISTS user_name_lower_trgm ON users USING gin (lower(name) gin_trgm_ops)`,
	`CREATE INDEX CONCURRENTLY IF NOT EXISTS user_global_id_trgm ON users USING gin (global_id gin_trgm_ops)`,
}

var searchIndexNames = []string{"appconnection_alias_email_trgm", "appconnection_app_email_trgm", "user_name_lower_trgm", "user_global_id_trgm"}

// EnsureSearchIndexes creates, on PostgreSQL, the pg_trgm extension (trusted: a database owner
// may create it) and the trigram indexes that turn the portal's user search into index
// lookups. Without them search still answers, by reading every connection of the application.
// Indexes are built CONCURRENTLY, so a first start on a large database does not block writes;
// later starts find them and return at once. SQLite needs nothing.
func (s *Service) EnsureSearchIndexes(ctx context.Context) error {
	if s.DB.Dialect != dialect.Postgres {
		return nil
	}
	if _, err := s.DB.SQL.ExecContext(ctx, `CREATE EXTENSION IF NOT EXISTS pg_trgm`); err != nil {
		return fmt.Errorf("search indexes: creating extension pg_trgm: %w", err)
	}
	// A CONCURRENTLY build that failed (say, two instances starting at once) leaves an invalid
	// index that IF NOT EXISTS would keep forever: drop those first so they are built again.
	rows, err := s.DB.SQL.QueryContext(ctx, `SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
		WHERE NOT i.indisvalid AND c.relname = ANY($1)`, searchIndexNames)
	if err != nil {
		return fmt.Errorf("search indexes: %w", err)
	}
	var invalid []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return fmt.Errorf("search indexes: %w", err)
		}
		invalid = append(invalid, name)
	}
	rows.Close()
	for _, name := range invalid {
		if _, err := s.DB.SQL.ExecContext(ctx, `DROP INDEX CONCURRENTLY IF EXISTS `+name); err != nil {
			return fmt.Errorf("search indexes: dropping invalid %s: %w", name, err)
		}
	}
	for _, q := range searchIndexes {
		if _, err := s.DB.SQL.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("search indexes: %w", err)
		}
	}
	return nil
}
