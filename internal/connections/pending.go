package connections

import (
	"context"
	"fmt"
	"time"

	"loginsign/ent"
	"loginsign/ent/pendinglink"
	"loginsign/internal/activity"
	"loginsign/internal/store"
)

// PendingLinkFor returns the open pending link (proposed by an import, neither accepted nor
// refused) of application appID for one of addresses, the person's verified addresses; nil
// when there is none. A person with several matching addresses gets the most recent proposal.
func PendingLinkFor(ctx context.Context, c *ent.Client, appID string, addresses []string) (*ent.PendingLink, error) {
	if len(addresses) == 0 {
		return nil, nil
	}
	l, err := c.PendingLink.Query().
		Where(pendinglink.ApplicationID(appID), pendinglink.EmailIn(addresses...), pendinglink.RefusedAtIsNil()).
		// The id breaks ties: one import run stamps all its rows alike, and the consent page and
		// the answer to it must find the same record (oauth's KnownLink).
		Order(ent.Desc(pendinglink.FieldUpdatedAt), ent.Desc(pendinglink.FieldID)).First(ctx)
	if store.NotFound(err) {
		return nil, nil
	}
	return l, err
}

// AcceptPendingLink applies the pending link l to conn inside tx, once the person agreed on
// the consent page: the application's externalUserId is stored, the join date goes back to
// the imported registration date when that is earlier, a connection that this acceptance
// created (created=true) remembers the import run (so rolling it back ends it), and the link
// is spent. The last-login date is not backfilled: the person is signing in now.
func AcceptPendingLink(ctx context.Context, tx *ent.Tx, l *ent.PendingLink, conn *ent.AppConnection, created bool, now time.Time) (*ent.AppConnection, error) {
	upd := tx.AppConnection.UpdateOne(conn).SetExternalUserID(l.ExternalUserID).SetUpdatedAt(now)
	if l.RegisteredAt != nil && l.RegisteredAt.Before(conn.JoinedAt) {
		upd.SetJoinedAt(*l.RegisteredAt)
	}
	if created && l.ImportSourceID != nil {
		upd.SetImportSourceID(*l.ImportSourceID)
	}
	conn, err := upd.Save(ctx)
	if err != nil {
		return nil, fmt.Errorf("linking the imported user: %w", err)
	}
	if err := tx.PendingLink.DeleteOneID(l.ID).Exec(ctx); err != nil && !store.NotFound(err) {
		return nil, fmt.Errorf("spending the pending link: %w", err)
	}
	return conn, activity.Record(ctx, tx, activity.Event{Type: activity.PendingLinkAccepted, Actor: activity.ByPerson,
		UserID: conn.UserID, ApplicationID: conn.ApplicationID, ConnectionID: conn.ID, At: now})
}
