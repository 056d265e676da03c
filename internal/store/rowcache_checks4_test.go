package store_test

import (
	"testing"
	"time"

	"loginsign/internal/store"
)

// A full cache that stores a key it holds already replaces that entry and drops no other.
func TestAFullRowCacheReplacesAnEntryInPlace(t *testing.T) {
	t.Parallel()
	now := time.Now()
	c := store.NewRowCache[string](2)
	gen := c.Generation()
	c.Put("a", "row a", gen, "", now.Add(time.Second))
	c.Put("b", "row b", gen, "", now.Add(time.Second))
	for range 10 {
		c.Put("a", "row a, again", gen, "", now.Add(time.Second))
	}
	if v, ok := c.Get("a", "", now); !ok || v != "row a, again" {
		t.Errorf("a: %q, %v; want the new row", v, ok)
	}
	if v, ok := c.Get("b", "", now); !ok || v != "row b" {
		t.Errorf("b: %q, %v; want it kept", v, ok)
	}
}
