package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"entgo.io/ent/dialect"

	"loginsign/ent"
)

// dropReplacedWebhookIndex drops, from databases from before the worker walked the pending
// streams, the index on webhook_events (status, next_attempt_at) that webhookevent_streams
// replaced: ent's migration adds indexes but drops none, and with both, a PostgreSQL planner
// without statistics on the table (a backlog that grew since autovacuum last analyzed it) took
// either for the pending events' conditions, and read a whole backlog through the old one. It
// is idempotent and runs at migration.
func dropReplacedWebhookIndex(ctx context.Context, db *DB) error {
	if _, err := db.SQL.ExecContext(ctx, `DROP INDEX IF EXISTS webhookevent_status_next_attempt_at`); err != nil {
		return fmt.Errorf("dropping the replaced index of webhook events: %w", err)
	}
	return nil
}

// fillWebhookEventConnections records, on the events queued before events recorded the
// connection they are about (webhook_events.connection_id), the connection their payload
// names, so that webhooks.WithdrawConnection, which finds a connection's events by it, finds
// those too. The types are those whose payload names one (webhooks' ConnectionDeleted,
// UserAccountDeleted and EmailChanged, whose names this repeats: internal/webhooks imports
// this package), and each payload is decoded, not searched. It reads PurgeBatch events at a
// time, in order of id, and writes each batch in one transaction. It is idempotent and runs
// at migration; once done, it writes nothing.
func fillWebhookEventConnections(ctx context.Context, db *DB) error {
	p := func(n int) string {
		if db.Dialect == dialect.Postgres {
			return "$" + strconv.Itoa(n)
		}
		return "?"
	}
	find := `SELECT id, payload FROM webhook_events WHERE connection_id IS NULL
		AND type IN ('connection_deleted', 'user_account_deleted', 'email_changed') AND id > ` + p(1) + `
		ORDER BY id LIMIT ` + strconv.Itoa(PurgeBatch)
	set := `UPDATE webhook_events SET connection_id = ` + p(1) + ` WHERE id = ` + p(2)
	type about struct{ id, connection string }
	for after := ""; ; {
		rows, err := db.SQL.QueryContext(ctx, find, after)
		if err != nil {
			return fmt.Errorf("recording the connections of older webhook events: %w", err)
		}
		var found []about
		read := 0
		for rows.Next() {
			var id, payload string
			if err := rows.Scan(&id, &payload); err != nil {
				rows.Close()
				return fmt.Errorf("recording the connections of older webhook events: %w", err)
			}
			read, after = read+1, id
			var named struct {
				ConnectionID string `json:"connectionId"`
			}
			if json.Unmarshal([]byte(payload), &named) == nil && named.ConnectionID != "" {
				found = append(found, about{id, named.ConnectionID})
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("recording the connections of older webhook events: %w", err)
		}
		if len(found) > 0 {
			err := WithTx(ctx, db.Client, func(tx *ent.Tx) error {
				for _, f := range found {
					if _, err := tx.ExecContext(ctx, set, f.connection, f.id); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("recording the connections of older webhook events: %w", err)
			}
		}
		if read < PurgeBatch {
			return nil
		}
	}
}
