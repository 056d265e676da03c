package portal_test

import (
	"context"
	"testing"

	"loginsign/internal/apperr"
	"loginsign/internal/portal"
)

// TestPendingLinksPerOwnerAreBounded: the people an import proposes to link are kept until
// they answer, so the applications one developer owns hold at most MaxPendingLinks of them
// together. A run that would pass it is refused whole and stores nothing (no source, rows or
// links); a re-run of addresses already proposed adds none and passes; rolling back a run
// (the one that last proposed its addresses) makes room; another developer's links do not count.
func TestPendingLinksPerOwnerAreBounded(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		ctx := context.Background()
		e.svc.MaxPendingLinks = 5
		e.svc.Now = steppingClock()
		dev, rival := e.developer(t), e.developer(t)
		shop, notes, theirs := e.app(t, dev), e.app(t, dev), e.app(t, rival)
		run := func(ctx context.Context, appID, tag string, n int) (*portal.ImportResult, error) {
			return e.svc.Import(ctx, appID, portal.ImportRequest{Users: importUsers(tag, n)})
		}
		if _, err := run(rival, theirs.ID, "theirs", 4); err != nil {
			t.Fatal(err)
		}
		if _, err := run(dev, shop.ID, "a", 3); err != nil {
			t.Fatal(err)
		}
		stored := func() (sources, rows, links int) {
			return e.db.ImportSource.Query().CountX(ctx), e.db.ImportRow.Query().CountX(ctx), e.db.PendingLink.Query().CountX(ctx)
		}
		s, r, l := stored()
		_, err := run(dev, notes.ID, "b", 3)
		if !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("a run past the owner's 5 pending links (3 held, 3 more): %v, want invalid_request", err)
		}
		if s2, r2, l2 := stored(); s2 != s || r2 != r || l2 != l {
			t.Errorf("the refused run stored sources %d→%d, rows %d→%d, links %d→%d", s, s2, r, r2, l, l2)
		}
		again, err := run(dev, shop.ID, "a", 3)
		if err != nil {
			t.Fatalf("a re-run of the addresses already proposed: %v", err)
		}
		if _, err := run(dev, notes.ID, "b", 2); err != nil {
			t.Fatalf("a run up to the total: %v", err)
		}
		if _, err := e.svc.RollbackImport(dev, shop.ID, again.Source.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := run(dev, notes.ID, "c", 3); err != nil {
			t.Fatalf("a run after a rollback made room: %v", err)
		}
	})
}
