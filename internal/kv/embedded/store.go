// Package embedded is LoginSign's in-process key-value store: the subset of Redis that
// LoginSign uses (strings, sets, hashes, expiry, MULTI/EXEC), served over the Redis protocol
// (tidwall/redcon) on in-memory connections that go-redis reaches through its Dialer, so the
// code path is the one a real Redis runs and nothing listens on a port.
//
// It holds up as it runs:
//   - expiry costs O(log n) per key with its TTL, never a scan: keys with a TTL sit in a
//     4-ary min-heap by deadline; a read of an expired key deletes it (lazy expiry), and a
//     sweep every 100 ms pops at most SweepBatch expired keys from the top of the heap; a TTL
//     extended or removed is re-placed lazily, when its old deadline reaches the top (O(1));
//   - memory is bounded (MaxKeys, MaxBytes): a write that would pass a bound first evicts the
//     keys expiring soonest; when no key has a TTL left to evict, the write fails with an
//     OOM error, like Redis's volatile-ttl policy. Keys under a Keep prefix (rate-limit
//     counters) are never evicted, only expired: they sit in a heap of their own, so a flood
//     of other writes cannot reset a limit by pushing its counter out. Those under a Capped
//     prefix (the counters) take at most half of either bound, so that many distinct ones
//     cannot push out every session. Keys under an EvictFirst prefix (an old sign-in link's
//     memo) go before any other, whatever their TTL, so that anonymous requests that write
//     them cannot push out sessions that expire sooner;
//   - with a Path, every write is appended to a log before it is answered (fsynced every
//     second and on Close); the log is compacted when opened and, in the background while
//     writes go on (rewrite.go), when it grows past four times the live data, so sessions
//     survive a restart. It fails closed: a write whose record
//     cannot be written is undone in memory and answers an error, and from then on writes and
//     PING answer an error (reads go on) until the log has been rewritten from memory, tried
//     again in the background. Each commit's records carry a CRC-32C: a torn last one is
//     dropped, and a log damaged before its end does not open.
package embedded

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configure a Store. Zero fields take the defaults written next to them.
type Options struct {
	// Path is the append-only log; empty keeps everything in memory only.
	Path string
	// MaxKeys bounds the number of keys. Default 2,000,000.
	MaxKeys int
	// MaxBytes bounds the estimated memory of keys and values. Default 512 MiB.
	MaxBytes int64
	// SweepBatch is the most expired keys one sweep deletes. Default 20,000.
	SweepBatch int
	// SweepEvery is the interval of the background sweep. Default 100 ms.
	SweepEvery time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Keep are key prefixes that eviction never takes (they still expire): the counters of
	// rate limits, which an anonymous flood of other writes (authorization requests, say)
	// would otherwise push out, resetting the limit. When only such keys are left, a write
	// past a bound fails with ErrFull.
	Keep []string
	// Capped are key prefixes whose keys together take at most half of MaxKeys and of
	// MaxBytes: a write that would create one past that fails with ErrKeptFull, before any
	// eviction. They are the Keep prefixes that anyone can have keys written under (a counter
	// per source address, per address asked a mail for): many distinct counters would
	// otherwise fill the store, pushing out every session on the way, since they are never
	// evicted. Keep prefixes that only an authenticated request writes (a revoked family's
	// marker) are not capped, so that a flood of counters cannot keep a revocation out.
	Capped []string
	// EvictFirst are key prefixes that eviction takes before any other key (soonest deadline
	// first among them): records kept for convenience only, which anonymous requests write
	// with a TTL as long as a session's idle time, so that under the volatile-ttl order they
	// would outlive (and push out) every session idle for a while.
	EvictFirst []string
	// Log receives the failures of the log (and its recovery). Default slog.Default().
	Log *slog.Logger
}

func (o *Options) defaults() {
	if o.MaxKeys <= 0 {
		o.MaxKeys = 2_000_000
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = 512 << 20
	}
	if o.SweepBatch <= 0 {
		o.SweepBatch = 20_000
	}
	if o.SweepEvery <= 0 {
		o.SweepEvery = 100 * time.Millisecond
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
}

// ErrFull is the error of a write past MaxKeys or MaxBytes with nothing left to evict.
var ErrFull = errors.New("OOM embedded store is full (LOGINSIGN_KV_MAX_KEYS / LOGINSIGN_KV_MAX_BYTES) and no key with a TTL is left to evict")

// ErrKeptFull is the error of a write that would create a key under a Capped prefix (a
// rate-limit counter) past half of MaxKeys or MaxBytes. Like ErrFull it starts with OOM, an
// outage to apperr.DependencyDown (503 with Retry-After).
var ErrKeptFull = errors.New("OOM embedded store: rate-limit counters fill their half of it (LOGINSIGN_KV_MAX_KEYS / LOGINSIGN_KV_MAX_BYTES); " +
	"no new one is written until some expire")

const (
	kindString byte = 1
	kindSet    byte = 2
	kindHash   byte = 3
)

// entry is one key.
type entry struct {
	key  string
	kind byte
	str  []byte
	set  map[string]struct{}
	hash map[string][]byte
	exp  int64 // deadline in Unix milliseconds; 0: none
	// hexp is the deadline the expiry heap orders e by: exp, or an earlier deadline e had
	// (a TTL that was extended or removed is fixed in the heap lazily, when it reaches the
	// top). hidx is e's index in the heap, -1 when it is not in it.
	hexp int64
	hidx int
	size int64
	// rec is the estimated length of e's record in the log (recordSize), counted in Store.logBytes.
	rec int64
	// kept: e's key has a Keep prefix; its heap is Store.hk, which eviction does not take from.
	kept bool
	// first: e's key has an EvictFirst prefix; its heap is Store.hf, which eviction takes
	// from before Store.h.
	first bool
	// capped: e's key has a Capped prefix; it is counted in Store.cappedKeys and cappedBytes.
	capped bool
}

// The estimated memory of a key besides the bytes of its key, value, members and fields: what
// MaxBytes bounds. They are the process's heap per key, measured by BenchmarkMemoryPerKey
// (memory_checks23_test.go: Go 1.27 on amd64, runtime.MemStats.HeapInuse after a full GC
// before and after writing 10 k and 1 M keys of each kind LoginSign keeps, written as it writes
// them) and rounded up, so that the heap a full store takes stays within about 1.2 times
// MaxBytes (TestAFullStoresHeapStaysNearMaxBytes). Of a string key's 250, the live objects are
// about 195: the entry (112), its slot in the key map (a Go map's slots are 25 bytes, 44 to 88
// percent full), its place in the expiry heap (16 bytes, 25 percent spare), and the rounding
// of its key and value up to Go's size classes; the rest is the holes that garbage freed
// between the keys' objects leaves in the heap's spans. A set or hash adds its map: a header
// of 48 bytes and a first group of 8 slots (144 and 352 bytes), where its first 8 members
// sit; each member past them takes its share of the larger tables (a set's slot is 17
// bytes, a hash's 41, at the same fill) and, for a hash, its value's rounding. Before, a key
// was 96 and a member 48, and a full store's heap was 1.5 to 2.7 times MaxBytes (counters
// and small sets the most). The log's buffers are not counted: one commit's frame and, while
// compacting, a 1 MiB writer and the keys' names (16 bytes a key).
const (
	keyOverhead  = 250 // a string
	setOverhead  = 600 // a set (with its first 8 members' slots)
	hashOverhead = 680 // a hash (with its first 8 fields' slots)
	// smallMembers are the members whose slots are in setOverhead and hashOverhead; each
	// costs smallMemberOverhead, each past them setMemberOverhead or hashFieldOverhead.
	smallMembers        = 8
	smallMemberOverhead = 16
	setMemberOverhead   = 80
	hashFieldOverhead   = 120
	// maxMemberOverhead is the most a member or field costs besides its bytes.
	maxMemberOverhead = hashFieldOverhead
)

// kindOverhead is the estimated memory of a key of kind besides its key's and value's bytes
// and its members.
func kindOverhead(kind byte) int64 {
	switch kind {
	case kindSet:
		return setOverhead
	case kindHash:
		return hashOverhead
	}
	return keyOverhead
}

// memberOverhead is the estimated memory of the member or field a set or hash (kind) holding
// n others adds besides its bytes; taking one out of a set or hash of n+1 frees as much.
func memberOverhead(kind byte, n int) int64 {
	switch {
	case n < smallMembers:
		return smallMemberOverhead
	case kind == kindSet:
		return setMemberOverhead
	}
	return hashFieldOverhead
}

// membersOverhead is the estimated memory of the n members of a set or hash (kind) besides
// their bytes: the sum of memberOverhead(kind, i) for i below n.
func membersOverhead(kind byte, n int) int64 {
	small := min(n, smallMembers)
	return int64(small)*smallMemberOverhead + int64(n-small)*memberOverhead(kind, smallMembers)
}

// The estimated length of a key's record in the log besides the key and its value's bytes
// (record type, key length, kind, a deadline of 6 bytes, value length or member count), and
// of a member's besides its bytes (a hash field's two lengths; a set member has one).
const (
	keyRecord    = 10
	memberRecord = 2
)

// recordSize estimates the length of e's record in the log, from its size: what compaction
// would write for e.
func (e *entry) recordSize() int64 {
	members := len(e.set) + len(e.hash)
	return e.size - kindOverhead(e.kind) - membersOverhead(e.kind, members) + keyRecord + int64(members)*memberRecord
}

func (e *entry) measure() int64 {
	n := kindOverhead(e.kind) + int64(len(e.key)+len(e.str)) + membersOverhead(e.kind, len(e.set)+len(e.hash))
	for m := range e.set {
		n += int64(len(m))
	}
	for f, v := range e.hash {
		n += int64(len(f) + len(v))
	}
	return n
}

// Store is the data and its expiry, limits and log. Its methods are safe for concurrent use.
type Store struct {
	opt   Options
	mu    sync.Mutex
	m     map[string]*entry
	h     expHeap // keys with a TTL that eviction may take, by deadline
	hk    expHeap // keys with a TTL under a Keep prefix, by deadline
	hf    expHeap // keys with a TTL under an EvictFirst prefix, by deadline
	bytes int64
	// logBytes is the estimated length of the live keys' records in the log (entry.rec): what
	// compaction would write, which the log's growth is measured against. Their memory (bytes)
	// is larger: the records carry none of the overheads of memory (keyOverhead).
	logBytes int64
	// cappedKeys and cappedBytes are the keys under a Capped prefix and their size, at most
	// half of MaxKeys and MaxBytes (create).
	cappedKeys  int
	cappedBytes int64
	log         *aof
	// dirty are the keys written by the commands running, for the log: a whole-state record,
	// or, for a set that only grew or a key whose TTL only changed, a delta record.
	dirty []change
	// undo is what the commands running changed in memory, in order, for rollback should
	// their log write fail or one of them run out of room.
	undo []undoStep

	stop chan struct{}
	done chan struct{}
	// Evicted counts keys evicted for room; Expired keys deleted by the sweep.
	Evicted, Expired int64
}

// Open opens a store, loading and compacting the log at opt.Path when there is one, and
// starts the sweep.
func Open(opt Options) (*Store, error) {
	opt.defaults()
	s := &Store{opt: opt, m: make(map[string]*entry), stop: make(chan struct{}), done: make(chan struct{})}
	if opt.Path != "" {
		l, err := openAOF(opt.Path, s)
		if err != nil {
			return nil, err
		}
		s.log = l
	}
	go s.run()
	return s, nil
}

// Close stops the sweep and fsyncs and closes the log. Its error (logged too) means writes
// answered OK may be missing from the log: the log failed and could not be rewritten.
func (s *Store) Close() error {
	select {
	case <-s.stop:
		return nil
	default:
	}
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.log == nil {
		return nil
	}
	for done := s.log.stopRewrite(); done != nil; done = s.log.stopRewrite() {
		// Its goroutine takes the lock to see it was abandoned; the log is fsynced whole below.
		s.mu.Unlock()
		<-done
		s.mu.Lock()
	}
	return s.log.close(s)
}

// run sweeps expired keys every 100 ms and fsyncs the log every second (without the lock), or,
// once it has failed, tries to rewrite it.
func (s *Store) run() {
	defer close(s.done)
	t := time.NewTicker(s.opt.SweepEvery)
	defer t.Stop()
	lastSync := time.Now()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		s.Sweep()
		if s.log != nil && time.Since(lastSync) >= time.Second {
			lastSync = time.Now()
			s.mu.Lock()
			f := s.log.tick(s, lastSync)
			s.mu.Unlock()
			if f != nil {
				err := syncFile(f)
				s.mu.Lock()
				s.log.synced(f, err)
				s.mu.Unlock()
			}
		}
	}
}

// settle puts the top of h in its true place (its TTL was extended or removed since it was
// ordered) and reports whether it did anything.
func settle(h *expHeap) bool {
	e := h.top()
	switch {
	case e.exp == 0:
		h.remove(0)
		return true
	case e.exp != e.hexp:
		e.hexp = e.exp
		h.fix(0)
		return true
	}
	return false
}

// heapOf is the heap e belongs in.
func (s *Store) heapOf(e *entry) *expHeap {
	switch {
	case e.kept:
		return &s.hk
	case e.first:
		return &s.hf
	}
	return &s.h
}

// evictFirst reports whether key has an EvictFirst prefix.
func (s *Store) evictFirst(key string) bool { return under(key, s.opt.EvictFirst) }

// kept reports whether key has a Keep prefix.
func (s *Store) kept(key string) bool { return under(key, s.opt.Keep) }

// capped reports whether key has a Capped prefix.
func (s *Store) capped(key string) bool { return under(key, s.opt.Capped) }

// under reports whether key has one of prefixes.
func under(key string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

// Sweep deletes up to SweepBatch expired keys, soonest first, and returns how many; the cost
// is O(log n) per key deleted (or re-placed), whatever the number of live keys.
func (s *Store) Sweep() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.nowMs()
	n, steps := 0, 0
	for _, h := range []*expHeap{&s.h, &s.hf, &s.hk} {
		for steps < s.opt.SweepBatch && len(*h) > 0 && h.topAt() <= now {
			steps++
			if settle(h) {
				continue
			}
			s.remove(h.top())
			n++
		}
	}
	s.Expired += int64(n)
	return n
}

// Usage is how full the store is against its bounds, each a fraction (1 is full): Store of
// MaxKeys and MaxBytes, the larger; Capped, the Capped keys' of their half of each, the larger.
// Expired keys not yet swept count, as they do for the bounds.
type Usage struct {
	Store, Capped float64
}

// Usage reports how full the store and its Capped keys are (Usage).
func (s *Store) Usage() Usage {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys, bytes := float64(s.opt.MaxKeys), float64(s.opt.MaxBytes)
	return Usage{
		Store:  max(float64(len(s.m))/keys, float64(s.bytes)/bytes),
		Capped: max(float64(s.cappedKeys)/float64(max(s.opt.MaxKeys/2, 1)), float64(s.cappedBytes)/float64(max(s.opt.MaxBytes/2, 1))),
	}
}

// Len is the number of keys held (expired ones not yet swept included).
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

func (s *Store) nowMs() int64 { return s.opt.Now().UnixMilli() }

// lookup returns the live entry of key, deleting it when expired.
func (s *Store) lookup(key string) *entry {
	e := s.m[key]
	if e == nil {
		return nil
	}
	if e.exp != 0 && e.exp <= s.nowMs() {
		s.remove(e)
		return nil
	}
	return e
}

// remove deletes e (from the map, the heap and the byte count).
func (s *Store) remove(e *entry) {
	delete(s.m, e.key)
	if e.hidx >= 0 {
		s.heapOf(e).remove(e.hidx)
	}
	s.uncount(e)
}

// count adds e, which has just been put in s.m with its size measured, to the totals of s.
func (s *Store) count(e *entry) {
	e.rec = e.recordSize()
	s.bytes += e.size
	s.logBytes += e.rec
	if e.capped {
		s.cappedKeys++
		s.cappedBytes += e.size
	}
}

// uncount takes e out of the totals of s.
func (s *Store) uncount(e *entry) {
	s.bytes -= e.size
	s.logBytes -= e.rec
	if e.capped {
		s.cappedKeys--
		s.cappedBytes -= e.size
	}
}

// del deletes key as a write (logged).
func (s *Store) del(key string) bool {
	e := s.lookup(key)
	if e == nil {
		return false
	}
	s.saveKey(key, e)
	s.remove(e)
	s.touch(key)
	return true
}

// setExp sets e's deadline (0: none). A later deadline or none leaves the heap as it is (the
// key is re-placed when it reaches the top), so extending a TTL — a session touched on every
// request — costs O(1); an earlier deadline moves the key up; a new one is pushed (O(1) on
// average for deadlines later than most).
func (s *Store) setExp(e *entry, exp int64) {
	e.exp = exp
	switch {
	case exp == 0:
	case e.hidx >= 0 && exp < e.hexp:
		e.hexp = exp
		s.heapOf(e).fix(e.hidx)
	case e.hidx >= 0:
	default:
		e.hexp = exp
		s.heapOf(e).push(e)
	}
}

// create adds a new entry of kind for key, making room first. A key under a Capped prefix is
// refused past half of MaxKeys or MaxBytes for such keys (ErrKeptFull), before any eviction.
func (s *Store) create(key string, kind byte) (*entry, error) {
	capped := s.capped(key)
	full := func() bool {
		return s.cappedKeys >= s.opt.MaxKeys/2 || s.cappedBytes+kindOverhead(kind)+int64(len(key)) > s.opt.MaxBytes/2
	}
	for capped && full() {
		if !s.expireTop(&s.hk) {
			return nil, ErrKeptFull
		}
	}
	if err := s.room(1, kindOverhead(kind)+int64(len(key))); err != nil {
		return nil, err
	}
	e := &entry{key: key, kind: kind, hidx: -1, kept: s.kept(key), first: s.evictFirst(key), capped: capped}
	switch kind {
	case kindSet:
		e.set = make(map[string]struct{})
	case kindHash:
		e.hash = make(map[string][]byte)
	}
	e.size = e.measure()
	s.m[key] = e
	s.count(e)
	return e, nil
}

// resized records that e changed size.
func (s *Store) resized(e *entry, delta int64) {
	e.size += delta
	s.bytes += delta
	if e.capped {
		s.cappedBytes += delta
	}
	rec := e.recordSize()
	s.logBytes += rec - e.rec
	e.rec = rec
}

// room evicts the keys expiring soonest until keys more keys and bytes more bytes fit: those
// under an EvictFirst prefix first, then the others (never those under a Keep prefix). Kept
// keys that have expired, not yet swept, are deleted before any key is evicted.
func (s *Store) room(keys int, bytes int64) error {
	for len(s.m)+keys > s.opt.MaxKeys || s.bytes+bytes > s.opt.MaxBytes {
		if s.expireTop(&s.hk) {
			continue
		}
		h := &s.hf
		for len(*h) > 0 && settle(h) {
		}
		if len(*h) == 0 {
			h = &s.h
		}
		for len(*h) > 0 && settle(h) {
		}
		if len(*h) == 0 {
			return ErrFull
		}
		victim := h.top()
		s.saveKey(victim.key, victim)
		s.remove(victim)
		s.touch(victim.key)
		s.Evicted++
	}
	return nil
}

// expireTop deletes the key at the top of h when its deadline has passed (settling the top
// first), as the sweep would, and reports whether it did. Such a delete is not logged: the
// log's replay drops the key as expired.
func (s *Store) expireTop(h *expHeap) bool {
	now := s.nowMs()
	for len(*h) > 0 && h.topAt() <= now {
		if !settle(h) {
			s.remove(h.top())
			s.Expired++
			return true
		}
	}
	return false
}

// change is one write of the running commands, for the log: full (the key's whole state is
// recorded), or a delta (members added to a set, the TTL changed, or both).
type change struct {
	key  string
	full bool
	add  []string
}

// touch marks key as written by the running command (its whole state is logged).
func (s *Store) touch(key string) {
	if s.log != nil {
		s.dirty = append(s.dirty, change{key: key, full: true})
	}
}

// touchDelta marks key as grown by members (a set) or given a new TTL, without any other
// change: the log records only the members and the deadline, so a set that grows one member
// at a time (an access-token family) costs O(1) per write in the log, not O(size).
func (s *Store) touchDelta(key string, members ...[]byte) {
	if s.log == nil {
		return
	}
	c := change{key: key}
	for _, m := range members {
		c.add = append(c.add, string(m))
	}
	s.dirty = append(s.dirty, c)
}

// commit appends the writes of the commands that ran to the log: one whole-state record per
// key that had a whole-state change (its final state), else one delta record per key (every
// member added, the final deadline), all in one frame. When that fails, the commands are
// undone in memory (rollback) and the log's error returned: their replies must not be given,
// and memory must not hold what a restart would not replay.
func (s *Store) commit() error {
	var err error
	if s.log != nil {
		if err = s.writeLog(); err != nil {
			s.rollback(0)
		}
	}
	if cap(s.undo) > 1024 { // a FLUSHDB's or a long MULTI's: not kept for the commands to come
		s.undo = nil
	} else {
		clear(s.undo) // the entries and values they point to
		s.undo = s.undo[:0]
	}
	return err
}

// writeLog writes the records of s.dirty to the log and empties it.
func (s *Store) writeLog() error {
	if len(s.dirty) == 0 {
		return nil
	}
	if len(s.dirty) == 1 {
		s.record(s.dirty[0])
	} else {
		merged := make(map[string]int, len(s.dirty))
		var order []change
		for _, c := range s.dirty {
			i, seen := merged[c.key]
			switch {
			case !seen:
				merged[c.key] = len(order)
				order = append(order, c)
			case c.full:
				order[i].full, order[i].add = true, nil
			case !order[i].full:
				order[i].add = append(order[i].add, c.add...)
			}
		}
		for _, c := range order {
			s.record(c)
		}
	}
	s.dirty = s.dirty[:0]
	if err := s.log.write(); err != nil {
		return err
	}
	s.log.maybeCompact(s)
	return nil
}

// undoStep is one change to memory that rollback can take back. A key step holds what key
// was before the change: e (nil: no key), with its string value str and deadline exp. A
// member step (member true) holds a set member or hash field m of e before the change: had
// it (with value v, for a hash) or not. Every member step of a command follows a key step of
// the same key, which puts e's size right.
type undoStep struct {
	key    string
	e      *entry
	str    []byte
	exp    int64
	member bool
	m      string
	v      []byte
	had    bool
}

// saveKey records key's state before a command changes it, for rollback: e is the key's
// entry (nil: none). A change to the members of a set or the fields of a hash also needs
// saveMember, per member. The key's value is saved by reference: a string is replaced by a
// new slice, never written in place.
func (s *Store) saveKey(key string, e *entry) {
	st := undoStep{key: key, e: e}
	if e != nil {
		st.str, st.exp = e.str, e.exp
	}
	s.undo = append(s.undo, st)
}

// saveMember records set member or hash field m of e before a command adds, changes or
// deletes it, for rollback; saveKey(e.key, …) comes first.
func (s *Store) saveMember(e *entry, m string) {
	st := undoStep{key: e.key, e: e, member: true, m: m}
	if e.kind == kindSet {
		_, st.had = e.set[m]
	} else {
		st.v, st.had = e.hash[m]
	}
	s.undo = append(s.undo, st)
}

// rollback puts memory back as it was before the steps from the undo journal's entry from
// on (0: the commands of a failed commit; else one command refused for want of room, run),
// taking them back from the last: the keys they created, changed, deleted or evicted. Keys
// that expired meanwhile (deleted by a read, and not logged) stay deleted.
func (s *Store) rollback(from int) {
	defer func() { clear(s.undo[from:]); s.undo = s.undo[:from] }()
	for i := len(s.undo) - 1; i >= from; i-- {
		st := &s.undo[i]
		e := st.e
		if st.member {
			switch {
			case e.kind == kindSet && st.had:
				e.set[st.m] = struct{}{}
			case e.kind == kindSet:
				delete(e.set, st.m)
			case st.had:
				e.hash[st.m] = st.v
			default:
				delete(e.hash, st.m)
			}
			continue
		}
		cur := s.m[st.key]
		if cur != nil && cur != e {
			s.remove(cur)
		}
		if e == nil {
			continue
		}
		if cur == e {
			s.uncount(e)
		} else {
			s.m[st.key] = e
		}
		e.str = st.str
		e.size = e.measure()
		s.count(e)
		s.setExp(e, st.exp)
	}
}

// refused is the error that answers cmd instead of running it, nil when it may run: once the
// log has failed, the commands that write, and PING (the health check of /readyz), are
// refused; reads go on.
func (s *Store) refused(cmd [][]byte) error {
	if s.log == nil || s.log.err == nil || len(cmd) == 0 {
		return nil
	}
	name := strings.ToUpper(string(cmd[0]))
	if commands[name].write || name == "PING" {
		return s.log.err
	}
	return nil
}

// record logs one change with the key's current state.
func (s *Store) record(c change) {
	e := s.m[c.key]
	if c.full || e == nil || (len(c.add) > 0 && e.kind != kindSet) {
		s.log.record(c.key, e)
		return
	}
	s.log.recordDelta(c.key, e.exp, c.add)
}

// errWrongType is Redis's answer to a command on a key of another type.
var errWrongType = errors.New("WRONGTYPE Operation against a key holding the wrong kind of value")

// parseInt reads an integer argument or value as Redis does (string2ll): decimal digits with
// an optional leading '-', no '+', no leading zero ("0" itself aside, and so no "-0"), no
// space, within int64; anything else is Redis's "not an integer" error.
func parseInt(b []byte) (int64, error) {
	bad := fmt.Errorf("ERR value is not an integer or out of range")
	digits := b
	if len(digits) > 0 && digits[0] == '-' {
		digits = digits[1:]
	}
	if len(digits) == 0 || digits[0] < '0' || digits[0] > '9' || digits[0] == '0' && len(b) != 1 {
		return 0, bad
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return 0, bad
	}
	return n, nil
}
