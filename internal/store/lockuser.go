package store

import (
	"context"

	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql"

	"loginsign/ent"
	"loginsign/ent/application"
	"loginsign/ent/predicate"
	"loginsign/ent/user"
)

// LockUser reads the account uid inside tx and returns it, on PostgreSQL with its row locked
// until tx ends, so
// that changes of one person take turns and an account deletion, which locks the row first,
// either commits before (NotFound: the account is gone) or waits and deletes what tx wrote:
// no foreign key ties a person's factors, passkeys or team seats to their account. d is the
// database's dialect; SQLite transactions take turns anyway (BEGIN IMMEDIATE).
func LockUser(ctx context.Context, tx *ent.Tx, d, uid string) (*ent.User, error) {
	q := tx.User.Query().Where(user.ID(uid))
	if d == dialect.Postgres {
		q = q.ForUpdate()
	}
	u, err := q.Only(ctx)
	return u, Err(err, "user")
}

// HoldApplications takes, on PostgreSQL, a key share of the applications which selects, in id
// order, before tx locks or writes rows of theirs: the lock their rows' foreign keys (a
// connection's events) take anyway, taken first. A developer ending a connection, changing the
// team or deleting an application locks the application first and then those rows
// (team.AuthorizeTx), so either it finishes before tx goes on, or it waits for tx, never each
// for the other; holders of key shares do not wait for each other. A transaction that locks
// the person (LockUser) does so before. d is the database's dialect.
func HoldApplications(ctx context.Context, tx *ent.Tx, d string, which predicate.Application) error {
	if d != dialect.Postgres {
		return nil
	}
	_, err := tx.Application.Query().Where(which).
		Order(ent.Asc(application.FieldID)).Select(application.FieldID).
		Modify(func(s *sql.Selector) { s.For(sql.LockKeyShare) }).Strings(ctx)
	return err
}

// HoldUser is LockUser with a share lock: the deletion still waits, but other holders do not.
func HoldUser(ctx context.Context, tx *ent.Tx, d, uid string) (*ent.User, error) {
	q := tx.User.Query().Where(user.ID(uid))
	if d == dialect.Postgres {
		q = q.ForShare()
	}
	u, err := q.Only(ctx)
	return u, Err(err, "user")
}
