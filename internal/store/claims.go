package store

import (
	"context"
	"fmt"
	"time"

	"entgo.io/ent/dialect"
)

// BackfillAddressClaims claims, for databases created before address claims existed, every
// primary address and then every verified alternative; an address two accounts held goes to
// the account holding it as primary (then the earliest verified). It is idempotent and runs at
// migration.
func backfillAddressClaims(ctx context.Context, db *DB) error {
	p := func(n int) string {
		if db.Dialect == dialect.Postgres {
			return fmt.Sprintf("$%d", n)
		}
		return "?"
	}
	now := time.Now().UTC()
	stmts := []string{
		"INSERT INTO address_claims (address, user_id, created_at) SELECT email, id, " + p(1) +
			" FROM users WHERE true ORDER BY created_at ON CONFLICT (address) DO NOTHING",
		"INSERT INTO address_claims (address, user_id, created_at) SELECT email, user_id, " + p(1) +
			" FROM user_emails WHERE verified_at IS NOT NULL ORDER BY verified_at ON CONFLICT (address) DO NOTHING",
	}
	for _, q := range stmts {
		if _, err := db.SQL.ExecContext(ctx, q, now); err != nil {
			return fmt.Errorf("backfilling address claims: %w", err)
		}
	}
	return nil
}
