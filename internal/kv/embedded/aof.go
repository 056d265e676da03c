package embedded

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// The log is a header followed by frames, one per commit (the writes of one command or one
// MULTI … EXEC; compaction packs many keys into each):
//
//	frame: uint32 n, uint32 CRC-32C of the records, uint32 CRC-32C of those 8 bytes, n bytes of records
//
// (little-endian; Castagnoli). A record is the whole state of one key after a write, or a
// delta:
//
//	put:   1, uvarint len(key), key, kind, varint deadline (Unix ms, 0: none), payload
//	del:   0, uvarint len(key), key
//	delta: 2, uvarint len(key), key, varint deadline, uvarint count, members
//
// where the payload of a string is uvarint len + bytes, of a set uvarint count + members,
// of a hash uvarint count + field/value pairs (each uvarint len + bytes). A delta adds its
// members (each uvarint len + bytes) to the key's set (creating it when count > 0 and the key
// is missing) and sets its deadline: it records SADD and EXPIRE without rewriting the whole
// set. Replaying the frames in order rebuilds the data. A frame the file ends inside of, or
// that fails its checksum with nothing but zero bytes after it, is the torn end of a crash
// mid-write and is dropped whole (so a transaction is never replayed in part); any other
// damage stops Open (corruptLogError). The head has a checksum of its own so that a damaged
// length is told from a frame cut off by the end of the file.
//
// Version 4 is version 3 written by a store whose SADD records a set it creates whole: a
// delta record then always adds to a set that was live when it was written. Version 3 logs
// (the same frames), and version 1 and 2 logs (records with no frames, and in version 1 no
// deltas), read without checksums, may hold a delta that created a set anew after the one
// before it expired (replayBefore4); Open compacts what it read into a version 4 log.
const (
	aofHeader   = "LOGINSIGN-KV 4\n"
	aofHeaderV3 = "LOGINSIGN-KV 3\n"
	aofHeaderV2 = "LOGINSIGN-KV 2\n"
	aofHeaderV1 = "LOGINSIGN-KV 1\n"
)

// frameHead is the size of a frame's head: the length and the two checksums.
const frameHead = 12

// frameCompacted is the size past which compaction ends a frame and starts the next.
const frameCompacted = 64 << 10

// castagnoli is the CRC-32C table (the polynomial with hardware support on amd64 and arm64).
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// seal fills the head of frame (frameHead bytes, then the records).
func seal(frame []byte) {
	binary.LittleEndian.PutUint32(frame[0:], uint32(len(frame)-frameHead))
	binary.LittleEndian.PutUint32(frame[4:], crc32.Checksum(frame[frameHead:], castagnoli))
	binary.LittleEndian.PutUint32(frame[8:], crc32.Checksum(frame[:8], castagnoli))
}

// compactAt is the least log size that is compacted while running (when it also exceeds four
// times the live data); tests lower it.
var compactAt int64 = 64 << 20

type aof struct {
	path string
	log  *slog.Logger
	f    *os.File
	size int64
	buf  []byte // the frame of the commit being written: frameHead bytes, then its records
	// err is the write or fsync that failed (a *logFailedError), nil while the log is
	// healthy. While it is set the store refuses writes and PING, and the run loop tries to
	// rewrite the log from memory (recover) at retryAt, backing off by retryEvery.
	err        error
	retryAt    time.Time
	retryEvery time.Duration
	// compactAfter postpones compaction after one failed (the disk is nearly full): the old
	// log is intact and still appended to, so there is no hurry to retry on every write.
	compactAfter int64
	// rw is the background rewrite under way (rewrite.go), nil when none.
	rw *rewrite
}

// Recovery is retried first a second after the failure, then at doubling intervals up to a
// minute: each try rewrites all the data while holding the store's lock, which must not happen
// every second for as long as a disk stays full.
const (
	retryFirst = time.Second
	retryMax   = time.Minute
)

// logFailedError is the answer to the writes that the store refuses while its log cannot be
// written. It starts with TRYAGAIN, one of the Redis error codes that apperr.DependencyDown
// reads as an outage, so a route answers 503 with Retry-After, as when a Redis server is
// unreachable, rather than 500.
type logFailedError struct {
	path string
	err  error
}

func (e *logFailedError) Error() string {
	return "TRYAGAIN embedded store: writing its log " + e.path + " failed (" + e.err.Error() +
		"); writes are refused until it is written again"
}

func (e *logFailedError) Unwrap() error { return e.err }

// openAOF loads path into s, compacts it, and opens it for appending. A log damaged before
// its end is an error, and the file is left as it is; a compaction that fails (a full disk)
// leaves the log failed (l.err), as a write that fails does.
func openAOF(path string, s *Store) (*aof, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("embedded store: %w", err)
	}
	l := &aof{path: path, log: s.opt.Log, buf: make([]byte, frameHead, 4096)}
	if f, err := os.Open(path); err == nil {
		err = l.load(f, s)
		f.Close()
		if err != nil {
			return nil, err
		}
		s.dropExpired()
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("embedded store: %w", err)
	}
	removeRewrites(path)
	if err := l.compact(s); err != nil {
		// The log was read whole and is left as it is: the store opens as it goes on when a
		// write fails (a full disk), with writes and PING refused and reads served until the
		// log is rewritten, tried again in the background, rather than not at all.
		l.fail(err)
	}
	return l, nil
}

// corruptLogError is a log that cannot be read past offset although it goes on: replaying the
// records before offset alone would bring back the keys deleted after it (signed-out
// sessions, revoked tokens, used codes), and compacting would erase those deletes for good.
type corruptLogError struct {
	path         string
	offset, size int64
	err          error
}

func (e *corruptLogError) Error() string {
	return fmt.Sprintf("embedded store: %s is damaged at byte %d of %d (%v); it is left as it is and the store "+
		"does not open, since replaying only the records before the damage would bring back keys deleted after it "+
		"(signed-out sessions, revoked tokens, used codes). Move the file aside to start with an empty store "+
		"(every session ends and users sign in again), or put back a copy from a backup",
		e.path, e.offset, e.size, e.err)
}

func (e *corruptLogError) Unwrap() error { return e.err }

// countingReader counts the bytes read from r, for the offsets of load's messages.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}

// load replays the log in f into s, keys already expired included (openAOF then drops them,
// dropExpired). A version 3 or 4 log is read frame by frame (loadFrames), an older one record by
// record (loadRecords).
func (l *aof) load(f *os.File, s *Store) error {
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("embedded store: %w", err)
	}
	cr := &countingReader{r: f}
	r := bufio.NewReaderSize(cr, 1<<20)
	head := make([]byte, len(aofHeader))
	if n, err := io.ReadFull(r, head); err != nil {
		if err != io.EOF && err != io.ErrUnexpectedEOF {
			// Not a short file: read as an empty log, it would be compacted into one.
			return fmt.Errorf("embedded store: reading %s: %w", l.path, err)
		}
		// A file shorter than the header: empty, or a crash while it was first written.
		for _, h := range []string{aofHeader, aofHeaderV3, aofHeaderV2, aofHeaderV1} {
			if strings.HasPrefix(h, string(head[:n])) {
				return nil
			}
		}
		return fmt.Errorf("embedded store: %s is not an embedded-store log", l.path)
	}
	before4 := func(rec logRecord) { s.replayBefore4(rec, s.nowMs()) }
	switch string(head) {
	case aofHeader:
		return l.loadFrames(r, st.Size(), s.replay)
	case aofHeaderV3:
		return l.loadFrames(r, st.Size(), before4)
	case aofHeaderV2, aofHeaderV1:
		// "3" is "1" or "2" but for one bit: a version 3 log whose header lost one would have
		// its frames' heads read as records, and load whatever they happen to spell.
		if fh, err := r.Peek(frameHead); err == nil && crc32.Checksum(fh[:8], castagnoli) == binary.LittleEndian.Uint32(fh[8:]) {
			return &corruptLogError{path: l.path, offset: int64(len(aofHeader) - 2), size: st.Size(),
				err: errors.New("its header names version 1 or 2, but a frame of version 3 or 4 follows")}
		}
		return l.loadRecords(r, func() int64 { return cr.n - int64(r.Buffered()) }, st.Size(), before4)
	}
	return fmt.Errorf("embedded store: %s is not an embedded-store log", l.path)
}

// loadFrames replays the frames of a version 3 or 4 log with replay, r positioned after the
// header, of a file of size bytes. A frame cut short by the end of the file, or failing a checksum with only
// zero bytes after it (a crash mid-write: a file system may leave the end of a file it
// extended as zeros), is dropped whole and logged; a frame failing a checksum with anything
// else after it is a *corruptLogError.
func (l *aof) loadFrames(r *bufio.Reader, size int64, replay func(logRecord)) error {
	head := make([]byte, frameHead)
	var body []byte
	for off := int64(len(aofHeader)); ; {
		if _, err := io.ReadFull(r, head); err == io.EOF {
			return nil
		} else if err == io.ErrUnexpectedEOF {
			return l.torn(off, size)
		} else if err != nil {
			return fmt.Errorf("embedded store: reading %s: %w", l.path, err)
		}
		if crc32.Checksum(head[:8], castagnoli) != binary.LittleEndian.Uint32(head[8:]) {
			if onlyZerosLeft(r) {
				return l.torn(off, size)
			}
			return &corruptLogError{path: l.path, offset: off, size: size, err: errors.New("the head of the frame there fails its checksum")}
		}
		n := int64(binary.LittleEndian.Uint32(head))
		end := off + frameHead + n
		if end > size {
			return l.torn(off, size)
		}
		if int64(cap(body)) < n {
			body = make([]byte, n)
		}
		body = body[:n]
		if _, err := io.ReadFull(r, body); err != nil {
			return fmt.Errorf("embedded store: reading %s: %w", l.path, err)
		}
		if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(head[4:]) {
			if onlyZerosLeft(r) {
				return l.torn(off, size)
			}
			return &corruptLogError{path: l.path, offset: off, size: size, err: fmt.Errorf("the %d bytes of records of the frame there fail their checksum", n)}
		}
		br := bytes.NewReader(body)
		for br.Len() > 0 {
			rec, err := readRecord(br)
			if err != nil {
				// The frame is as it was written: its writer wrote what this reader cannot read.
				return &corruptLogError{path: l.path, offset: off, size: size, err: fmt.Errorf("a record of the frame there: %w", err)}
			}
			replay(rec)
		}
		off = end
	}
}

// torn logs that the end of the log, from offset to end (its last frame or record, and any
// zeros after it), was dropped.
func (l *aof) torn(offset, end int64) error {
	l.log.Warn("embedded store: dropped a torn last record of its log (a crash while it was written)",
		"path", l.path, "offset", offset, "bytes", end-offset)
	return nil
}

// onlyZeros reports whether b holds zero bytes only.
func onlyZeros(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// onlyZerosLeft reports whether r holds nothing but zero bytes up to its end.
func onlyZerosLeft(r *bufio.Reader) bool {
	for {
		b, err := r.Peek(r.Size())
		if !onlyZeros(b) {
			return false
		}
		if err != nil {
			return err == io.EOF
		}
		r.Discard(len(b))
	}
}

// loadRecords replays the records of a version 1 or 2 log (no frames, no checksums), r
// positioned after the header; offset is r's position in the file. A record cut short by the
// end of the file (a crash mid-write) is dropped; any other record that cannot be read is a
// *corruptLogError.
func (l *aof) loadRecords(r *bufio.Reader, offset func() int64, size int64, replay func(logRecord)) error {
	for {
		start := offset()
		rec, err := readRecord(r)
		switch {
		case err == io.EOF:
			return nil
		case err == io.ErrUnexpectedEOF:
			return l.torn(start, offset())
		case err != nil:
			return &corruptLogError{path: l.path, offset: start, size: size, err: err}
		}
		replay(rec)
	}
}

// replay applies one record read from the log to s. A key already expired is kept until the
// whole log is read (dropExpired): a later delta record may extend its TTL. Such a delta was
// written while the key was live (EXPIRE of a missing key writes nothing, and SADD that
// creates a set records its whole state), so it applies to the record before it whatever
// that record's deadline: a session touched with HSET, then EXPIRE, in two commands, has an
// HSET record carrying its old deadline. Dropping that record at once, as before, lost a
// session live at the restart (and a try counter, rl:wta:, extended by a resend).
func (s *Store) replay(rec logRecord) {
	old := s.m[rec.key]
	e := rec.e
	if rec.op == opDelta {
		if old == nil && len(rec.add) == 0 {
			return
		}
		e = old
		if e == nil || e.kind != kindSet && len(rec.add) > 0 {
			e = &entry{key: rec.key, kind: kindSet, set: make(map[string]struct{}, len(rec.add))}
		}
		for _, m := range rec.add {
			e.set[m] = struct{}{}
		}
		e.exp = rec.exp
	}
	if old != nil {
		s.remove(old)
	}
	if e == nil {
		return
	}
	e.hidx, e.kept, e.first, e.capped = -1, s.kept(rec.key), s.evictFirst(rec.key), s.capped(rec.key)
	e.size = e.measure()
	s.m[rec.key] = e
	s.count(e)
	s.setExp(e, e.exp)
}

// replayBefore4 is replay for a log of version 3 or older, at the time now. Those versions'
// SADD recorded a set it created as a delta, even where the log held the same key's set from
// before, expired since: replayed onto it, the new set took back the old members. So a
// delta that adds members to a set whose deadline has passed by now starts a new set, as the
// reader of those versions did (it dropped an expired set at once). A delta with no members
// (an EXPIRE, written only for a live key) still extends what comes before it.
func (s *Store) replayBefore4(rec logRecord, now int64) {
	if old := s.m[rec.key]; rec.op == opDelta && len(rec.add) > 0 && old != nil && old.exp != 0 && old.exp <= now {
		s.remove(old)
	}
	s.replay(rec)
}

// dropExpired deletes the keys whose deadline has passed, once the log is loaded (replay).
func (s *Store) dropExpired() {
	now := s.nowMs()
	for _, e := range s.m {
		if e.exp != 0 && e.exp <= now {
			s.remove(e)
		}
	}
}

const (
	opDel   byte = 0
	opPut   byte = 1
	opDelta byte = 2
)

// logRecord is one record read back: e is the state of a put (nil for a del); exp and add
// are the deadline and members of a delta.
type logRecord struct {
	op  byte
	key string
	e   *entry
	exp int64
	add []string
}

// byteReader is what records are read from: the file (a version 1 or 2 log) or a frame.
type byteReader interface {
	io.Reader
	io.ByteReader
}

// readRecord reads one record: io.EOF at the end of the log, io.ErrUnexpectedEOF for a record
// the log ends inside of (torn), another error for bytes that no record starts or goes on with.
func readRecord(r byteReader) (logRecord, error) {
	op, err := r.ReadByte()
	if err != nil {
		return logRecord{}, err
	}
	rec, err := readRecordAfter(r, op)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return rec, err
}

// readRecordAfter reads the rest of a record whose first byte, op, has been read.
func readRecordAfter(r byteReader, op byte) (logRecord, error) {
	if op != opDel && op != opPut && op != opDelta {
		return logRecord{}, fmt.Errorf("unknown record type %d", op)
	}
	key, err := readBytes(r)
	if err != nil {
		return logRecord{}, err
	}
	rec := logRecord{op: op, key: string(key)}
	switch op {
	case opDel:
		return rec, nil
	case opDelta:
		if rec.exp, err = binary.ReadVarint(r); err != nil {
			return logRecord{}, err
		}
		n, err := readCount(r)
		if err != nil {
			return logRecord{}, err
		}
		for range n {
			m, err := readBytes(r)
			if err != nil {
				return logRecord{}, err
			}
			rec.add = append(rec.add, string(m))
		}
		return rec, nil
	}
	kind, err := r.ReadByte()
	if err != nil {
		return logRecord{}, err
	}
	exp, err := binary.ReadVarint(r)
	if err != nil {
		return logRecord{}, err
	}
	e := &entry{key: string(key), kind: kind, exp: exp}
	switch kind {
	case kindString:
		if e.str, err = readBytes(r); err != nil {
			return logRecord{}, err
		}
	case kindSet, kindHash:
		n, err := readCount(r)
		if err != nil {
			return logRecord{}, err
		}
		// The count is only what the log claims until its members are read: a damaged one
		// must not size a map of 16 million.
		if kind == kindSet {
			e.set = make(map[string]struct{}, min(n, countHint))
		} else {
			e.hash = make(map[string][]byte, min(n, countHint))
		}
		for range n {
			m, err := readBytes(r)
			if err != nil {
				return logRecord{}, err
			}
			if kind == kindSet {
				e.set[string(m)] = struct{}{}
				continue
			}
			v, err := readBytes(r)
			if err != nil {
				return logRecord{}, err
			}
			e.hash[string(m)] = v
		}
	default:
		return logRecord{}, fmt.Errorf("unknown value type %d", kind)
	}
	rec.e = e
	return rec, nil
}

// countHint is the most members a set or hash read from the log is given room for before they
// are read.
const countHint = 1 << 10

// The limits of what the log holds, which a write may not pass (Store.exec refuses it) since
// the log's reader takes a record past them for damage and the store would not open: the
// length of a key, value, set member or hash field (Redis's proto-max-bulk-len), and the
// number of members of a set or fields of a hash.
const (
	maxLength  = 512 << 20
	maxMembers = 1 << 24
)

// limitLength and limitMembers are maxLength and maxMembers, which the reader and the writer
// both go by; tests lower them so as not to need gigabytes.
var limitLength, limitMembers uint64 = maxLength, maxMembers

// maxRecord bounds the estimated size (entry.size, more than its record's) of a set or hash:
// compaction writes a key's record whole into one frame, whose length is 32 bits, after at
// most frameCompacted bytes of other records. (A commit's frame is bounded by aof.write.)
const maxRecord = math.MaxUint32 - 2*frameCompacted

// limitRecord is maxRecord; tests lower it.
var limitRecord int64 = maxRecord

// readCount reads the member count of a set, a hash or a delta.
func readCount(r byteReader) (uint64, error) {
	n, err := binary.ReadUvarint(r)
	if err == nil && n > limitMembers {
		err = fmt.Errorf("member count %d out of range", n)
	}
	return n, err
}

// readBytes reads a length and that many bytes. The end of the log inside it is io.EOF or
// io.ErrUnexpectedEOF, as readRecord expects. The bytes are read a chunk at a time, each at
// most as long as those read before it: a damaged length allocates at most twice what the log
// holds, not the 512 MiB it may claim.
func readBytes(r byteReader) ([]byte, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, err
	}
	if n > limitLength {
		return nil, fmt.Errorf("length %d out of range", n)
	}
	b := make([]byte, min(n, 64<<10))
	_, err = io.ReadFull(r, b)
	for err == nil && uint64(len(b)) < n {
		read := len(b)
		b = append(b, make([]byte, min(n-uint64(read), uint64(read)))...)
		_, err = io.ReadFull(r, b[read:])
	}
	return b, err
}

// encode appends the record of key (e nil: deleted) to b.
func encode(b []byte, key string, e *entry) []byte {
	str := func(s string) { b = binary.AppendUvarint(b, uint64(len(s))); b = append(b, s...) }
	if e == nil {
		b = append(b, 0)
		str(key)
		return b
	}
	b = append(b, 1)
	str(key)
	b = append(b, e.kind)
	b = binary.AppendVarint(b, e.exp)
	switch e.kind {
	case kindString:
		str(string(e.str))
	case kindSet:
		b = binary.AppendUvarint(b, uint64(len(e.set)))
		for m := range e.set {
			str(m)
		}
	case kindHash:
		b = binary.AppendUvarint(b, uint64(len(e.hash)))
		for f, v := range e.hash {
			str(f)
			str(string(v))
		}
	}
	return b
}

// recordDelta adds a delta record to the commit: members added to the set key, its deadline
// exp.
func (l *aof) recordDelta(key string, exp int64, add []string) {
	b := append(l.buf, opDelta)
	b = binary.AppendUvarint(b, uint64(len(key)))
	b = append(b, key...)
	b = binary.AppendVarint(b, exp)
	b = binary.AppendUvarint(b, uint64(len(add)))
	for _, m := range add {
		b = binary.AppendUvarint(b, uint64(len(m)))
		b = append(b, m...)
	}
	l.buf = b
}

// record adds the state of key to the commit.
func (l *aof) record(key string, e *entry) {
	l.buf = encode(l.buf, key, e)
}

// write appends the frame of the commit to the file, in one write: a write answered OK is
// in the operating system's hands (a crash of the process loses none; fsync, every second,
// covers a crash of the machine). When it fails, the file is cut back to its last whole
// commit, so that a restart replays none of this one, and the log is failed.
func (l *aof) write() error {
	defer func() { l.buf = l.buf[:frameHead] }()
	if l.err != nil {
		return l.err
	}
	if len(l.buf) == frameHead {
		return nil
	}
	if int64(len(l.buf)-frameHead) > math.MaxUint32 {
		// Not a failure of the log: this commit alone is refused (and undone by the store).
		return fmt.Errorf("ERR embedded store: a commit of %d bytes of records is past the log's 4 GiB per commit", len(l.buf)-frameHead)
	}
	seal(l.buf)
	n, err := l.f.Write(l.buf)
	if err == nil {
		l.size += int64(n)
		if l.rw != nil {
			l.rw.pending = append(l.rw.pending, l.buf...)
		}
		return nil
	}
	if n > 0 {
		l.f.Truncate(l.size)
	}
	return l.fail(err)
}

// fail marks the log failed by err (a write or an fsync) and returns the error the store
// answers from then on. The first failure is logged; until recover succeeds, the store
// refuses writes and PING, so that nothing is answered OK that a restart would undo, and
// /readyz reports the store unavailable.
func (l *aof) fail(err error) error {
	if l.err != nil {
		return l.err
	}
	// The message names the log: the file's own name may be the compaction's temporary one.
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	l.err = &logFailedError{path: l.path, err: err}
	l.retryEvery = retryFirst
	l.retryAt = time.Time{} // the run loop sets it on its next tick
	l.log.Error("embedded store: writing its log failed; writes are refused and /readyz answers unavailable "+
		"until the log is rewritten, tried again at intervals of up to a minute (free disk space); "+
		"a restart before then starts from the log as it is, without the write that failed", "path", l.path, "err", err)
	return l.err
}

// sync fsyncs the log. An fsync that fails fails the log: Linux may have dropped the pages it
// could not write, so a later fsync of the same file proves nothing; recover rewrites the file.
func (l *aof) sync() {
	if l.err != nil {
		return
	}
	if err := syncFile(l.f); err != nil {
		l.fail(err)
	}
}

// syncFile is (*os.File).Sync; tests replace it.
var syncFile = (*os.File).Sync

// tick is the run loop's call, about once a second, s.mu held: it returns the log's file for
// the run loop to fsync without the lock (synced takes the result), or, once the log has
// failed, tries to recover when the retry is due and returns nil. An fsync of a second's
// writes takes as long as the disk makes it (seconds, on a loaded one), and under the lock
// every command, reads and PING included, waited for it, as Redis's everysec fsync does not.
func (l *aof) tick(s *Store, now time.Time) *os.File {
	switch {
	case l.err == nil:
		return l.f
	case l.retryAt.IsZero():
		l.retryAt = now.Add(l.retryEvery)
	case !now.Before(l.retryAt):
		if l.recover(s) != nil {
			l.retryEvery = min(2*l.retryEvery, retryMax)
			l.retryAt = now.Add(l.retryEvery)
		}
	}
	return nil
}

// synced takes the result of the fsync of f that tick returned, s.mu held: an error fails the
// log as sync does, unless f is no longer the log's file (a rewrite or a recovery put a new
// one in place, fsynced whole, and closed f).
func (l *aof) synced(f *os.File, err error) {
	if err != nil && f == l.f && l.err == nil {
		l.fail(err)
	}
}

// recover rewrites the log from the data in memory (compact) and, when that succeeds, lets
// writes in again. Memory holds every write answered OK, and not the one whose record failed
// (it was undone), so the new log misses nothing a caller was told, whatever the old one lost
// (a failed fsync may have dropped pages already written).
func (l *aof) recover(s *Store) error {
	if l.err == nil {
		return nil
	}
	l.stopRewrite() // its file misses what the failed log lost
	if err := l.compact(s); err != nil {
		return err
	}
	l.log.Warn("embedded store: its log is written again; writes are accepted", "path", l.path, "failure", l.err)
	l.err = nil
	return nil
}

// maybeCompact starts a background rewrite of the log (rewrite.go) when it outgrew the data:
// past compactAt and four times the length of the live keys' records (Store.logBytes; their
// memory, Store.bytes, is two to four times that, and made the rewrite start at 8 to 17 times).
// A compaction that fails leaves the log as it was, still written to; it is tried again when
// the log has grown by compactAt.
func (l *aof) maybeCompact(s *Store) {
	if l.rw == nil && l.size > compactAt && l.size > 4*s.logBytes && l.size > l.compactAfter {
		if err := l.startRewrite(s); err != nil {
			l.compactAfter = l.size + compactAt
			l.log.Warn("embedded store: compacting its log failed; it goes on growing", "path", l.path, "err", err)
		}
	}
}

// compact writes the live keys of s to a new log and puts it in place of the old one. When it
// fails, the new file is removed (it may be what filled the disk) and the old one is kept.
func (l *aof) compact(s *Store) (err error) {
	tmp := l.path + ".tmp"
	// A file already there (left by a copy, a restore, another program) is replaced, not
	// written into: its mode and owner would become the log's. (Unlink, not os.Remove, which
	// would remove an empty directory there too.)
	if err := syscall.Unlink(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("embedded store: removing %s: %w", tmp, err)
	}
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("embedded store: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	w := bufio.NewWriterSize(f, 1<<20)
	size := int64(len(aofHeader))
	w.WriteString(aofHeader)
	now := s.nowMs()
	frame := make([]byte, frameHead, frameCompacted+4096)
	flush := func() {
		if len(frame) > frameHead {
			seal(frame)
			w.Write(frame)
			size += int64(len(frame))
			frame = frame[:frameHead]
		}
	}
	for k, e := range s.m {
		if e.exp != 0 && e.exp <= now {
			continue
		}
		frame = encode(frame, k, e)
		if len(frame) >= frameCompacted {
			flush()
		}
	}
	flush()
	if err := w.Flush(); err != nil {
		return fmt.Errorf("embedded store: writing %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("embedded store: %w", err)
	}
	if err := os.Rename(tmp, l.path); err != nil {
		return fmt.Errorf("embedded store: %w", err)
	}
	if d, err := os.Open(filepath.Dir(l.path)); err == nil {
		d.Sync()
		d.Close()
	}
	if l.f != nil {
		l.f.Close()
	}
	l.f, l.size = f, size
	return nil
}

// close fsyncs and closes the log. A log that has failed is given a last try at recover, so
// that the writes held in memory reach the disk if it has room again. An error is logged as
// well as returned (the store's owner may have nobody to tell): the writes since the last
// good fsync are lost.
func (l *aof) close(s *Store) error {
	l.recover(s)
	err := l.err
	if err == nil {
		err = l.f.Sync()
	}
	if l.f == nil { // opened failed and never rewritten: nothing was written since the start
		l.log.Error("embedded store: closed without its log having been written since the start; writes were refused", "path", l.path, "err", err)
		return err
	}
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		l.log.Error("embedded store: closed without its log: the writes since the last fsync are lost", "path", l.path, "err", err)
	}
	return err
}
