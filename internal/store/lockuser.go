package store

import (
	"context"

	"entgo.io/ent/dialect"

	"loginsign/ent"
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

// HoldUser is LockUser with a share lock: the deletion still waits, but other holders do not.
func HoldUser(ctx context.Context, tx *ent.Tx, d, uid string) (*ent.User, error) {
	q := tx.User.Query().Where(user.ID(uid))
	if d == dialect.Postgres {
		q = q.ForShare()
	}
	u, err := q.Only(ctx)
	return u, Err(err, "user")
}
