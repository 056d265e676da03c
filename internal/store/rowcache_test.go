package store_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// An entry answers only for its stamp, until it expires, and until the generation moves; a
// row read before a change (Put with the older generation) is not kept; a full cache makes
// room for a new entry by dropping one.
func TestRowCache(t *testing.T) {
	t.Parallel()
	now := time.Now()
	c := store.NewRowCache[string](2)
	gen := c.Generation()
	c.Put("a", "row a", gen, "s1", now.Add(time.Second))
	if v, ok := c.Get("a", "s1", now); !ok || v != "row a" {
		t.Fatalf("Get = %q, %v; want the row", v, ok)
	}
	for _, tc := range []struct {
		name, key, stamp string
		at               time.Time
	}{
		{"another stamp", "a", "s2", now},
		{"expired", "a", "s1", now.Add(time.Second)},
		{"unknown key", "b", "s1", now},
	} {
		if _, ok := c.Get(tc.key, tc.stamp, tc.at); ok {
			t.Errorf("%s: answered", tc.name)
		}
	}
	c.Put("b", "row b", gen, "s1", now.Add(time.Second))
	c.Delete("b")
	if _, ok := c.Get("b", "s1", now); ok {
		t.Fatal("a deleted entry answered")
	}
	if _, ok := c.Get("a", "s1", now); !ok {
		t.Fatal("Delete of b dropped a")
	}
	c.Invalidate()
	if _, ok := c.Get("a", "s1", now); ok {
		t.Fatal("an entry of the previous generation answered")
	}
	c.Put("a", "stale", gen, "s1", now.Add(time.Second)) // read before the change
	if _, ok := c.Get("a", "s1", now); ok {
		t.Fatal("a row read before Invalidate was kept")
	}
	gen = c.Generation()
	for _, k := range []string{"a", "b", "c"} {
		c.Put(k, "row "+k, gen, "", now.Add(time.Second))
	}
	kept := 0
	for _, k := range []string{"a", "b"} {
		if _, ok := c.Get(k, "", now); ok {
			kept++
		}
	}
	if _, ok := c.Get("c", "", now); !ok || kept != 1 {
		t.Fatalf("after a third entry in a cache of 2: c kept %v, %d of a and b kept; want c and one other", ok, kept)
	}
}

// InvalidateOnChange reports a change of a watched type when it is made and, once durable,
// with true: after the mutation outside a transaction, after the commit inside one, never
// for a rollback; other types are not reported.
func TestInvalidateOnChange(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var calls []bool
		store.InvalidateOnChange(db, func(_ context.Context, durable bool) { calls = append(calls, durable) }, ent.TypeUser)
		expect := func(step string, want ...bool) {
			t.Helper()
			if !slices.Equal(calls, want) {
				t.Fatalf("%s: calls %v, want %v", step, calls, want)
			}
			calls = nil
		}
		u, err := db.User.Create().SetGlobalID("RC1234").SetEmail("rowcache@example.com").Save(ctx)
		if err != nil {
			t.Fatal(err)
		}
		expect("create outside a transaction", false, true)

		errRollback := errors.New("roll back")
		err = db.Tx(ctx, func(tx *ent.Tx) error {
			if err := tx.User.UpdateOneID(u.ID).SetName("Inside").Exec(ctx); err != nil {
				return err
			}
			expect("update inside a transaction, before the commit", false, false)
			return errRollback
		})
		if !errors.Is(err, errRollback) {
			t.Fatal(err)
		}
		expect("rolled back")

		if err := db.Tx(ctx, func(tx *ent.Tx) error { return tx.User.UpdateOneID(u.ID).SetName("Committed").Exec(ctx) }); err != nil {
			t.Fatal(err)
		}
		expect("committed", false, false, true)

		if _, err := db.Application.Create().SetOwnerID(u.ID).SetName("Not watched").SetSecretHash("x").Save(ctx); err != nil {
			t.Fatal(err)
		}
		expect("another type")
	})
}
