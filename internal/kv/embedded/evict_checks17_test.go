package embedded

import (
	"fmt"
	"path/filepath"
	"testing"
)

// Keys under an EvictFirst prefix are evicted before any other, whatever their TTL, also after
// a restart that read them back from the log.
func TestEvictFirstKeysGoFirstAlsoAfterARestart(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "kv.aof")
	o := Options{Path: path, MaxKeys: 6, EvictFirst: []string{"mlx:"}}
	s := mustOpen(t, o)
	for i := range 3 {
		if r := do(s, "SET", fmt.Sprint("sess:", i), "v", "EX", "60"); r != any(ok) {
			t.Fatal(r)
		}
		if r := do(s, "SET", fmt.Sprint("mlx:", i), "v", "EX", "86400"); r != any(ok) {
			t.Fatal(r)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, o)
	for i := range 3 {
		if r := do(s, "SET", fmt.Sprint("new:", i), "v", "EX", "120"); r != any(ok) {
			t.Fatal(r)
		}
	}
	for i := range 3 {
		if r := do(s, "EXISTS", fmt.Sprint("sess:", i)); r != any(int64(1)) {
			t.Errorf("session %d after three writes at the bound: exists %v, want kept (the memos go first)", i, r)
		}
		if r := do(s, "EXISTS", fmt.Sprint("mlx:", i)); r != any(int64(0)) {
			t.Errorf("memo %d: exists %v, want evicted", i, r)
		}
	}
}
