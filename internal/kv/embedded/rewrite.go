package embedded

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// A log that outgrew the data is rewritten in the background, as Redis's BGREWRITEAOF does:
// the store's lock is held to take the list of keys, then for each chunk of rewriteChunk keys
// while their records are encoded, and at the end to append what was committed meanwhile and
// put the new file in place; the file's flush and fsync, the slow part, run without it. Before,
// the whole rewrite ran under the lock, inside the write that crossed the threshold: at a
// million sessions every command, PING included, waited some 30 s (this test machine; the
// fsync of 170 MB alone takes 6 s).
//
// The new file is the chunks, then every frame committed since the rewrite started (pending),
// in order. Replaying it gives the data as it is: a chunk holds a key's state at some time after
// the start, and the frames after the start bring it to its last state, since a key created,
// deleted or created anew is logged whole (a full record replaces what a chunk holds) and a
// delta adds members and sets the deadline (adding a member a chunk holds already changes
// nothing). A key a chunk skips as expired may get a delta of the time it was live: replayed
// alone, it dies with its deadline, which has passed (dropExpired).
type rewrite struct {
	f       *os.File
	w       *bufio.Writer
	keys    []string // the keys at the start, rewritten a chunk at a time
	next    int      // the first key not rewritten yet
	size    int64    // the bytes written to f
	pending []byte   // the frames committed since the start
	done    chan struct{}
}

// rewriteChunk is the most keys rewritten in one hold of the store's lock.
var rewriteChunk = 2_000

// betweenChunks, when set (by tests), is called after each chunk, without the lock.
var betweenChunks func()

// rewritePattern names the new logs of background rewrites, beside the log.
const rewritePattern = ".rewrite-*"

// removeRewrites deletes the files of rewrites that a crash or a failure left.
func removeRewrites(path string) {
	left, _ := filepath.Glob(path + rewritePattern)
	for _, f := range left {
		os.Remove(f)
	}
}

// startRewrite starts a background rewrite of the log; s.mu is held.
func (l *aof) startRewrite(s *Store) error {
	removeRewrites(l.path)
	f, err := os.CreateTemp(filepath.Dir(l.path), filepath.Base(l.path)+rewritePattern) // mode 0600
	if err != nil {
		return fmt.Errorf("embedded store: %w", err)
	}
	rw := &rewrite{f: f, w: bufio.NewWriterSize(f, 1<<20), keys: make([]string, 0, len(s.m)), done: make(chan struct{})}
	for k := range s.m {
		rw.keys = append(rw.keys, k)
	}
	rw.w.WriteString(aofHeader)
	rw.size = int64(len(aofHeader))
	l.rw = rw
	go l.runRewrite(s, rw)
	return nil
}

// stopRewrite abandons the rewrite under way, if any, and returns the channel closed once its
// goroutine is done (nil when none); s.mu is held.
func (l *aof) stopRewrite() chan struct{} {
	if l.rw == nil {
		return nil
	}
	done := l.rw.done
	l.rw = nil
	return done
}

// runRewrite writes the chunks of rw, then puts the new file in place of the log unless the
// rewrite was abandoned (l.rw is no longer rw: recover rewrote the log, or the store closes)
// or the log has failed meanwhile.
func (l *aof) runRewrite(s *Store, rw *rewrite) {
	defer close(rw.done)
	err := l.rewriteChunks(s, rw)
	if err == nil {
		if err = rw.w.Flush(); err == nil {
			err = rw.f.Sync()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if l.rw != rw {
		rw.abandon()
		return
	}
	l.rw = nil
	if l.err != nil { // the log failed meanwhile: recover rewrites it from memory
		rw.abandon()
		return
	}
	if err == nil {
		err = l.install(rw)
	}
	if err != nil {
		rw.abandon()
		l.compactAfter = l.size + compactAt
		l.log.Warn("embedded store: compacting its log failed; it goes on growing", "path", l.path, "err", err)
	}
}

// errAbandoned ends the chunks of a rewrite that was abandoned.
var errAbandoned = errors.New("abandoned")

// rewriteChunks writes the live keys of rw.keys to rw.w, a chunk per hold of s.mu.
func (l *aof) rewriteChunks(s *Store, rw *rewrite) error {
	frame := make([]byte, frameHead, frameCompacted+4096)
	flush := func() error {
		if len(frame) == frameHead {
			return nil
		}
		seal(frame)
		_, err := rw.w.Write(frame)
		rw.size += int64(len(frame))
		frame = frame[:frameHead]
		return err
	}
	for {
		s.mu.Lock()
		if l.rw != rw {
			s.mu.Unlock()
			return errAbandoned
		}
		now := s.nowMs()
		end := min(rw.next+rewriteChunk, len(rw.keys))
		var err error
		for _, k := range rw.keys[rw.next:end] {
			if e := s.m[k]; e != nil && (e.exp == 0 || e.exp > now) && err == nil {
				if frame = encode(frame, k, e); len(frame) >= frameCompacted {
					err = flush()
				}
			}
		}
		if err == nil {
			err = flush() // a frame holds records of one hold of the lock only
		}
		rw.next = end
		s.mu.Unlock()
		if err != nil || end == len(rw.keys) {
			return err
		}
		if betweenChunks != nil {
			betweenChunks()
		}
	}
}

// install appends the frames committed during rw to its file and puts it in place of the log;
// s.mu is held.
func (l *aof) install(rw *rewrite) error {
	if _, err := rw.f.Write(rw.pending); err != nil {
		return fmt.Errorf("embedded store: writing %s: %w", rw.f.Name(), err)
	}
	if err := rw.f.Sync(); err != nil {
		return fmt.Errorf("embedded store: %w", err)
	}
	if err := os.Rename(rw.f.Name(), l.path); err != nil {
		return fmt.Errorf("embedded store: %w", err)
	}
	if d, err := os.Open(filepath.Dir(l.path)); err == nil {
		d.Sync()
		d.Close()
	}
	l.f.Close()
	l.f, l.size = rw.f, rw.size+int64(len(rw.pending))
	return nil
}

// abandon closes and deletes rw's file.
func (rw *rewrite) abandon() {
	rw.f.Close()
	os.Remove(rw.f.Name())
}
