package embedded

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// The log is a header followed by records, each the whole state of one key after a write or
// a delta:
//
//	put:   1, uvarint len(key), key, kind, varint deadline (Unix ms, 0: none), payload
//	del:   0, uvarint len(key), key
//	delta: 2, uvarint len(key), key, varint deadline, uvarint count, members
//
// where the payload of a string is uvarint len + bytes, of a set uvarint count + members,
// of a hash uvarint count + field/value pairs (each uvarint len + bytes). A delta adds its
// members (each uvarint len + bytes) to the key's set (creating it when count > 0 and the key
// is missing) and sets its deadline: it records SADD and EXPIRE without rewriting the whole
// set. Replaying the records in order rebuilds the data; a torn last record (a crash
// mid-write) is dropped. Version 1 logs (no delta records) are read as well.
const (
	aofHeader   = "LOGINSIGN-KV 2\n"
	aofHeaderV1 = "LOGINSIGN-KV 1\n"
)

// compactAt is the least log size that is compacted while running (when it also exceeds four
// times the live data).
const compactAt = 64 << 20

type aof struct {
	path string
	f    *os.File
	w    *bufio.Writer
	size int64
	buf  []byte
	err  error // the first write error; the log stops growing after it
}

// openAOF loads path into s, compacts it, and opens it for appending.
func openAOF(path string, s *Store) (*aof, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("embedded store: %w", err)
	}
	if f, err := os.Open(path); err == nil {
		err = load(bufio.NewReaderSize(f, 1<<20), s)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("embedded store: reading %s: %w", path, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("embedded store: %w", err)
	}
	l := &aof{path: path}
	if err := l.compact(s); err != nil {
		return nil, err
	}
	return l, nil
}

// load replays the records of r into s, dropping keys already expired.
func load(r *bufio.Reader, s *Store) error {
	head := make([]byte, len(aofHeader))
	if _, err := io.ReadFull(r, head); err != nil {
		if err == io.EOF {
			return nil // empty file
		}
		return nil // torn header: nothing was ever recorded
	}
	if string(head) != aofHeader && string(head) != aofHeaderV1 {
		return errors.New("not an embedded-store log")
	}
	now := s.nowMs()
	for {
		rec, err := readRecord(r)
		if err != nil {
			return nil // end of log, or a torn last record
		}
		old := s.m[rec.key]
		e := rec.e
		if rec.op == opDelta {
			if old == nil && len(rec.add) == 0 {
				continue
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
		if e == nil || (e.exp != 0 && e.exp <= now) {
			continue
		}
		e.hidx, e.kept = -1, s.kept(rec.key)
		e.size = e.measure()
		s.m[rec.key] = e
		s.bytes += e.size
		s.setExp(e, e.exp)
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

func readRecord(r *bufio.Reader) (logRecord, error) {
	op, err := r.ReadByte()
	if err != nil {
		return logRecord{}, err
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
		n, err := binary.ReadUvarint(r)
		if err != nil || n > 1<<24 {
			return logRecord{}, errors.New("bad count")
		}
		for range n {
			m, err := readBytes(r)
			if err != nil {
				return logRecord{}, err
			}
			rec.add = append(rec.add, string(m))
		}
		return rec, nil
	case opPut:
	default:
		return logRecord{}, errors.New("bad record")
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
		n, err := binary.ReadUvarint(r)
		if err != nil || n > 1<<24 {
			return logRecord{}, errors.New("bad count")
		}
		if kind == kindSet {
			e.set = make(map[string]struct{}, n)
		} else {
			e.hash = make(map[string][]byte, n)
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
		return logRecord{}, errors.New("bad kind")
	}
	rec.e = e
	return rec, nil
}

func readBytes(r *bufio.Reader) ([]byte, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil || n > 512<<20 {
		return nil, errors.New("bad length")
	}
	b := make([]byte, n)
	_, err = io.ReadFull(r, b)
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

// recordDelta appends a delta record: members added to the set key, its deadline exp.
func (l *aof) recordDelta(key string, exp int64, add []string) {
	if l.err != nil {
		return
	}
	b := append(l.buf[:0], opDelta)
	b = binary.AppendUvarint(b, uint64(len(key)))
	b = append(b, key...)
	b = binary.AppendVarint(b, exp)
	b = binary.AppendUvarint(b, uint64(len(add)))
	for _, m := range add {
		b = binary.AppendUvarint(b, uint64(len(m)))
		b = append(b, m...)
	}
	l.buf = b
	n, err := l.w.Write(b)
	l.size += int64(n)
	if err != nil {
		l.err = err
	}
}

// record appends the state of key.
func (l *aof) record(key string, e *entry) {
	if l.err != nil {
		return
	}
	l.buf = encode(l.buf[:0], key, e)
	n, err := l.w.Write(l.buf)
	l.size += int64(n)
	if err != nil {
		l.err = err
	}
}

// sync flushes and fsyncs the log.
func (l *aof) sync(s *Store) {
	if l.err != nil {
		return
	}
	if err := l.w.Flush(); err != nil {
		l.err = err
		return
	}
	if err := l.f.Sync(); err != nil {
		l.err = err
	}
}

// maybeCompact rewrites the log when it outgrew the data.
func (l *aof) maybeCompact(s *Store) {
	if l.size > compactAt && l.size > 4*s.bytes {
		if err := l.compact(s); err != nil && l.err == nil {
			l.err = err
		}
	}
}

// compact writes the live keys of s to a new log and puts it in place of the old one.
func (l *aof) compact(s *Store) error {
	tmp := l.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("embedded store: %w", err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	size := int64(len(aofHeader))
	w.WriteString(aofHeader)
	now := s.nowMs()
	var buf []byte
	for k, e := range s.m {
		if e.exp != 0 && e.exp <= now {
			continue
		}
		buf = encode(buf[:0], k, e)
		w.Write(buf)
		size += int64(len(buf))
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("embedded store: writing %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("embedded store: %w", err)
	}
	if err := os.Rename(tmp, l.path); err != nil {
		f.Close()
		return fmt.Errorf("embedded store: %w", err)
	}
	if d, err := os.Open(filepath.Dir(l.path)); err == nil {
		d.Sync()
		d.Close()
	}
	if l.f != nil {
		l.f.Close()
	}
	l.f, l.w, l.size = f, bufio.NewWriterSize(f, 256<<10), size
	return nil
}

// close flushes, fsyncs and closes the log.
func (l *aof) close() error {
	if l.err == nil {
		if err := l.w.Flush(); err != nil {
			l.err = err
		} else if err := l.f.Sync(); err != nil {
			l.err = err
		}
	}
	l.f.Close()
	return l.err
}
