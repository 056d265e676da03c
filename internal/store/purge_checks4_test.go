package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"loginsign/internal/store"
)

// purgeRows is a table of n rows for Purge: find returns the ids of up to limit of them,
// del deletes them; it counts the calls.
type purgeRows struct {
	left, finds, dels int
	limits            []int
	findErr, delErr   error // returned by the second call
}

func (r *purgeRows) find(_ context.Context, limit int) ([]string, error) {
	r.finds++
	r.limits = append(r.limits, limit)
	if r.findErr != nil && r.finds == 2 {
		return nil, r.findErr
	}
	ids := make([]string, min(limit, r.left))
	for i := range ids {
		ids[i] = fmt.Sprint(i)
	}
	return ids, nil
}

func (r *purgeRows) del(_ context.Context, ids []string) (int, error) {
	r.dels++
	if r.delErr != nil && r.dels == 2 {
		return 0, r.delErr
	}
	if len(ids) == 0 {
		return 0, errors.New("del called with no ids")
	}
	r.left -= len(ids)
	return len(ids), nil
}

// Purge deletes in batches of PurgeBatch until a batch comes back short (or empty), and
// returns how many rows it deleted in all.
func TestPurgeDeletesInBatchesUntilNoneAreLeft(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		rows, finds, dels int
	}{
		{0, 1, 0},
		{3, 1, 1},
		{store.PurgeBatch, 2, 1},
		{2*store.PurgeBatch + 3, 3, 3},
	} {
		r := &purgeRows{left: tc.rows}
		n, err := store.Purge(context.Background(), "rows", r.find, r.del)
		if err != nil || n != tc.rows || r.left != 0 || r.finds != tc.finds || r.dels != tc.dels {
			t.Errorf("%d rows: deleted %d (%v), %d left, %d finds and %d deletions; want all in %d finds and %d deletions",
				tc.rows, n, err, r.left, r.finds, r.dels, tc.finds, tc.dels)
		}
		for _, l := range r.limits {
			if l != store.PurgeBatch {
				t.Errorf("%d rows: find asked for %d, want %d", tc.rows, l, store.PurgeBatch)
			}
		}
	}
}

// A failing find or deletion stops Purge with the error, named, and the count deleted before.
func TestPurgeStopsAtAnError(t *testing.T) {
	t.Parallel()
	failed := errors.New("database gone")
	for name, r := range map[string]*purgeRows{
		"finding":  {left: 3 * store.PurgeBatch, findErr: failed},
		"deleting": {left: 3 * store.PurgeBatch, delErr: failed},
	} {
		n, err := store.Purge(context.Background(), "old rows", r.find, r.del)
		if !errors.Is(err, failed) || !strings.Contains(err.Error(), name+" old rows") || n != store.PurgeBatch {
			t.Errorf("%s fails: %d, %v; want %d and the error of %s old rows", name, n, err, store.PurgeBatch, name)
		}
	}
}
