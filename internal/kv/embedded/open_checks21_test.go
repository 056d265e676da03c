package embedded

import (
	"os"
	"path/filepath"
	"testing"
)

// A log whose first bytes cannot be read (an I/O error; here the path is a directory, EISDIR)
// does not open: it is not the short file of a crash while it was first written. Before, any
// error reading the header was taken for such a file, the store opened empty and compacted
// its empty data in place of the log (on a real read error, every session, revoked family's
// marker and used code's record lost for good).
func TestALogThatCannotBeReadDoesNotOpen(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "kv.aof")
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	s, err := Open(Options{Path: path, Log: quiet})
	if err == nil {
		s.Close()
		t.Fatal("a log that cannot be read opened as an empty store")
	}
}
