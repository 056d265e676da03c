package globalid

import (
	"context"
	"crypto/rand"
	stdsql "database/sql"
	"errors"
	"fmt"
	"sync"

	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql"

	"loginsign/ent"
	"loginsign/ent/sequence"
	"loginsign/internal/apperr"
)

// ErrExhausted is returned when every id of the space has been assigned.
var ErrExhausted = &apperr.Error{Code: apperr.Conflict, Reason: "global_id_space_exhausted",
	Message: "every Global User ID has been assigned; no new accounts can be created"}

const sequenceName = "global_user_id"

// Allocator hands out Global User IDs from the durable counter. It is safe for concurrent use
// and across instances sharing one database: the counter advances with one atomic UPDATE.
type Allocator struct {
	client  *ent.Client
	dialect string
	side    int

	mu   sync.Mutex
	perm *Permutation

	// OnThreshold, when set, is called once per process for each of Thresholds that an
	// allocation reaches (with the fraction and the counts), so operators hear of a filling
	// space long before it is full. Set it before the first Next.
	OnThreshold func(fraction float64, used, size int64)
	warned      int // how many of Thresholds were reported
}

// Thresholds are the fractions of the space at which OnThreshold fires.
var Thresholds = []float64{0.5, 0.8, 0.9, 0.95, 0.99}

// NewAllocator allocates from the full space.
func NewAllocator(client *ent.Client, dialect string) *Allocator {
	return &Allocator{client: client, dialect: dialect, side: Side}
}

// NewReducedAllocator allocates from a space of side² ids; for tests that walk to exhaustion.
func NewReducedAllocator(client *ent.Client, dialect string, side int) *Allocator {
	return &Allocator{client: client, dialect: dialect, side: side}
}

// Next returns a fresh id. It runs on client, which may be a transaction's client so that the
// counter advances with the insert that uses it.
func (a *Allocator) Next(ctx context.Context, client *ent.Client) (string, error) {
	if client == nil {
		client = a.client
	}
	perm, err := a.Prepare(ctx)
	if err != nil {
		return "", err
	}
	n, err := a.advance(ctx, client)
	if err != nil {
		return "", err
	}
	if n >= perm.Size() {
		return "", ErrExhausted
	}
	a.report(n+1, perm.Size())
	return Format(perm.Apply(n)), nil
}

func (a *Allocator) report(used, size int64) {
	if a.OnThreshold == nil {
		return
	}
	a.mu.Lock()
	var fire []float64
	for a.warned < len(Thresholds) && float64(used) >= Thresholds[a.warned]*float64(size) {
		fire = append(fire, Thresholds[a.warned])
		a.warned++
	}
	a.mu.Unlock()
	for _, f := range fire {
		a.OnThreshold(f, used, size)
	}
}

// Usage returns how many ids have been assigned and the size of the space. The counter may
// run past the size (attempts after exhaustion); used never does.
func (a *Allocator) Usage(ctx context.Context) (used, size int64, err error) {
	perm, err := a.Prepare(ctx)
	if err != nil {
		return 0, 0, err
	}
	seq, err := a.client.Sequence.Query().Where(sequence.Name(sequenceName)).Only(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("reading global id counter: %w", err)
	}
	return min(seq.Value, perm.Size()), perm.Size(), nil
}

// advance increments the counter and returns its previous value.
func (a *Allocator) advance(ctx context.Context, client *ent.Client) (int64, error) {
	q := "UPDATE sequences SET value = value + 1 WHERE name = ? RETURNING value"
	if a.dialect == dialect.Postgres {
		q = "UPDATE sequences SET value = value + 1 WHERE name = $1 RETURNING value"
	}
	rows, err := client.QueryContext(ctx, q, sequenceName)
	if err != nil {
		return 0, fmt.Errorf("advancing global id counter: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return 0, fmt.Errorf("advancing global id counter: %w", err)
		}
		return 0, errors.New("advancing global id counter: sequence row missing")
	}
	var v int64
	if err := rows.Scan(&v); err != nil {
		return 0, fmt.Errorf("advancing global id counter: %w", err)
	}
	return v - 1, rows.Close()
}

// Prepare loads the permutation key, creating the sequence row with a random key on first use.
// Call it outside any transaction before the first Next inside one: on SQLite a transaction
// holds the only write lock.
func (a *Allocator) Prepare(ctx context.Context) (*Permutation, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.perm != nil {
		return a.perm, nil
	}
	key := make([]byte, 32)
	rand.Read(key)
	err := a.client.Sequence.Create().SetName(sequenceName).SetKey(key).
		OnConflict(sql.ConflictColumns(sequence.FieldName)).DoNothing().Exec(ctx)
	if err != nil && !errors.Is(err, stdsql.ErrNoRows) {
		return nil, fmt.Errorf("creating global id sequence: %w", err)
	}
	seq, err := a.client.Sequence.Query().Where(sequence.Name(sequenceName)).Only(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading global id sequence: %w", err)
	}
	a.perm = NewPermutation(seq.Key, a.side)
	return a.perm, nil
}
