package embedded

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// The log's fsync every second runs without the store's lock: while it is under way (here held
// until the commands below are answered) reads, writes and PING are answered. Before, the run
// loop held the lock through the fsync, so every command waited for the disk (this test
// waited forever). A failed fsync of the log's file still fails the log.
func TestCommandsAreAnsweredWhileTheLogIsFsynced(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { syncFile = (*os.File).Sync })
	syncFile = func(f *os.File) error {
		once.Do(func() { close(started); <-release })
		return f.Sync()
	}
	s := mustOpen(t, Options{Path: filepath.Join(t.TempDir(), "kv.aof"), Log: quiet})
	do(s, "SET", "k", "v")
	<-started // the run loop's fsync, a second after the start
	for _, cmd := range [][]string{{"GET", "k"}, {"SET", "k", "w"}, {"PING"}} {
		if r, isErr := do(s, cmd...).(error); isErr {
			t.Errorf("%s during the fsync: %v", cmd[0], r)
		}
	}
	close(release)

	other, err := os.CreateTemp(t.TempDir(), "old")
	if err != nil {
		t.Fatal(err)
	}
	other.Close()
	s.mu.Lock()
	s.log.synced(other, os.ErrClosed) // a file a rewrite replaced and closed meanwhile
	s.mu.Unlock()
	if r := do(s, "SET", "k", "y"); r != any(ok) {
		t.Errorf("SET after the fsync of a replaced file failed: %v, want OK", r)
	}
	s.mu.Lock()
	f := s.log.f
	s.log.synced(f, os.ErrInvalid)
	s.mu.Unlock()
	wantOutage(t, "SET after the log's fsync failed", do(s, "SET", "k", "x"))
}
