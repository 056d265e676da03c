package store

import (
	"context"
	"fmt"
)

// PurgeBatch is how many rows one statement of Purge deletes.
const PurgeBatch = 1000

// Purge deletes what (a name, for errors) in batches of PurgeBatch rows, so that no
// transaction holds the writer long: find returns the ids of at most limit rows to delete,
// del deletes the rows of ids. It stops when find returns fewer than a batch, and returns
// how many rows it deleted.
func Purge(ctx context.Context, what string, find func(ctx context.Context, limit int) ([]string, error),
	del func(ctx context.Context, ids []string) (int, error)) (int, error) {
	total := 0
	for {
		ids, err := find(ctx, PurgeBatch)
		if err != nil {
			return total, fmt.Errorf("finding %s: %w", what, err)
		}
		if len(ids) == 0 {
			return total, nil
		}
		n, err := del(ctx, ids)
		if err != nil {
			return total, fmt.Errorf("deleting %s: %w", what, err)
		}
		total += n
		if len(ids) < PurgeBatch {
			return total, nil
		}
	}
}
