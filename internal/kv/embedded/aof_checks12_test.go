package embedded

import (
	"os"
	"path/filepath"
	"testing"
)

// The log is its owner's only, whatever compaction found at its temporary path: a file left
// there (by a copy, a restore, another program) is replaced, not written into. Before, its
// mode, 0644 say, became the log's when the compaction renamed it into place: every
// session, flow and code readable by every account on the machine until the next compaction.
func TestLogIsTheOwnersOnlyWhateverWasAtItsTemporaryPath(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "kv.aof")
	if err := os.WriteFile(path+".tmp", []byte("stale"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path+".tmp", 0o644); err != nil { // past the umask
		t.Fatal(err)
	}
	s := mustOpen(t, Options{Path: path})
	if r := do(s, "SET", "sess:x", "v", "EX", "60"); r != any(ok) {
		t.Fatal(r)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Fatalf("the log's mode is %v, want -rw------- (0600)", perm)
	}
}
