package oauth_test

import (
	"context"
	"errors"
	"testing"

	"loginsign/ent/refreshtoken"
	"loginsign/internal/ids"
	"loginsign/internal/oauth"
)

// Each rotation of a batch gets its own outcome: a spent token's write and a second write of
// a row the batch already moved lose their race; the others succeed, and a row the batch
// did not move keeps its live token.
func TestEachRotationOfABatchGetsItsOwnOutcome(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		a, b, c := e.signIn(t, "openid"), e.signIn(t, "openid"), e.signIn(t, "openid")
		bLive := e.rotated(t, b, 1) // b's first token is spent
		errs := e.svc.RotateAsOneBatch(e.ctx(), b.resp.RefreshToken, a.resp.RefreshToken, a.resp.RefreshToken,
			c.resp.RefreshToken)
		for i, want := range []string{"raced", "written", "raced", "written"} {
			got := "written"
			switch {
			case oauth.IsRaced(errs[i]):
				got = "raced"
			case errs[i] != nil:
				got = errs[i].Error()
			}
			if got != want {
				t.Errorf("rotation %d of the batch: %s, want %s", i, got, want)
			}
		}
		if _, err := e.token(b.id, b.secret, refreshForm(bLive)); err != nil {
			t.Fatalf("the live token of the family whose spent token lost its race: %v", err)
		}
	})
}

// A batch whose statement fails (here, the write of one of its rows) fails every rotation in
// it with a server error, and writes none: each presented token stays live, for the client's
// retry.
func TestAFailedRotationBatchFailsEveryRotationAndWritesNothing(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		ctx := e.ctx()
		a, b, c := e.signIn(t, "openid"), e.signIn(t, "openid"), e.signIn(t, "openid")
		row := e.db.RefreshToken.Query().Where(refreshtoken.TokenHash(ids.Hash(b.resp.RefreshToken))).OnlyIDX(ctx)
		create := []string{`CREATE TRIGGER checks4_fail BEFORE UPDATE ON refresh_tokens WHEN OLD.id = '` + row +
			`' BEGIN SELECT RAISE(ABORT, 'injected'); END`}
		drop := `DROP TRIGGER checks4_fail`
		if e.db.Dialect == "postgres" {
			create = []string{`CREATE FUNCTION checks4_fail() RETURNS trigger LANGUAGE plpgsql AS
				$$ BEGIN RAISE EXCEPTION 'injected'; END $$`,
				`CREATE TRIGGER checks4_fail BEFORE UPDATE ON refresh_tokens FOR EACH ROW
				WHEN (OLD.id = '` + row + `') EXECUTE FUNCTION checks4_fail()`}
			drop = `DROP TRIGGER checks4_fail ON refresh_tokens`
		}
		for _, q := range create {
			if _, err := e.db.SQL.ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		errs := e.svc.RotateAsOneBatch(ctx, a.resp.RefreshToken, b.resp.RefreshToken, c.resp.RefreshToken)
		for i, err := range errs {
			var oe *oauth.Error
			if !errors.As(err, &oe) || oe.Code != oauth.ServerError {
				t.Errorf("rotation %d of the failed batch: %v, want a server error", i, err)
			}
		}
		if _, err := e.db.SQL.ExecContext(ctx, drop); err != nil {
			t.Fatal(err)
		}
		for _, s := range []signedIn{a, b, c} {
			if _, err := e.token(s.id, s.secret, refreshForm(s.resp.RefreshToken)); err != nil {
				t.Errorf("refresh with a token of the failed batch: %v, want it still live", err)
			}
		}
	})
}

// A rotation's batch carries other clients' rotations: one whose client went away (its
// context ended) is still written, so that theirs are not failed with its context's error.
func TestARotationWhoseClientWentAwayIsStillWritten(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		s := e.signIn(t, "openid")
		ctx, cancel := context.WithCancel(e.ctx())
		cancel()
		if err := e.svc.RotateAlone(ctx, s.resp.RefreshToken); err != nil {
			t.Fatalf("a rotation with an ended context: %v, want it written", err)
		}
		if _, err := e.token(s.id, s.secret, refreshForm(s.resp.RefreshToken)); err == nil {
			t.Fatal("the token the rotation spent still refreshes: the rotation was not written")
		}
	})
}

// A batch that gets no database connection (a database that does not answer) fails every
// rotation in it, and writes none.
func TestARotationBatchWithoutAConnectionFailsEveryRotation(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		a, b := e.signIn(t, "openid"), e.signIn(t, "openid")
		ctx, cancel := context.WithCancel(e.ctx())
		cancel() // the pool gives no connection
		for i, err := range e.svc.RotateAsOneBatch(ctx, a.resp.RefreshToken, b.resp.RefreshToken) {
			var oe *oauth.Error
			if !errors.As(err, &oe) || oe.Code != oauth.ServerError {
				t.Errorf("rotation %d of a batch without a connection: %v, want a server error", i, err)
			}
		}
		for _, s := range []signedIn{a, b} {
			if _, err := e.token(s.id, s.secret, refreshForm(s.resp.RefreshToken)); err != nil {
				t.Errorf("refresh with a token of the failed batch: %v, want it still live", err)
			}
		}
	})
}

// A rotation whose family was revoked since its row was read loses its race: the revoked
// row is not moved.
func TestARotationOfARevokedFamilyIsNotWritten(t *testing.T) {
	t.Parallel()
	forFlowBackends(t, oauth.Config{}, func(t *testing.T, e *flowEnv) {
		ctx := e.ctx()
		s := e.signIn(t, "openid")
		row := e.db.RefreshToken.Query().Where(refreshtoken.TokenHash(ids.Hash(s.resp.RefreshToken))).OnlyIDX(ctx)
		if err := e.db.RefreshToken.UpdateOneID(row).SetRevokedAt(e.clock.Now()).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.RotateAsOneBatch(ctx, s.resp.RefreshToken)[0]; !oauth.IsRaced(err) {
			t.Fatalf("the rotation of a revoked row: %v, want it to lose its race", err)
		}
		if rt := e.db.RefreshToken.GetX(ctx, row); rt.RotatedAt != nil {
			t.Error("the revoked row was moved to the next generation")
		}
	})
}
