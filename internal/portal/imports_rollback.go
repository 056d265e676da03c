package portal

import (
	"context"
	"fmt"
	"strconv"

	"loginsign/ent"
	"loginsign/ent/appconnection"
	"loginsign/ent/importsource"
	"loginsign/ent/pendinglink"
	"loginsign/internal/activity"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/connections"
	"loginsign/internal/store"
	"loginsign/internal/team"
)

// Rollback is what RollbackImport undid.
type Rollback struct {
	Source *ent.ImportSource
	// DeletedConnections were made by people accepting the run's pending links.
	DeletedConnections int
	// WithdrawnLinks are the run's pending links nobody had accepted. Refused ones count too
	// (they are kept, not deleted), so the number does not tell which addresses have an
	// account whose person refused.
	WithdrawnLinks int
}

// RollbackImport undoes import run sourceID: its pending links that are still open are
// withdrawn (refused ones are kept, so a later run cannot revive them), and the connections
// people made by accepting its links are deleted through connections.Delete (so the
// application gets user_account_deleted and the aliases are never reissued); connections the
// run only refreshed stay. A run rolls back once; again answers Conflict. It needs a recent
// sign-in (Unauthorized, reauthentication_required), checked after the role check: it cannot
// be undone, and with a stolen session cookie every run rolled back ended the connections of
// everyone who joined through an import, as DeleteConnection does one by one.
func (s *Service) RollbackImport(ctx context.Context, appID, sourceID string) (*Rollback, error) {
	now := s.now()
	var src *ent.ImportSource
	deleted, withdrawn := 0, 0
	err := s.DB.Tx(ctx, func(tx *ent.Tx) error {
		app, err := s.authorizeTx(ctx, tx, appID, team.RunImports)
		if err != nil {
			return err
		}
		if _, err := auth.RequireRecentSignIn(ctx, now); err != nil {
			return err
		}
		src, err = tx.ImportSource.Query().Where(importsource.ID(sourceID), importsource.ApplicationID(app.ID)).Only(ctx)
		if err != nil {
			return store.Err(err, "import source")
		}
		if src.RolledBackAt != nil {
			return apperr.WithReason(apperr.Conflict, "already_rolled_back", "this import was already rolled back")
		}
		conns, err := tx.AppConnection.Query().Where(appconnection.ImportSourceID(src.ID), appconnection.ApplicationID(app.ID)).
			WithUser().All(ctx)
		if err != nil {
			return err
		}
		for _, c := range conns {
			c.Edges.Application = app
			if err := connections.Delete(ctx, tx, c, connections.DeletedByDeveloper, now); err != nil {
				return err
			}
		}
		deleted = len(conns)
		// Every link the run names counts, open or refused, in one read before the open ones
		// are deleted. Counted apart (the refused ones, then the open ones deleted), a refusal
		// committing between the two statements, or while the deletion waited for its row, was
		// in neither number, and the one link missing from withdrawnLinks told the developer
		// that its address has an account whose person had just refused. Nothing else removes
		// a link of a standing run meanwhile: an acceptance, a re-run and a forgotten refusal
		// wait for the application this transaction holds.
		if withdrawn, err = tx.PendingLink.Query().Where(pendinglink.ImportSourceID(src.ID),
			pendinglink.ApplicationID(app.ID)).Count(ctx); err != nil {
			return err
		}
		if _, err := tx.PendingLink.Delete().Where(pendinglink.ImportSourceID(src.ID),
			pendinglink.ApplicationID(app.ID), pendinglink.RefusedAtIsNil()).Exec(ctx); err != nil {
			return fmt.Errorf("withdrawing pending links: %w", err)
		}
		if src, err = tx.ImportSource.UpdateOne(src).SetRolledBackAt(now).Save(ctx); err != nil {
			return err
		}
		return activity.Record(ctx, tx, activity.Event{Type: activity.ImportRolledBack, Actor: activity.ByDeveloper, ApplicationID: app.ID,
			Details: map[string]string{"source": src.ID, "count": strconv.Itoa(deleted)}, At: now})
	})
	if err != nil {
		return nil, err
	}
	// src was read in tx; its edges are read after it committed (undoImport { source { rows } }).
	return &Rollback{Source: src.Unwrap(), DeletedConnections: deleted, WithdrawnLinks: withdrawn}, nil
}
