package globalid_test

import (
	"context"
	"fmt"
	"testing"

	"loginsign/internal/globalid"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// The permutation is keyed: two keys order the ids differently, so one deployment's ids say
// nothing of another's, and the key in the database is what makes them unpredictable.
func TestPermutationDependsOnItsKey(t *testing.T) {
	t.Parallel()
	a, b := globalid.NewPermutation([]byte("key one"), globalid.Side), globalid.NewPermutation([]byte("key two"), globalid.Side)
	same := 0
	for n := range int64(100) {
		if a.Apply(n) == b.Apply(n) {
			same++
		}
	}
	if same > 2 {
		t.Errorf("%d of 100 counters map to the same id under two different keys, want about none", same)
	}
}

// Valid accepts upper case only (Normalize is the case-insensitive entry), and nothing around
// the six characters.
func TestValidIsStrict(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]bool{"AB1234": true, "ab1234": false, "Ab1234": false, "AB1234\n": false,
		" AB1234": false, "AB12345": false, "AB123": false, "A11234": false} {
		if got := globalid.Valid(in); got != want {
			t.Errorf("Valid(%q) = %v, want %v", in, got, want)
		}
	}
	if got, ok := globalid.Normalize(" ab1234\t"); !ok || got != "AB1234" {
		t.Errorf("Normalize(%q) = %q, %v; want %q, true", " ab1234\t", got, ok, "AB1234")
	}
}

// An allocation that crosses several thresholds at once reports each of them, in order.
func TestAllocatorReportsEveryThresholdOneAllocationCrosses(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		a := globalid.NewReducedAllocator(db.Client, db.Dialect, 2) // 4 ids
		var got []string
		a.OnThreshold = func(f float64, used, size int64) { got = append(got, fmt.Sprintf("%v@%d/%d", f, used, size)) }
		for range 4 {
			if _, err := a.Next(ctx, nil); err != nil {
				t.Fatal(err)
			}
		}
		want := "[0.5@2/4 0.8@4/4 0.9@4/4 0.95@4/4 0.99@4/4]"
		if fmt.Sprint(got) != want {
			t.Errorf("reports over a 4-id space = %v, want %v", got, want)
		}
	})
}
