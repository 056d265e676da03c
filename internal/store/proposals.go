package store

import (
	"context"
	"fmt"
	"time"

	"entgo.io/ent/dialect"
)

// endOrphanedProposals ends, for databases from before the rule, the proposals that outlived
// an application's relation to the person: a connection's ending left the application's open
// address change request pending, and an application's deletion left its address change
// requests and its pending links behind (the person's confirmation link still moved their
// primary address to the deleted application's choice). As the application's deletion does
// now, the requests and pending links of applications that no longer exist are deleted; as a
// connection's ending does now (connections.Delete), a request still pending whose application
// is not connected to the person is superseded. It is idempotent and runs at migration; once
// done, each statement finds nothing to write.
func endOrphanedProposals(ctx context.Context, db *DB) error {
	p := "?"
	if db.Dialect == dialect.Postgres {
		p = "$1"
	}
	stmts := []struct {
		what string
		q    string
		args []any
	}{
		{"deleting the pending links of deleted applications",
			`DELETE FROM pending_links WHERE NOT EXISTS (
				SELECT 1 FROM applications a WHERE a.id = pending_links.application_id)`, nil},
		{"deleting the address change requests of deleted applications",
			`DELETE FROM email_changes WHERE application_id IS NOT NULL AND application_id <> '' AND NOT EXISTS (
				SELECT 1 FROM applications a WHERE a.id = email_changes.application_id)`, nil},
		{"superseding the address change requests of ended connections",
			`UPDATE email_changes SET status = 'superseded', closed_at = ` + p + ` WHERE status = 'pending' AND NOT EXISTS (
				SELECT 1 FROM app_connections c WHERE c.user_id = email_changes.user_id AND c.application_id = email_changes.application_id)`,
			[]any{time.Now().UTC()}},
	}
	for _, st := range stmts {
		if _, err := db.SQL.ExecContext(ctx, st.q, st.args...); err != nil {
			return fmt.Errorf("%s: %w", st.what, err)
		}
	}
	return nil
}
