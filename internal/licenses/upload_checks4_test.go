package licenses_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/ent/licensecode"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/licenses"
	"loginsign/internal/ratelimit"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// uploadIndex marks the context of one of the uploads a test races, so a query interceptor
// can tell them apart (and from everything else the test does).
type uploadIndex struct{}

// raceRound is one round of overlapping uploads of the same application: upload i puts rows[i]
// into variants[i], after pre was uploaded (into its own variant) before the round.
type raceRound struct {
	prefix   string
	pre      []string
	rows     [][]licenses.UploadRow
	variants []*ent.LicenseVariant
}

// overlappingRound builds round it over the variants: every upload has ten codes all the
// uploads have, two it shares with the next upload and two with the previous one, three of its
// own, the pre codes, and its first shared code a second time written differently (lower case,
// other hyphens), all in a random order.
func overlappingRound(it int, variants []*ent.LicenseVariant) raceRound {
	k := len(variants)
	r := raceRound{prefix: fmt.Sprintf("R%03dX", it), variants: variants}
	code := func(kind string, n int) string { return fmt.Sprintf("%s-%s%02d", r.prefix, kind, n) }
	r.pre = []string{code("P", 0), code("P", 1)}
	for i := range k {
		var cs []string
		for j := range 10 {
			cs = append(cs, code("S", j))
		}
		cs = append(cs, code("N", 2*i), code("N", 2*i+1), code("N", 2*((i+k-1)%k)), code("N", 2*((i+k-1)%k)+1))
		for j := range 3 {
			cs = append(cs, code("U", 3*i+j))
		}
		cs = append(cs, r.pre...)
		key := strings.ToLower(strings.ReplaceAll(code("S", 0), "-", ""))
		cs = append(cs, key[:2]+"-"+key[2:])
		rand.Shuffle(len(cs), func(a, b int) { cs[a], cs[b] = cs[b], cs[a] })
		rows := make([]licenses.UploadRow, len(cs))
		for j, c := range cs {
			rows[j] = licenses.UploadRow{Line: j + 1, Code: c}
		}
		r.rows = append(r.rows, rows)
	}
	return r
}

func keyOf(t testing.TB, code string) string {
	t.Helper()
	_, k, ok := licenses.CheckUploadedCode(code)
	if !ok {
		t.Fatalf("test code %q is not valid", code)
	}
	return k
}

// checkRound asserts what overlapping uploads must leave, whatever their order: each code of
// the round stored exactly once, in the variant of an upload that had it; each upload's
// Created equal to the codes stored in its variant (so the counts add up to the distinct new
// codes); no row refused; and no code reported as a duplicate that the upload itself stored,
// or more often than the upload repeated it, while a code stored before the round is
// reported by every upload that had it; every row is either created or a duplicate.
func checkRound(t *testing.T, db *store.DB, app *ent.Application, preVariant *ent.LicenseVariant, r raceRound, got []*licenses.Uploaded) {
	t.Helper()
	stored := must[[]*ent.LicenseCode](t)(db.LicenseCode.Query().
		Where(licensecode.ApplicationID(app.ID), licensecode.CodeKeyHasPrefix(r.prefix)).All(context.Background()))
	variantOfKey := map[string]string{}
	for _, c := range stored {
		if v, ok := variantOfKey[c.CodeKey]; ok {
			t.Fatalf("code %s stored twice (variants %s and %s)", c.CodeKey, v, c.VariantID)
		}
		variantOfKey[c.CodeKey] = c.VariantID
	}
	want := map[string]bool{}
	for _, c := range r.pre {
		want[keyOf(t, c)] = true
		if v := variantOfKey[keyOf(t, c)]; v != preVariant.ID {
			t.Fatalf("code %s stored before the round is now in variant %q, want %s", c, v, preVariant.ID)
		}
	}
	created := 0
	for i, rows := range r.rows {
		u := got[i]
		if len(u.Invalid) != 0 {
			t.Fatalf("upload %d refused rows: %+v", i, u.Invalid)
		}
		occurs := map[string]int{}
		for _, row := range rows {
			k := keyOf(t, row.Code)
			occurs[k]++
			want[k] = true
		}
		inVariant := 0
		for k, v := range variantOfKey {
			if v == r.variants[i].ID {
				inVariant++
				if occurs[k] == 0 {
					t.Fatalf("code %s is in the variant of upload %d, which did not have it", k, i)
				}
			}
		}
		if u.Created != inVariant {
			t.Fatalf("upload %d reports %d created; its variant holds %d codes of the round", i, u.Created, inVariant)
		}
		created += u.Created
		if u.Created+len(u.Duplicates) != len(rows) {
			t.Fatalf("upload %d of %d rows reports %d created and %d duplicates: rows unaccounted for", i, len(rows), u.Created, len(u.Duplicates))
		}
		dups := map[string]int{}
		for _, d := range u.Duplicates {
			dups[keyOf(t, d)]++
		}
		for k, n := range dups {
			mine := 0
			if variantOfKey[k] == r.variants[i].ID {
				mine = 1
			}
			if n+mine > occurs[k] {
				t.Fatalf("upload %d reports %s as a duplicate %d times; it had it %d times and stored it %d times", i, k, n, occurs[k], mine)
			}
		}
		for _, c := range r.pre {
			if k := keyOf(t, c); dups[k] != occurs[k] {
				t.Fatalf("upload %d reports the stored code %s as a duplicate %d times, want %d", i, k, dups[k], occurs[k])
			}
		}
	}
	for k := range want {
		if _, ok := variantOfKey[k]; !ok {
			t.Fatalf("code %s of the round was not stored", k)
		}
	}
	if len(stored) != len(want) {
		t.Fatalf("%d codes of the round stored, want the %d distinct ones", len(stored), len(want))
	}
	if fresh := len(want) - len(r.pre); created != fresh {
		t.Fatalf("the uploads report %d created together, want the %d distinct new codes", created, fresh)
	}
}

// runRound uploads r.pre, then every upload of r at once, each released by start; it returns
// what the upload of r.pre and each racing upload reported, and fails on any error.
func runRound(t *testing.T, w *world, preVariant *ent.LicenseVariant, r raceRound) (*licenses.Uploaded, []*licenses.Uploaded) {
	t.Helper()
	rows := make([]licenses.UploadRow, len(r.pre))
	for i, c := range r.pre {
		rows[i] = licenses.UploadRow{Code: c}
	}
	pre, err := w.svc.UploadCodes(as(w.dev), w.app.ID, preVariant.ID, rows)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]*licenses.Uploaded, len(r.rows))
	errs := make([]error, len(r.rows))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range r.rows {
		wg.Go(func() {
			ctx := context.WithValue(as(w.dev), uploadIndex{}, i)
			<-start
			got[i], errs[i] = w.svc.UploadCodes(ctx, w.app.ID, r.variants[i].ID, r.rows[i])
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("upload %d of %s: %v", i, r.prefix, err)
		}
	}
	return pre, got
}

// checkUploadLog asserts that the codes_uploaded entries of app are one per upload of got
// (every upload made), each with the count that upload reported.
func checkUploadLog(t *testing.T, db *store.DB, app *ent.Application, got []*licenses.Uploaded) {
	t.Helper()
	var logged []int
	for _, a := range licenseActions(t, db, app) {
		if n, ok := strings.CutPrefix(a, "codes_uploaded:"); ok {
			var c int
			fmt.Sscan(n, &c)
			logged = append(logged, c)
		}
	}
	var reported []int
	for _, u := range got {
		reported = append(reported, u.Created)
	}
	slices.Sort(logged)
	slices.Sort(reported)
	if !slices.Equal(logged, reported) {
		t.Fatalf("codes_uploaded logged %v, uploads reported %v", logged, reported)
	}
}

// raceWorld is a world with a real rate limiter (Redis when the environment names one) that
// allows the test's uploads, a variant for the codes stored before each round and n variants
// for the racing uploads.
func raceWorld(t *testing.T, db *store.DB, n int) (*world, *ent.LicenseVariant, []*ent.LicenseVariant) {
	t.Helper()
	w := newWorld(t, db)
	w.svc.Limiter = ratelimit.New(kvtest.Real(t))
	w.svc.Bulk = ratelimit.Rule{Name: "bulk-" + strings.ToLower(w.app.ID), N: 100000, Window: time.Hour}
	pre := w.variant(t, "Before", "")
	var vs []*ent.LicenseVariant
	for i := range n {
		vs = append(vs, w.variant(t, fmt.Sprintf("Racer %d", i), ""))
	}
	return w, pre, vs
}

// TestConcurrentOverlappingUploadsStoreEachCodeOnceAndCountIt: uploads of overlapping codes
// released at the same moment, round after round, never fail, store each code once, and
// report (and log) created counts that add up to the distinct new codes, with no code counted
// by two uploads and no duplicate reported that is not one.
func TestConcurrentOverlappingUploadsStoreEachCodeOnceAndCountIt(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		const racers, rounds = 3, 40
		w, preVariant, vs := raceWorld(t, db, racers)
		var all []*licenses.Uploaded
		for it := range rounds {
			r := overlappingRound(it, vs)
			pre, got := runRound(t, w, preVariant, r)
			checkRound(t, db, w.app, preVariant, r, got)
			all = append(append(all, pre), got...)
		}
		checkUploadLog(t, db, w.app, all)
	})
}

// TestUploadsThatAllCheckedBeforeAnyInsertedStoreEachCodeOnce: when every upload of a round
// has looked for existing codes before any of them inserts (a barrier after the duplicate
// check), all of them find the overlapping codes new; the inserts still store each code once
// and the counts still add up to the distinct new codes.
func TestUploadsThatAllCheckedBeforeAnyInsertedStoreEachCodeOnce(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		const racers, rounds = 3, 15
		w, preVariant, vs := raceWorld(t, db, racers)
		var barrier atomic.Pointer[checkBarrier]
		db.LicenseCode.Intercept(ent.InterceptFunc(func(next ent.Querier) ent.Querier {
			return ent.QuerierFunc(func(ctx context.Context, q ent.Query) (ent.Value, error) {
				v, err := next.Query(ctx, q)
				if i, ok := ctx.Value(uploadIndex{}).(int); ok {
					if b := barrier.Load(); b != nil {
						b.arrive(t, i)
					}
				}
				return v, err
			})
		}))
		for it := range rounds {
			r := overlappingRound(it, vs)
			b := newCheckBarrier(racers)
			barrier.Store(b)
			_, got := runRound(t, w, preVariant, r)
			barrier.Store(nil)
			if !b.passed() {
				t.Fatal("the uploads never all checked before inserting")
			}
			checkRound(t, db, w.app, preVariant, r, got)
		}
	})
}

// checkBarrier holds each of n uploads after its first query of license codes (the duplicate
// check) until all n have made it.
type checkBarrier struct {
	mu      sync.Mutex
	arrived map[int]bool
	all     chan struct{}
	n       int
}

func newCheckBarrier(n int) *checkBarrier {
	return &checkBarrier{arrived: map[int]bool{}, all: make(chan struct{}), n: n}
}

func (b *checkBarrier) arrive(t *testing.T, i int) {
	b.mu.Lock()
	if b.arrived[i] {
		b.mu.Unlock()
		return
	}
	b.arrived[i] = true
	if len(b.arrived) == b.n {
		close(b.all)
	}
	b.mu.Unlock()
	select {
	case <-b.all:
	case <-time.After(10 * time.Second):
		t.Errorf("upload %d waited 10s for the others to check their codes", i)
	}
}

func (b *checkBarrier) passed() bool {
	select {
	case <-b.all:
		return true
	default:
		return false
	}
}

// gapHook runs rival right after the checks-th license-code query of a context marked
// uploadIndex: the last query of the duplicate check of the upload under test, which asks
// for the keys of its codes a batch (1,000) at a time, before its transaction begins. It
// returns whether rival has run.
func gapHook(db *store.DB, checks int, rival func()) (ran func() bool) {
	var seen atomic.Int64
	db.LicenseCode.Intercept(ent.InterceptFunc(func(next ent.Querier) ent.Querier {
		return ent.QuerierFunc(func(ctx context.Context, q ent.Query) (ent.Value, error) {
			v, err := next.Query(ctx, q)
			if _, ok := ctx.Value(uploadIndex{}).(int); ok && seen.Add(1) == int64(checks) {
				rival()
			}
			return v, err
		})
	}))
	return func() bool { return seen.Load() >= int64(checks) }
}

// TestACodeUploadedBetweenTheCheckAndTheInsertIsSkippedNotCounted: another upload that
// stores some of the same codes after this upload looked for existing ones and before it
// inserts (forced: it runs inside the gap) neither makes this upload fail nor gets those codes
// stored twice or counted by both; across more than one insert batch the count is of every
// batch.
func TestACodeUploadedBetweenTheCheckAndTheInsertIsSkippedNotCounted(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		w, _, vs := raceWorld(t, db, 2)
		const n = 2500 // three SQLite insert batches of 1,000
		var mine []licenses.UploadRow
		for i := range n {
			mine = append(mine, licenses.UploadRow{Line: i + 1, Code: fmt.Sprintf("GAP-%05d", i)})
		}
		// The rival has one code of each batch, written differently, and one of its own.
		theirs := []licenses.UploadRow{{Code: "gap00007"}, {Code: "GAP-0-1500"}, {Code: "Gap-02499"}, {Code: "GAP-RIVAL"}}
		var rival *licenses.Uploaded
		var rivalErr error
		ran := gapHook(db, 3, func() {
			rival, rivalErr = w.svc.UploadCodes(as(w.dev), w.app.ID, vs[1].ID, theirs)
		})
		got, err := w.svc.UploadCodes(context.WithValue(as(w.dev), uploadIndex{}, 0), w.app.ID, vs[0].ID, mine)
		if !ran() {
			t.Fatal("the rival upload never ran")
		}
		if rivalErr != nil {
			t.Fatalf("rival upload: %v", rivalErr)
		}
		if err != nil {
			t.Fatalf("the upload that lost three codes to the rival failed: %v", err)
		}
		if rival.Created != 4 {
			t.Fatalf("rival created %d, want 4", rival.Created)
		}
		if got.Created != n-3 {
			t.Fatalf("the upload reports %d created, want %d (three of its codes were stored by the rival first)", got.Created, n-3)
		}
		for _, d := range got.Duplicates {
			if k := keyOf(t, d); k != "GAP00007" && k != "GAP01500" && k != "GAP02499" {
				t.Fatalf("the upload reports %s as a duplicate; only the rival's codes were", d)
			}
		}
		if c := must[int](t)(db.LicenseCode.Query().Where(licensecode.VariantID(vs[0].ID)).Count(context.Background())); c != n-3 {
			t.Fatalf("the upload's variant holds %d codes, want %d", c, n-3)
		}
		if c := must[int](t)(db.LicenseCode.Query().Where(licensecode.ApplicationID(w.app.ID)).Count(context.Background())); c != n+1 {
			t.Fatalf("the application holds %d codes, want the %d distinct ones", c, n+1)
		}
		for _, k := range []string{"GAP00007", "GAP01500", "GAP02499"} {
			c := must[*ent.LicenseCode](t)(db.LicenseCode.Query().Where(licensecode.ApplicationID(w.app.ID), licensecode.CodeKey(k)).Only(context.Background()))
			if c.VariantID != vs[1].ID {
				t.Fatalf("code %s is in variant %s, want the rival's %s", k, c.VariantID, vs[1].ID)
			}
		}
		checkUploadLog(t, db, w.app, []*licenses.Uploaded{rival, got})
	})
}

// TestACodeUploadedMeanwhileIsReportedAsADuplicate: every uploaded row is accounted for in
// the report — created, a duplicate or invalid. A code another upload stores between this
// upload's duplicate check and its insert is already present when this upload inserts, so it
// is reported among the duplicates like a code stored before the upload began.
func TestACodeUploadedMeanwhileIsReportedAsADuplicate(t *testing.T) {
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		w, _, vs := raceWorld(t, db, 2)
		mine := []licenses.UploadRow{{Line: 1, Code: "MINE-0001"}, {Line: 2, Code: "BOTH-0001"}, {Line: 3, Code: "BOTH-0002"}}
		var rivalErr error
		ran := gapHook(db, 1, func() {
			_, rivalErr = w.svc.UploadCodes(as(w.dev), w.app.ID, vs[1].ID,
				[]licenses.UploadRow{{Code: "BOTH-0001"}, {Code: "BOTH-0002"}, {Code: "THEIRS-01"}})
		})
		got, err := w.svc.UploadCodes(context.WithValue(as(w.dev), uploadIndex{}, 0), w.app.ID, vs[0].ID, mine)
		if !ran() || rivalErr != nil || err != nil {
			t.Fatalf("rival ran %v (%v); upload: %v", ran(), rivalErr, err)
		}
		slices.Sort(got.Duplicates)
		if got.Created != 1 || !slices.Equal(got.Duplicates, []string{"BOTH-0001", "BOTH-0002"}) || len(got.Invalid) != 0 {
			t.Fatalf("upload of 3 codes, 2 stored meanwhile by another = created %d, duplicates %v, invalid %v; "+
				"want 1 created and BOTH-0001, BOTH-0002 as duplicates", got.Created, got.Duplicates, got.Invalid)
		}
	})
}
