package store

import (
	"context"
	"fmt"
)

// forgetImportGlobalIDs clears the Global User IDs that import rows of runs from before
// pending links kept: GraphQL's ImportRow.globalId (schema/naming.graphql) still answered
// them, so a developer read from LoginSign which address an account held, also after the
// person closed it, though no import answers them any more. It is idempotent and runs at
// migration.
func forgetImportGlobalIDs(ctx context.Context, db *DB) error {
	if _, err := db.SQL.ExecContext(ctx, `UPDATE import_rows SET global_id = NULL WHERE global_id IS NOT NULL`); err != nil {
		return fmt.Errorf("forgetting the Global User IDs of old import rows: %w", err)
	}
	return nil
}
