package store

import (
	"context"
	"fmt"
)

// unshareUngrantedAddresses takes back, for databases from before the rule, the real addresses
// connections hold without the email scope: the consent page used to offer the choice of an
// address to every app, so a person could pick a real one for an app that had not asked for
// any, and its developer's lists showed it. Only the email scope shares an address now
// (connections.SharesEmail, whose scope name and JSON test this repeats: internal/connections
// imports this package). It is idempotent and runs at migration.
func unshareUngrantedAddresses(ctx context.Context, db *DB) error {
	const q = `UPDATE app_connections SET app_email = '' WHERE app_email <> '' AND NOT EXISTS (
		SELECT 1 FROM consents k WHERE k.connection_id = app_connections.id AND CAST(k.scopes AS TEXT) LIKE '%"email"%')`
	if _, err := db.SQL.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("taking back addresses shared without the email scope: %w", err)
	}
	return nil
}
