package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"loginsign/internal/apperr"
)

// quiet is the logger of tests that expect a message they do not read.
var quiet = slog.New(slog.DiscardHandler)

// logLines is a slog destination the tests read back.
type logLines struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logLines) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(b)
}

// count is the number of lines containing s.
func (l *logLines) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.buf.String(), s)
}

// openLogged opens a store on path whose log messages go to the returned lines. Its sweep
// (which also fsyncs and retries the log) never runs: the tests drive the log themselves.
func openLogged(t *testing.T, path string) (*Store, *logLines) {
	t.Helper()
	lines := &logLines{}
	s, err := Open(Options{Path: path, SweepEvery: time.Hour, Log: slog.New(slog.NewTextHandler(lines, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return s, lines
}

// failLog makes every later write and fsync of s's log fail, as a full disk (ENOSPC) or a
// failing one (EIO) does, and, with blockRewrite, the rewrite that recovers it as well (a
// directory stands where the new log would be written). It returns the unblocking.
func failLog(t *testing.T, s *Store, path string, blockRewrite bool) (unblock func()) {
	t.Helper()
	s.mu.Lock()
	s.log.f.Close()
	s.mu.Unlock()
	if !blockRewrite {
		return func() {}
	}
	if err := os.Mkdir(path+".tmp", 0o700); err != nil {
		t.Fatal(err)
	}
	return func() {
		if err := os.Remove(path + ".tmp"); err != nil {
			t.Fatal(err)
		}
	}
}

// wantOutage marks the test failed unless r is the error of a failed log: one that callers
// treat as a dependency outage (503 with Retry-After), as they treat an unreachable Redis.
func wantOutage(t *testing.T, what string, r any) {
	t.Helper()
	err, isErr := r.(error)
	if !isErr {
		t.Errorf("%s answered %v after the log failed, want a TRYAGAIN error", what, r)
	} else if !strings.HasPrefix(err.Error(), "TRYAGAIN ") || !apperr.DependencyDown(err) {
		t.Errorf("%s answered %q, want a TRYAGAIN error that apperr.DependencyDown reads as an outage", what, err)
	}
}

// Once a write to the log fails (a full or failing disk), the store fails closed: the write
// whose record was lost answers an error instead of OK, later writes are refused without
// running, reads go on, the failure is logged once, and Close reports it. A restart then
// finds what callers were told: the refused sign-out (DEL) did not happen, and nothing that
// was answered OK is missing. Before, the DEL answered 1 and the session came back after the
// restart.
func TestLogWriteFailureRefusesWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kv.aof")
	s, lines := openLogged(t, path)
	do(s, "SET", "sess:victim", "usr_1", "EX", "3600")
	do(s, "SET", "sess:other", "usr_2", "EX", "3600")
	unblock := failLog(t, s, path, true)

	wantOutage(t, "DEL sess:victim", do(s, "DEL", "sess:victim"))
	wantOutage(t, "SET new", do(s, "SET", "new", "v"))
	if r := do(s, "GET", "new"); r != nil {
		t.Errorf("GET new = %q: a refused SET ran", r)
	}
	if r, _ := do(s, "GET", "sess:other").([]byte); string(r) != "usr_2" {
		t.Errorf("GET sess:other = %q after the log failed, want usr_2 (reads go on)", r)
	}
	tx := s.DoAll([][][]byte{{[]byte("GET"), []byte("sess:other")}, {[]byte("INCR"), []byte("rl:x")}})
	for i, r := range tx {
		wantOutage(t, fmt.Sprintf("MULTI GET, INCR: reply %d", i), r)
	}
	if r := do(s, "EXISTS", "rl:x"); r != any(int64(0)) {
		t.Error("a refused transaction ran")
	}
	if n := lines.count("writing its log failed"); n != 1 {
		t.Errorf("the log failure was logged %d times, want once", n)
	}

	if err := s.Close(); err == nil {
		t.Error("Close returned nil although the log failed and could not be rewritten")
	}
	unblock()
	r, err := Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if do(r, "EXISTS", "sess:victim") != any(int64(1)) || do(r, "EXISTS", "sess:other") != any(int64(1)) {
		t.Error("after the restart, a key written before the failure is missing")
	}
	if do(r, "EXISTS", "new") != any(int64(0)) {
		t.Error("after the restart, a write that was refused is there")
	}
}

// After the log failed, PING answers an error, through the Redis protocol as go-redis sends
// it, so /readyz reports the store unavailable; writes through go-redis fail the same way,
// as an outage, and reads still answer.
func TestLogFailureFailsPing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kv.aof")
	s, _ := openLogged(t, path)
	defer s.Close()
	srv := Serve(s)
	defer srv.Close()
	c := redis.NewClient(&redis.Options{Addr: "embedded", Dialer: srv.Dial, Protocol: 2, DisableIdentity: true})
	defer c.Close()
	ctx := context.Background()
	for _, k := range []string{"sess:a", "sess:b"} {
		if err := c.Set(ctx, k, "usr_1", time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING before the failure: %v", err)
	}
	failLog(t, s, path, true)

	if n, err := c.Del(ctx, "sess:a").Result(); err == nil || !apperr.DependencyDown(err) {
		t.Errorf("DEL after the log failed = %d, %v; want an error read as an outage", n, err)
	}
	if err := c.Ping(ctx).Err(); err == nil || !apperr.DependencyDown(err) {
		t.Errorf("PING after the log failed = %v, want an error read as an outage", err)
	}
	if v, err := c.Get(ctx, "sess:b").Result(); err != nil {
		t.Errorf("GET after the log failed = %q, %v; reads go on", v, err)
	}
}

// A failed log is rewritten from memory when the disk has room again, without a restart: the
// rewrite fails while the disk is still full (writes stay refused), then succeeds, and writes
// and PING answer again. The new log holds what memory held, which is not the write whose
// record was lost: it answered an error and was undone.
func TestLogRecoversWithoutRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kv.aof")
	s, lines := openLogged(t, path)
	do(s, "SET", "sess:victim", "usr_1", "EX", "3600")
	unblock := failLog(t, s, path, true)
	wantOutage(t, "DEL sess:victim", do(s, "DEL", "sess:victim"))

	s.mu.Lock()
	err := s.log.recover(s)
	s.mu.Unlock()
	if err == nil {
		t.Fatal("the log was rewritten although the new file could not be written")
	}
	wantOutage(t, "PING while the disk is still full", do(s, "PING"))

	unblock()
	s.mu.Lock()
	err = s.log.recover(s)
	s.mu.Unlock()
	if err != nil {
		t.Fatalf("rewriting the log once the disk has room: %v", err)
	}
	if r := do(s, "PING"); r != any(status("PONG")) {
		t.Fatalf("PING after the recovery = %v, want PONG", r)
	}
	if r := do(s, "SET", "after", "v"); r != any(ok) {
		t.Fatalf("SET after the recovery = %v, want OK", r)
	}
	if n := lines.count("its log is written again"); n != 1 {
		t.Fatalf("the recovery was logged %d times, want once", n)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if do(r, "EXISTS", "sess:victim") != any(int64(1)) || do(r, "EXISTS", "after") != any(int64(1)) {
		t.Fatal("after the restart, the log does not hold what memory held at the recovery and after it")
	}
}

// A log that failed while running is rewritten at Close when the disk has room again, so a
// shutdown keeps what memory held (not the DEL that failed: it was undone), and Close reports
// no error.
func TestLogRecoversAtClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kv.aof")
	s, _ := openLogged(t, path)
	do(s, "SET", "sess:victim", "usr_1", "EX", "3600")
	do(s, "SET", "sess:other", "usr_2", "EX", "3600")
	unblock := failLog(t, s, path, true)
	wantOutage(t, "DEL sess:victim", do(s, "DEL", "sess:victim"))
	unblock()
	if err := s.Close(); err != nil {
		t.Errorf("Close once the disk has room: %v", err)
	}
	r, err := Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if do(r, "EXISTS", "sess:victim", "sess:other") != any(int64(2)) {
		t.Error("after the restart, the log does not hold what memory held at Close")
	}
}

// An fsync that fails (EIO: the kernel may have dropped the pages it could not write) fails
// the log as a write does: writes are refused until the log is rewritten.
func TestLogFsyncFailureRefusesWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kv.aof")
	s, _ := openLogged(t, path)
	defer s.Close()
	do(s, "SET", "k", "v")
	failLog(t, s, path, true)
	s.mu.Lock()
	s.log.sync()
	s.mu.Unlock()
	wantOutage(t, "PING after a failed fsync", do(s, "PING"))
	wantOutage(t, "SET after a failed fsync", do(s, "SET", "k", "w"))
	if r, _ := do(s, "GET", "k").([]byte); string(r) != "v" {
		t.Fatalf("GET k = %q, want v", r)
	}
}

// writeLog writes a log of the string keys k0 … k9, k9 written last, and returns its bytes.
func writeLog(t *testing.T, path string) []byte {
	t.Helper()
	s, err := Open(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		do(s, "SET", fmt.Sprintf("k%d", i), "value", "EX", "3600")
	}
	do(s, "DEL", "k3")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// frameAt is the offset of the frame holding the record that starts at rec in log b.
func frameAt(t *testing.T, b []byte, rec int) int {
	t.Helper()
	for off := len(aofHeader); off < len(b); {
		end := off + frameHead + int(binary.LittleEndian.Uint32(b[off:]))
		if rec < end {
			return off
		}
		off = end
	}
	t.Fatalf("no frame holds byte %d", rec)
	return 0
}

// unframed is log b (version 3) written as version 1 or 2 was, under header: the records of
// its frames one after the other, with no heads.
func unframed(t *testing.T, b []byte, header string) []byte {
	t.Helper()
	if !bytes.HasPrefix(b, []byte(aofHeader)) {
		t.Fatalf("not a version 3 log: %q", b[:min(len(b), len(aofHeader))])
	}
	out := []byte(header)
	for off := len(aofHeader); off < len(b); {
		end := off + frameHead + int(binary.LittleEndian.Uint32(b[off:]))
		out = append(out, b[off+frameHead:end]...)
		off = end
	}
	return out
}

// wantDamagedAt opens the log at path, which holds b, and fails t unless Open refuses it as
// damaged at byte offset, naming the file and what to do, and leaves the file untouched.
func wantDamagedAt(t *testing.T, path string, b []byte, offset int) {
	t.Helper()
	s, err := Open(Options{Path: path, Log: quiet})
	if err == nil {
		s.Close()
		t.Fatal("a log damaged in the middle opened")
	}
	for _, want := range []string{path, fmt.Sprintf("damaged at byte %d of %d", offset, len(b)), "Move the file aside"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, b) {
		t.Fatal("the damaged log was changed")
	}
	if _, err := os.Stat(path + ".tmp"); err == nil {
		t.Fatal("a compaction of the damaged log was started")
	}
}

// A log damaged before its end (a record no write could have left, with more after it) does
// not open: replaying the records before the damage would bring back the keys deleted after
// it, and compacting would make that final. The error names the file and the offset of the
// damaged frame, and the file is left byte for byte as it was. Before, the store opened with
// everything after the damage dropped.
func TestLogDamagedBeforeItsEndDoesNotOpen(t *testing.T) {
	for _, tc := range []struct {
		name string
		at   int // the damaged byte, from the start of k5's record
	}{
		{"unknown record type", 0},
		{"unknown value type", 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "kv.aof")
			b := writeLog(t, path)
			rec := bytes.Index(b, []byte{opPut, 2, 'k', '5'})
			if rec < 0 {
				t.Fatal("no record of k5 in the log")
			}
			b[rec+tc.at] = 0x7f
			os.WriteFile(path, b, 0o600)
			wantDamagedAt(t, path, b, frameAt(t, b, rec))
		})
	}
}

// Damage that still reads as records, in a frame with more after it, is caught by the
// frame's checksums and stops Open as any other damage does (naming the frame's offset, the
// file untouched). Before the checksums, a changed byte of a key or a value loaded silently
// (k5 holding "Xalue", or k5 gone and its value under another key), and a length made to run
// past the end of the file read as a torn last record: the store opened without k5 … k9 and
// with k3, which had been deleted after them, back.
func TestLogChecksumsCatchDamageInTheMiddle(t *testing.T) {
	for _, tc := range []struct {
		name string
		at   func(b []byte, rec int) int // the damaged byte, given k5's record at rec
		to   byte
	}{
		{"a byte of a value", func(b []byte, rec int) int { return rec + bytes.Index(b[rec:], []byte("value")) }, 'X'},
		{"a byte of a key", func(b []byte, rec int) int { return rec + 3 }, '9'},
		{"a length running past the end", func(b []byte, rec int) int { return rec + bytes.Index(b[rec:], []byte("value")) - 1 }, 0x7f},
		{"the length of a frame", func(b []byte, rec int) int { return rec - frameHead }, 0xff},
		{"the checksum of a frame's records", func(b []byte, rec int) int { return rec - frameHead + 4 }, 0},
		{"the checksum of a frame's head", func(b []byte, rec int) int { return rec - 1 }, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "kv.aof")
			b := writeLog(t, path)
			rec := bytes.Index(b, []byte{opPut, 2, 'k', '5'})
			if rec < 0 {
				t.Fatal("no record of k5 in the log")
			}
			at := tc.at(b, rec)
			if b[at] == tc.to {
				b[at]++
			} else {
				b[at] = tc.to
			}
			os.WriteFile(path, b, 0o600)
			wantDamagedAt(t, path, b, rec-frameHead)
		})
	}
}

// The end of a log that a crash left unfinished is dropped, logged with its offset, and the
// store opens with every frame before it: the file cut anywhere inside its last two frames
// (head or records), the last frame's records changed or partly zeros, or zeros after the
// last frame (a file system that extended the file but had not written it). Before the
// checksums, zeros read as deletes of the key "" and a changed last record loaded as it was
// (deleting k4 instead of k3).
func TestLogTornLastRecordIsDropped(t *testing.T) {
	dir := t.TempDir()
	b := writeLog(t, filepath.Join(dir, "full.aof"))
	// The last two frames: k9's put, then k3's delete.
	k9 := frameAt(t, b, bytes.Index(b, []byte{opPut, 2, 'k', '9'}))
	k3 := frameAt(t, b, len(b)-1)
	if !bytes.HasSuffix(b, []byte{opDel, 2, 'k', '3'}) || k3 != len(b)-frameHead-4 {
		t.Fatal("the log does not end with k9's put and k3's delete")
	}
	open := func(t *testing.T, what string, log []byte, tornAt int, want string) {
		t.Helper()
		path := filepath.Join(t.TempDir(), "kv.aof")
		os.WriteFile(path, log, 0o600)
		s, lines := openLogged(t, path)
		defer s.Close()
		var got []string
		for _, k := range []string{"k0", "k3", "k4", "k8", "k9"} {
			if do(s, "EXISTS", k) == any(int64(1)) {
				got = append(got, k)
			}
		}
		if strings.Join(got, ",") != want {
			t.Errorf("%s: the store opened with %v of k0, k3, k4, k8, k9, want %s", what, got, want)
		}
		if n := lines.count(fmt.Sprintf("dropped a torn last record of its log (a crash while it was written)\" path=%s offset=%d bytes=%d", path, tornAt, len(log)-tornAt)); n != 1 {
			t.Errorf("%s: the torn end at byte %d was logged %d times, want once", what, tornAt, n)
		}
	}
	for cut := k9 + 1; cut < len(b); cut++ {
		if cut < k3 {
			open(t, fmt.Sprintf("cut at byte %d of %d", cut, len(b)), b[:cut], k9, "k0,k3,k4,k8")
		} else if cut > k3 {
			open(t, fmt.Sprintf("cut at byte %d of %d", cut, len(b)), b[:cut], k3, "k0,k3,k4,k8,k9")
		}
	}
	changed := bytes.Clone(b)
	changed[len(b)-1] = '4' // DEL k4
	open(t, "the last frame's records changed", changed, k3, "k0,k3,k4,k8,k9")
	zeroed := bytes.Clone(b)
	clear(zeroed[len(b)-2:])
	open(t, "the end of the last frame zeros", zeroed, k3, "k0,k3,k4,k8,k9")
	open(t, "zeros after the last frame", append(bytes.Clone(b), make([]byte, 5000)...), len(b), "k0,k4,k8,k9")
	open(t, "zeros after a torn frame", append(bytes.Clone(zeroed), make([]byte, 100)...), k3, "k0,k3,k4,k8,k9")
}

// A log written before the checksums (version 2: records with no frames) loads as it did, its
// deltas, deletes and transaction included, and the open rewrites it as version 3, which the
// next open reads the same; a version 2 log cut inside its last record still opens without
// it. testdata/kv-v2.aof was written by the store of version 2 with its clock at
// 2026-01-01T00:00:00Z: SET EX, SET, HSET + PEXPIRE (a delta), SADD twice + PEXPIRE (deltas),
// SREM, SET + DEL, INCR three times, SET PX 500 (expired at the open), and a MULTI of a SET
// and an SADD.
func TestLogVersion2IsReadAndUpgraded(t *testing.T) {
	written := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := func() time.Time { return written.Add(time.Second) }
	v2, err := os.ReadFile("testdata/kv-v2.aof")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(v2, []byte(aofHeaderV2)) {
		t.Fatalf("testdata/kv-v2.aof starts %q", v2[:len(aofHeaderV2)])
	}
	exp := func(d time.Duration) string { return "exp=" + strconv.FormatInt(written.Add(d).UnixMilli(), 10) }
	want := strings.Join([]string{
		`fam:1: set ["a" "c"] ` + exp(2*time.Hour),
		`h:1: hash ["seen=5" "u=usr_1"] ` + exp(time.Hour),
		`plain: string "v" exp=0`,
		`rl:x: string "3" exp=0`,
		`sess:a: string "usr_1" ` + exp(time.Hour),
		`tx:1: string "a" exp=0`,
		`tx:set: set ["m"] exp=0`,
	}, "\n")
	path := filepath.Join(t.TempDir(), "kv.aof")
	os.WriteFile(path, v2, 0o600)
	for _, what := range []string{"the version 2 log", "the log it was rewritten as"} {
		s, err := Open(Options{Path: path, Now: now, Log: quiet})
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if got := memory(t, s); got != want {
			t.Errorf("%s holds\n%s\nwant\n%s", what, got, want)
		}
		s.Close()
		if b, _ := os.ReadFile(path); !bytes.HasPrefix(b, []byte(aofHeader)) {
			t.Fatalf("after opening %s, the log starts %q, want the version 4 header", what, b[:min(len(b), 15)])
		}
	}

	os.WriteFile(path, v2[:len(v2)-2], 0o600) // inside tx:set's delta
	s, lines := openLogged(t, path)
	defer s.Close()
	if do(s, "EXISTS", "tx:set") != any(int64(0)) || do(s, "EXISTS", "tx:1") != any(int64(1)) || lines.count("dropped a torn last record") != 1 {
		t.Error("a version 2 log cut inside its last record did not open without that record alone")
	}
}
