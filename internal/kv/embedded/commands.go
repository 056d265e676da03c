package embedded

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// status is a simple-string reply (+OK).
type status string

// String is the reply's text, for callers of Do and DoAll outside the package.
func (s status) String() string { return string(s) }

// A reply is one of: status, error, int64, []byte (bulk), nil (null bulk), []any (array).

var (
	ok           = status("OK")
	errSyntax    = errors.New("ERR syntax error")
	errNotInt    = errors.New("ERR value is not an integer or out of range")
	errExpireArg = errors.New("ERR invalid expire time in 'set' command")
	errOverflow  = errors.New("ERR increment or decrement would overflow")
)

// errExpireTime is Redis's answer to an EXPIRE or PEXPIRE whose deadline is past what int64
// milliseconds hold.
func errExpireTime(name string) error {
	return errors.New("ERR invalid expire time in '" + strings.ToLower(name) + "' command")
}

func errArity(name string) error {
	return errors.New("ERR wrong number of arguments for '" + strings.ToLower(name) + "' command")
}

// Do runs one command (name and arguments, as the Redis protocol carries them) and returns
// its reply; the write, if any, is in the log before the reply is returned. Once the log has
// failed, a write is answered with the log's error (TRYAGAIN …) and has not happened: refused
// when the log had already failed, or, for the write whose record could not be written,
// undone in memory, so that no reader sees what a restart would not bring back.
func (s *Store) Do(args ...[]byte) any {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.refused(args); err != nil {
		return err
	}
	r := s.execWhole(args)
	if err := s.commit(); err != nil {
		return err
	}
	return r
}

// DoAll runs commands atomically (MULTI … EXEC) and returns their replies. When one of them
// is unknown or has a wrong number of arguments, none runs, as Redis discards such a
// transaction at EXEC: its reply is its error, every other reply ErrExecAbort. When the log
// has failed, every reply is its error if any of the commands writes (as for Do): none of
// them runs, or, if the failure was this transaction's own records, they are all undone.
func (s *Store) DoAll(cmds [][][]byte) []any {
	out := make([]any, len(cmds))
	fail := func(err error) []any {
		for i := range out {
			out[i] = err
		}
		return out
	}
	aborted := false
	for i, c := range cmds {
		if err := queueError(c); err != nil {
			out[i], aborted = err, true
		}
	}
	if aborted {
		for i := range out {
			if out[i] == nil {
				out[i] = ErrExecAbort
			}
		}
		return out
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range cmds {
		if err := s.refused(c); err != nil {
			return fail(err)
		}
	}
	for i, c := range cmds {
		out[i] = s.execWhole(c)
	}
	if err := s.commit(); err != nil {
		return fail(err)
	}
	return out
}

// execWhole is exec, except that a command refused for want of room (ErrFull, ErrKeptFull)
// changes nothing: one that wrote some of its members or fields, or evicted keys, before it
// ran out (HSET, SADD of several) is undone, and none of it is logged. s.mu is held.
func (s *Store) execWhole(args [][]byte) any {
	undo, dirty := len(s.undo), len(s.dirty)
	r := s.exec(args)
	if r == any(ErrFull) || r == any(ErrKeptFull) {
		s.rollback(undo)
		clear(s.dirty[dirty:])
		s.dirty = s.dirty[:dirty]
	}
	return r
}

// ErrExecAbort is Redis's answer to the EXEC of a transaction that queued a command it
// refused (unknown, or with a wrong number of arguments): none of its commands runs.
var ErrExecAbort = errors.New("EXECABORT Transaction discarded because of previous errors")

// queueError is the error Redis answers, instead of QUEUED, to args inside MULTI: an unknown
// command or a wrong number of arguments (the transaction is then discarded at EXEC); nil
// for a command that may be queued.
func queueError(args [][]byte) error {
	_, _, err := lookup(args)
	return err
}

// lookup returns the name of the command args names, upper-cased, and its spec; the error is
// queueError's.
func lookup(args [][]byte) (string, command, error) {
	if len(args) == 0 {
		return "", command{}, errors.New("ERR empty command")
	}
	name := strings.ToUpper(string(args[0]))
	spec, known := commands[name]
	if !known {
		return "", command{}, errors.New("ERR unknown command '" + string(args[0]) + "'")
	}
	if n := len(args) - 1; n < spec.min || spec.max >= 0 && n > spec.max {
		return "", command{}, errArity(name)
	}
	return name, spec, nil
}

// exec runs one command; s.mu is held.
func (s *Store) exec(args [][]byte) any {
	name, spec, err := lookup(args)
	if err != nil {
		return err
	}
	a := args[1:]
	if spec.write {
		if err := tooLong(a); err != nil {
			return err
		}
	}
	switch name {
	case "PING":
		if len(a) == 1 {
			return a[0]
		}
		return status("PONG")
	case "ECHO":
		return a[0]
	case "SELECT":
		if string(a[0]) != "0" {
			return errors.New("ERR the embedded store has database 0 only")
		}
		return ok
	case "CLIENT":
		return ok
	case "DBSIZE":
		return int64(len(s.m))
	case "FLUSHDB", "FLUSHALL":
		for k, e := range s.m {
			s.saveKey(k, e)
			s.remove(e)
			s.touch(k)
		}
		return ok
	case "GET":
		e := s.lookup(string(a[0]))
		if e == nil {
			return nil
		}
		if e.kind != kindString {
			return errWrongType
		}
		return e.str
	case "GETDEL":
		e := s.lookup(string(a[0]))
		if e == nil {
			return nil
		}
		if e.kind != kindString {
			return errWrongType
		}
		s.del(e.key)
		return e.str
	case "SET":
		return s.set(a)
	case "SETNX":
		if s.lookup(string(a[0])) != nil {
			return int64(0)
		}
		if r := s.set(a[:2]); r != any(ok) {
			return r
		}
		return int64(1)
	case "DEL", "UNLINK":
		var n int64
		for _, k := range a {
			if s.del(string(k)) {
				n++
			}
		}
		return n
	case "EXISTS":
		var n int64
		for _, k := range a {
			if s.lookup(string(k)) != nil {
				n++
			}
		}
		return n
	case "TYPE":
		e := s.lookup(string(a[0]))
		switch {
		case e == nil:
			return status("none")
		case e.kind == kindSet:
			return status("set")
		case e.kind == kindHash:
			return status("hash")
		}
		return status("string")
	case "INCR", "INCRBY":
		by := int64(1)
		if name == "INCRBY" {
			n, err := parseInt(a[1])
			if err != nil {
				return err
			}
			by = n
		}
		return s.incr(string(a[0]), by)
	case "EXPIRE", "PEXPIRE":
		opt, err := expireOption(a[2:])
		if err != nil {
			return err
		}
		n, err := parseInt(a[1])
		if err != nil {
			return err
		}
		ms := n
		if name == "EXPIRE" {
			if n > math.MaxInt64/1000 || n < math.MinInt64/1000 {
				return errExpireTime(name)
			}
			ms = n * 1000
		}
		if ms > math.MaxInt64-s.nowMs() {
			return errExpireTime(name)
		}
		return s.expire(string(a[0]), ms, opt)
	case "PERSIST":
		e := s.lookup(string(a[0]))
		if e == nil || e.exp == 0 {
			return int64(0)
		}
		s.saveKey(e.key, e)
		s.setExp(e, 0)
		s.touch(e.key)
		return int64(1)
	case "PTTL", "TTL":
		e := s.lookup(string(a[0]))
		switch {
		case e == nil:
			return int64(-2)
		case e.exp == 0:
			return int64(-1)
		}
		ms := e.exp - s.nowMs()
		if name == "TTL" {
			return (ms + 500) / 1000
		}
		return ms
	case "SADD", "SREM", "SMEMBERS", "SISMEMBER", "SCARD":
		return s.setCommand(name, a)
	case "HSET", "HGET", "HMGET", "HGETALL", "HDEL", "HLEN":
		return s.hashCommand(name, a)
	}
	return errors.New("ERR unknown command '" + string(args[0]) + "'")
}

// command is what the store knows of a command: its least and most arguments (max -1: any),
// and whether it may change the data (write), which decides whether it runs while the log
// has failed.
type command struct {
	min, max int
	write    bool
}

// commands are the known commands.
var commands = map[string]command{
	"PING": {0, 1, false}, "ECHO": {1, 1, false}, "SELECT": {1, 1, false}, "CLIENT": {1, -1, false},
	"DBSIZE": {0, 0, false}, "FLUSHDB": {0, 1, true}, "FLUSHALL": {0, 1, true},
	"GET": {1, 1, false}, "GETDEL": {1, 1, true}, "SET": {2, -1, true}, "SETNX": {2, 2, true},
	"DEL": {1, -1, true}, "UNLINK": {1, -1, true}, "EXISTS": {1, -1, false}, "TYPE": {1, 1, false},
	"INCR": {1, 1, true}, "INCRBY": {2, 2, true},
	"EXPIRE": {2, -1, true}, "PEXPIRE": {2, -1, true}, "PERSIST": {1, 1, true}, "PTTL": {1, 1, false}, "TTL": {1, 1, false},
	"SADD": {2, -1, true}, "SREM": {2, -1, true}, "SMEMBERS": {1, 1, false}, "SISMEMBER": {2, 2, false}, "SCARD": {1, 1, false},
	"HSET": {3, -1, true}, "HGET": {2, 2, false}, "HMGET": {2, -1, false}, "HGETALL": {1, 1, false},
	"HDEL": {2, -1, true}, "HLEN": {1, 1, false},
}

// errTooLong is Redis's answer to a write of a string past proto-max-bulk-len (512 MiB). It is
// an ERR, as on Redis: a route answers 500. No request brings such a string (a body is at
// most 1 MiB), so it is a bug of the server's, not the client's fault (4xx), nor a want of
// room that a retry could get past (503).
var errTooLong = errors.New("ERR string exceeds maximum allowed size (proto-max-bulk-len)")

// tooLong is errTooLong when one of a write's arguments (a key, a value, a set member, a hash
// field) is longer than the log holds: its record would be taken for damage, and the store
// would not open again. Every string the store keeps is one of the arguments of its write.
func tooLong(a [][]byte) error {
	for _, b := range a {
		if uint64(len(b)) > limitLength {
			return errTooLong
		}
	}
	return nil
}

// tooBig is the error of an SADD (step 1: names are members) or HSET (step 2: field, value,
// …) that would make the set or hash e of key (e nil: none yet) hold more members than the log holds,
// or be larger than its record may be; nil when it fits. It is checked before the command
// changes anything. Redis has no such limit (it holds 2^32 members); the store's log has, and
// a set or hash past it would keep the store from opening again. It answers OOM, as a write
// past MaxBytes with nothing to evict does (a Redis past its maxmemory too): the store is out
// of room for it, an outage to apperr.DependencyDown (503 with Retry-After), not a bug (500).
func tooBig(key string, e *entry, names [][]byte, step int) error {
	kind := kindSet
	if step == 2 {
		kind = kindHash
	}
	size := kindOverhead(kind) + int64(len(key))
	var set map[string]struct{}
	var hash map[string][]byte
	if e != nil {
		size, set, hash = e.size, e.set, e.hash
	}
	count := uint64(len(set) + len(hash))
	if count+uint64(len(names)/step) <= limitMembers && size+int64(len(names))*maxMemberOverhead+argBytes(names) <= limitRecord {
		return nil // the usual case: it fits even if every name is new
	}
	final := make(map[string][]byte, len(names)/step)
	for i := 0; i < len(names); i += step {
		var v []byte
		if step == 2 {
			v = names[i+1]
		}
		final[string(names[i])] = v
	}
	for m, v := range final {
		old, had := hash[m]
		if _, inSet := set[m]; inSet {
			had = true
		}
		size += int64(len(v) - len(old))
		if !had {
			size += memberOverhead(kind, int(count)) + int64(len(m))
			count++
		}
	}
	if count > limitMembers || size > limitRecord {
		return fmt.Errorf("OOM embedded store: a set or hash may hold at most %d members and %d bytes, "+
			"the most its log holds", limitMembers, limitRecord)
	}
	return nil
}

// argBytes is the total length of a.
func argBytes(a [][]byte) int64 {
	var n int64
	for _, b := range a {
		n += int64(len(b))
	}
	return n
}

// set is SET key value [NX|XX] [EX s|PX ms|KEEPTTL].
func (s *Store) set(a [][]byte) any {
	key, val := string(a[0]), a[1]
	var nx, xx, keep bool
	var ttl int64
	for i := 2; i < len(a); i++ {
		switch strings.ToUpper(string(a[i])) {
		case "NX":
			nx = true
		case "XX":
			xx = true
		case "KEEPTTL":
			keep = true
		case "EX", "PX":
			if i+1 >= len(a) || ttl != 0 {
				return errSyntax
			}
			n, err := parseInt(a[i+1])
			if err != nil {
				return err
			}
			if n <= 0 {
				return errExpireArg
			}
			if strings.EqualFold(string(a[i]), "EX") {
				if n > math.MaxInt64/1000 {
					return errExpireArg
				}
				n *= 1000
			}
			ttl = n
			i++
		default:
			return errSyntax
		}
	}
	if (nx && xx) || (keep && ttl != 0) {
		return errSyntax
	}
	if ttl > math.MaxInt64-s.nowMs() {
		return errExpireArg
	}
	old := s.lookup(key)
	if (nx && old != nil) || (xx && old == nil) {
		return nil
	}
	s.saveKey(key, old)
	var exp int64
	if ttl != 0 {
		exp = s.nowMs() + ttl
	} else if keep && old != nil {
		exp = old.exp
	}
	v := append([]byte(nil), val...)
	if old != nil && old.kind == kindString {
		if err := s.room(0, int64(len(v)-len(old.str))); err != nil {
			return err
		}
		if s.m[key] == old { // not evicted to make room
			s.resized(old, int64(len(v)-len(old.str)))
			old.str = v
			s.setExp(old, exp)
			s.touch(key)
			return ok
		}
	}
	if old != nil && s.m[key] == old {
		s.remove(old)
	}
	e, err := s.create(key, kindString)
	if err != nil {
		return err
	}
	if err := s.room(0, int64(len(v))); err != nil {
		s.remove(e)
		return err
	}
	if s.m[key] != e {
		return ErrFull
	}
	s.resized(e, int64(len(v)))
	e.str = v
	s.setExp(e, exp)
	s.touch(key)
	return ok
}

// incr is INCRBY; the TTL is kept. A result past int64 is an error, as in Redis.
func (s *Store) incr(key string, by int64) any {
	e := s.lookup(key)
	var n int64
	if e != nil {
		if e.kind != kindString {
			return errWrongType
		}
		v, err := parseInt(e.str)
		if err != nil {
			return errNotInt
		}
		n = v
	}
	if by > 0 && n > math.MaxInt64-by || by < 0 && n < math.MinInt64-by {
		return errOverflow
	}
	s.saveKey(key, e)
	if e == nil {
		var err error
		if e, err = s.create(key, kindString); err != nil {
			return err
		}
	}
	n += by
	v := strconv.AppendInt(nil, n, 10)
	s.resized(e, int64(len(v)-len(e.str)))
	e.str = v
	s.touch(key)
	return n
}

// expireOption reads the options of EXPIRE/PEXPIRE as Redis does, before the TTL: any of NX,
// XX, GT, LT (in any case, repeats allowed), where NX goes with none of the others and GT not
// with LT; it returns them as one string of those letters ("XXGT", say).
func expireOption(opts [][]byte) (string, error) {
	set := map[string]bool{}
	for _, o := range opts {
		name := strings.ToUpper(string(o))
		switch name {
		case "NX", "XX", "GT", "LT":
			set[name] = true
		default:
			return "", errors.New("ERR Unsupported option " + string(o))
		}
	}
	switch {
	case set["NX"] && (set["XX"] || set["GT"] || set["LT"]):
		return "", errors.New("ERR NX and XX, GT or LT options at the same time are not compatible")
	case set["GT"] && set["LT"]:
		return "", errors.New("ERR GT and LT options at the same time are not compatible")
	}
	var out string
	for _, name := range []string{"NX", "XX", "GT", "LT"} {
		if set[name] {
			out += name
		}
	}
	return out, nil
}

// expire is EXPIRE/PEXPIRE key ms with the options expireOption read; a deadline not in the
// future deletes.
func (s *Store) expire(key string, ms int64, opt string) any {
	e := s.lookup(key)
	if e == nil {
		return int64(0)
	}
	exp := s.nowMs() + ms
	has := func(o string) bool { return strings.Contains(opt, o) }
	if has("NX") && e.exp != 0 || has("XX") && e.exp == 0 || has("GT") && (e.exp == 0 || exp <= e.exp) ||
		has("LT") && e.exp != 0 && exp >= e.exp {
		return int64(0)
	}
	if ms <= 0 {
		s.del(key)
		return int64(1)
	}
	s.saveKey(key, e)
	s.setExp(e, exp)
	s.touchDelta(key)
	return int64(1)
}

func (s *Store) setCommand(name string, a [][]byte) any {
	key := string(a[0])
	e := s.lookup(key)
	if e != nil && e.kind != kindSet {
		return errWrongType
	}
	switch name {
	case "SADD":
		if err := tooBig(key, e, a[1:], 1); err != nil {
			return err
		}
		s.saveKey(key, e)
		if e == nil {
			var err error
			if e, err = s.create(key, kindSet); err != nil {
				return err
			}
			// A new set is recorded whole, not as a delta: the log may hold an older set of
			// the same key, expired since, that a delta would add to when replayed.
			s.touch(key)
		}
		var added [][]byte
		for _, m := range a[1:] {
			if _, has := e.set[string(m)]; has {
				continue
			}
			cost := memberOverhead(kindSet, len(e.set)) + int64(len(m))
			if err := s.room(0, cost); err != nil {
				s.touchDelta(key, added...)
				return err
			}
			if s.m[key] != e {
				s.touch(key)
				return ErrFull
			}
			s.saveMember(e, string(m))
			e.set[string(m)] = struct{}{}
			s.resized(e, cost)
			added = append(added, m)
		}
		s.touchDelta(key, added...)
		return int64(len(added))
	case "SREM":
		if e == nil {
			return int64(0)
		}
		s.saveKey(key, e)
		var n int64
		for _, m := range a[1:] {
			if _, has := e.set[string(m)]; has {
				s.saveMember(e, string(m))
				delete(e.set, string(m))
				s.resized(e, -(memberOverhead(kindSet, len(e.set)) + int64(len(m))))
				n++
			}
		}
		if len(e.set) == 0 {
			s.remove(e)
		}
		s.touch(key)
		return n
	case "SMEMBERS":
		out := []any{}
		if e != nil {
			for m := range e.set {
				out = append(out, []byte(m))
			}
		}
		return out
	case "SISMEMBER":
		if e == nil {
			return int64(0)
		}
		if _, has := e.set[string(a[1])]; has {
			return int64(1)
		}
		return int64(0)
	default: // SCARD
		if e == nil {
			return int64(0)
		}
		return int64(len(e.set))
	}
}

func (s *Store) hashCommand(name string, a [][]byte) any {
	key := string(a[0])
	e := s.lookup(key)
	if e != nil && e.kind != kindHash {
		return errWrongType
	}
	switch name {
	case "HSET":
		if len(a)%2 != 1 {
			return errArity(name)
		}
		if err := tooBig(key, e, a[1:], 2); err != nil {
			return err
		}
		s.saveKey(key, e)
		if e == nil {
			var err error
			if e, err = s.create(key, kindHash); err != nil {
				return err
			}
		}
		var n int64
		for i := 1; i < len(a); i += 2 {
			f, v := string(a[i]), append([]byte(nil), a[i+1]...)
			old, has := e.hash[f]
			delta := int64(len(v) - len(old))
			if !has {
				delta += memberOverhead(kindHash, len(e.hash)) + int64(len(f))
			}
			if err := s.room(0, delta); err != nil {
				return err
			}
			if s.m[key] != e {
				return ErrFull
			}
			s.saveMember(e, f)
			e.hash[f] = v
			s.resized(e, delta)
			if !has {
				n++
			}
		}
		s.touch(key)
		return n
	case "HGET":
		if e == nil {
			return nil
		}
		if v, has := e.hash[string(a[1])]; has {
			return v
		}
		return nil
	case "HMGET":
		out := make([]any, len(a)-1)
		for i, f := range a[1:] {
			if e != nil {
				if v, has := e.hash[string(f)]; has {
					out[i] = v
				}
			}
		}
		return out
	case "HGETALL":
		out := []any{}
		if e != nil {
			for f, v := range e.hash {
				out = append(out, []byte(f), v)
			}
		}
		return out
	case "HDEL":
		if e == nil {
			return int64(0)
		}
		s.saveKey(key, e)
		var n int64
		for _, f := range a[1:] {
			if v, has := e.hash[string(f)]; has {
				s.saveMember(e, string(f))
				delete(e.hash, string(f))
				s.resized(e, -(memberOverhead(kindHash, len(e.hash)) + int64(len(f)+len(v))))
				n++
			}
		}
		if len(e.hash) == 0 {
			s.remove(e)
		}
		s.touch(key)
		return n
	default: // HLEN
		if e == nil {
			return int64(0)
		}
		return int64(len(e.hash))
	}
}
