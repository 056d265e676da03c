package portal_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/ent/appconnection"
	"loginsign/ent/pendinglink"
	"loginsign/internal/connections"
	"loginsign/internal/portal"
)

// mutationFault fails the next mutation of one ent type and operation, once armed.
type mutationFault struct {
	mu       sync.Mutex
	typ      string
	op       ent.Op
	armed    bool
	injected int
}

func (f *mutationFault) arm(typ string, op ent.Op) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.typ, f.op, f.armed, f.injected = typ, op, true, 0
}

// fired reports whether the armed fault failed a mutation since arm, and disarms it.
func (f *mutationFault) fired() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.armed = false
	return f.injected == 1
}

func (f *mutationFault) hook(next ent.Mutator) ent.Mutator {
	return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
		f.mu.Lock()
		fail := f.armed && m.Type() == f.typ && m.Op().Is(f.op)
		if fail {
			f.armed = false
			f.injected++
		}
		f.mu.Unlock()
		if fail {
			return nil, errors.New("database connection lost (injected)")
		}
		return next.Mutate(ctx, m)
	})
}

// TestAnImportRollbackThatFailsHalfWayIsFinishedByItsRetry: a rollback whose database work
// fails at any step after the first reports the error and leaves the run as it was (its open
// pending link still proposed, the connection made through it still there, the run not
// marked rolled back), and the same rollback again finishes it. A guard: the rollback is one
// transaction.
func TestAnImportRollbackThatFailsHalfWayIsFinishedByItsRetry(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		fault := &mutationFault{}
		e.db.Use(fault.hook)
		for _, step := range []struct {
			name string
			typ  string
			op   ent.Op
		}{
			{"deleting the connection", ent.TypeAppConnection, ent.OpDelete | ent.OpDeleteOne},
			{"withdrawing the pending links", ent.TypePendingLink, ent.OpDelete},
			{"marking the run rolled back", ent.TypeImportSource, ent.OpUpdate | ent.OpUpdateOne},
			{"recording the event", ent.TypeActivityEvent, ent.OpCreate},
		} {
			t.Run(step.name, func(t *testing.T) {
				ctx := context.Background()
				dev := e.developer(t)
				app := e.app(t, dev)
				accepter := e.person(t)
				res, err := e.svc.Import(dev, app.ID, portal.ImportRequest{Users: []portal.ImportUser{
					{ExternalUserID: "open", Email: "open@example.com"},
					{ExternalUserID: "accepted", Email: accepter.Email},
				}})
				if err != nil {
					t.Fatal(err)
				}
				err = e.db.Tx(ctx, func(tx *ent.Tx) error {
					l, err := connections.PendingLinkFor(ctx, tx.Client(), app.ID, []string{accepter.Email})
					if err != nil {
						return err
					}
					c, err := connections.Create(ctx, tx, accepter.ID, app.ID, "relay.test.example", time.Now())
					if err != nil {
						return err
					}
					_, err = connections.AcceptPendingLink(ctx, tx, l, c, true, time.Now())
					return err
				})
				if err != nil {
					t.Fatal(err)
				}

				fault.arm(step.typ, step.op)
				rb, err := e.svc.RollbackImport(dev, app.ID, res.Source.ID)
				if !fault.fired() {
					t.Fatal("the fault was not injected once")
				}
				if err == nil {
					t.Fatalf("the rollback failing at %s answered %+v, want the failure reported", step.name, rb)
				}
				if n := e.db.PendingLink.Query().Where(pendinglink.ApplicationID(app.ID), pendinglink.Email("open@example.com")).CountX(ctx); n != 1 {
					t.Errorf("after the failure: %d open pending links, want the proposal still there (1)", n)
				}
				if n := e.db.AppConnection.Query().Where(appconnection.ApplicationID(app.ID)).CountX(ctx); n != 1 {
					t.Errorf("after the failure: %d connections, want the accepted one still there (1)", n)
				}
				if src := e.db.ImportSource.GetX(ctx, res.Source.ID); src.RolledBackAt != nil {
					t.Errorf("after the failure: the run is marked rolled back")
				}

				rb, err = e.svc.RollbackImport(dev, app.ID, res.Source.ID)
				if err != nil || rb.DeletedConnections != 1 || rb.WithdrawnLinks != 1 || rb.Source.RolledBackAt == nil {
					t.Fatalf("the retry: %+v, %v; want 1 connection deleted and 1 link withdrawn", rb, err)
				}
				if n := e.db.PendingLink.Query().Where(pendinglink.ApplicationID(app.ID)).CountX(ctx); n != 0 {
					t.Errorf("after the retry: %d pending links, want none", n)
				}
			})
		}
	})
}

// TestAnImportThatFailsHalfWayProposesNothing: an import whose database work fails after its
// pending links were written (its rows, its counts, its event) reports the error and proposes
// no one, and the same import again stores the run. A guard: the import is one transaction.
func TestAnImportThatFailsHalfWayProposesNothing(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		fault := &mutationFault{}
		e.db.Use(fault.hook)
		for _, step := range []struct {
			name string
			typ  string
			op   ent.Op
		}{
			{"storing the rows", ent.TypeImportRow, ent.OpCreate},
			{"storing the counts", ent.TypeImportSource, ent.OpUpdate | ent.OpUpdateOne},
			{"recording the event", ent.TypeActivityEvent, ent.OpCreate},
		} {
			t.Run(step.name, func(t *testing.T) {
				ctx := context.Background()
				dev := e.developer(t)
				app := e.app(t, dev)
				req := portal.ImportRequest{Users: []portal.ImportUser{{ExternalUserID: "a", Email: "a@example.com"}}}

				fault.arm(step.typ, step.op)
				res, err := e.svc.Import(dev, app.ID, req)
				if !fault.fired() {
					t.Fatal("the fault was not injected once")
				}
				if err == nil {
					t.Fatalf("the import failing at %s answered %+v, want the failure reported", step.name, res)
				}
				if n := e.db.PendingLink.Query().Where(pendinglink.ApplicationID(app.ID)).CountX(ctx); n != 0 {
					t.Errorf("after the failure: %d pending links, want none", n)
				}
				if _, err := e.svc.Import(dev, app.ID, req); err != nil {
					t.Fatalf("the same import again: %v", err)
				}
				if n := e.db.PendingLink.Query().Where(pendinglink.ApplicationID(app.ID)).CountX(ctx); n != 1 {
					t.Errorf("after the retry: %d pending links, want 1", n)
				}
			})
		}
	})
}
