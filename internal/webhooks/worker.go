package webhooks

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	stdsql "database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	"entgo.io/ent/dialect"

	"loginsign/ent"
	"loginsign/ent/application"
	"loginsign/ent/predicate"
	"loginsign/ent/webhookevent"
	"loginsign/internal/apperr"
	"loginsign/internal/groupcommit"
	"loginsign/internal/seal"
	"loginsign/internal/store"
)

// RetrySchedule is the Standard Webhooks schedule: RetrySchedule[n] is the wait after the
// n-th failed attempt before the next one (the first attempt is immediate). After the last
// entry's attempt fails the event is marked failed. Each wait gets jitter.
var RetrySchedule = [...]time.Duration{
	5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour,
	10 * time.Hour, 14 * time.Hour, 20 * time.Hour, 24 * time.Hour,
}

// MaxAttempts is how many times an event is tried before it is marked failed.
const MaxAttempts = len(RetrySchedule) + 1

// maxAttempts is how many times an event of type typ is tried before it is marked failed:
// MaxAttempts, but a test event (ping) only once. The portal shows the test's one answer
// to the developer, who sends another if they want; retried for a day, the pings of many
// applications whose endpoints never answer would keep the worker busy for nothing.
func maxAttempts(typ string) int {
	if typ == TypePing {
		return 1
	}
	return MaxAttempts
}

// MaxErrorBytes bounds the error text the delivery log keeps of one attempt (the event's last
// error and the attempt's): up to 256 bytes of a failed answer's body after its status line.
const MaxErrorBytes = 512

// maxRetryAfter caps how long a receiver's Retry-After may postpone the next attempt.
const maxRetryAfter = 24 * time.Hour

// WorkerConfig configures NewWorker. Zero values take the defaults.
type WorkerConfig struct {
	// Secrets opens Application.webhook_secret (the portal's WebhookSecrets sealer). Required.
	Secrets *seal.Sealer
	// AllowPrivate lets deliveries reach private and loopback addresses (dev mode only).
	AllowPrivate bool
	// Resolver looks receivers' host names up for the default Client. Default
	// net.DefaultResolver.
	Resolver Resolver
	// Client sends the deliveries. Default NewClientResolving(AllowPrivate, Resolver).
	Client *http.Client
	// Now is the clock that decides what is due and schedules retries. Default time.Now.
	Now func() time.Time
	// Jitter spreads a retry wait. Default: uniformly within ±10 %.
	Jitter func(time.Duration) time.Duration
	// Lease is how long a claimed event stays reserved for the worker that claimed it; a worker
	// that dies mid-delivery delays the event by at most this. Default 1 minute (well above the
	// 10 s delivery timeout; never less than twice Timeout).
	Lease time.Duration
	// Batch is how many events one claim takes at most. Default 32.
	Batch int
	// PerApplication is how many of one application's events may be claimed at once, by all
	// workers together (a live claim counts until its attempt is recorded or its lease ends).
	// An application's backlog, or an endpoint that never answers, thus holds at most this
	// many delivery slots, and other applications' due events are claimed next to it.
	// Default 4.
	PerApplication int
	// PerOwner is how many events of one developer's applications together may be claimed
	// at once, by all workers together, counted as PerApplication is. A developer may own
	// many applications (up to 100), so without it endpoints that never answer, spread over
	// a few applications, could hold every delivery slot, and other developers' events,
	// back-channel logouts among them, would wait behind theirs. Default half of Parallel
	// (8 with the default 16), at least 1: one developer never holds more than half of a
	// worker's slots, however many instances share the outbox.
	PerOwner int
	// Parallel is how many deliveries one worker runs at once. Run claims again as soon as
	// one finishes, so a slow delivery holds only its own slot. Default 16.
	Parallel int
	// SlowLane is how many of this worker's Parallel deliveries the applications in its slow
	// lane may hold together: those whose last attempt here timed out or took SlowAfter or
	// longer, until an attempt of theirs succeeds faster. The other slots are only for
	// applications without that record, so receivers that keep answering slowly or never,
	// spread over a few free accounts, delay only each other, not the webhooks and
	// back-channel logouts of everyone else. Within each lane back-channel logouts come
	// first. Default a quarter of Parallel (4 with the default 16), at least 1; an
	// application without a slow record may use any free slot.
	SlowLane int
	// SlowAfter is how long an attempt may take before its application goes to the slow
	// lane (a timed-out attempt always does). Default 3 s, at most half of Timeout.
	SlowAfter time.Duration
	// Poll is how often an idle worker looks for due events. Default 1 s.
	Poll time.Duration
	// Timeout bounds one attempt, answer included. Default DeliveryTimeout (10 s).
	Timeout time.Duration
	// UserAgent is sent with every delivery. Default "LoginSign-Webhooks/1".
	UserAgent string
	// Observe, when set, is told the result of every attempt ("delivered", "retry", "failed"
	// or "gone") and how long it took (for metrics).
	Observe func(result string, took time.Duration)
	// Log receives one line per failed attempt. Default slog.Default().
	Log *slog.Logger
	// LogoutToken signs the logout token of a back-channel logout event at each attempt (so
	// its short exp is fresh), from the event's stored claims. Without it such events fail.
	LogoutToken func(ctx context.Context, app *ent.Application, claims []byte) (string, error)
	// Housekeeping, when set, runs when the worker starts and then every HousekeepingEvery
	// (default 1 h), between claims (deliveries in flight go on): the activity log's
	// retention purge.
	Housekeeping      func(ctx context.Context)
	HousekeepingEvery time.Duration
}

// Worker delivers due events of the outbox. Any number of workers, in any number of server
// instances, may share one database: each attempt of an event is claimed by exactly one of
// them (FOR UPDATE SKIP LOCKED on PostgreSQL, a conditional UPDATE on SQLite), and a claim
// that is never finished expires after the lease, so a crash only delays a delivery.
type Worker struct {
	db   *store.DB
	cfg  WorkerConfig
	wake chan struct{}
	// dueQuery is anyDue's statement (see dueQuery).
	dueQuery string
	// claimQuery is Claim's choice of events (see claimQuery).
	claimQuery string
	// records group-commits the attempts of deliveries that finish together.
	records groupcommit.Queue[attemptResult]
	// lanes is the slow lane: which applications are in it and which claims hold its slots.
	lanes lanes
	// sqliteWrites serializes this worker's write transactions on SQLite, which has a single
	// writer: queueing here is cheaper than SQLite's sleeping busy handler.
	sqliteWrites sync.Mutex
}

// writeTx runs fn in a write transaction.
func (w *Worker) writeTx(ctx context.Context, fn func(tx *ent.Tx) error) error {
	if w.db.Dialect == dialect.SQLite {
		w.sqliteWrites.Lock()
		defer w.sqliteWrites.Unlock()
	}
	return w.db.Tx(ctx, fn)
}

// NewWorker returns a worker over db.
func NewWorker(db *store.DB, cfg WorkerConfig) *Worker {
	if cfg.Client == nil {
		cfg.Client = NewClientResolving(cfg.AllowPrivate, cfg.Resolver)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Jitter == nil {
		cfg.Jitter = func(d time.Duration) time.Duration {
			return d + time.Duration((rand.Float64()*0.2-0.1)*float64(d))
		}
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DeliveryTimeout
	}
	if cfg.Lease <= 0 {
		cfg.Lease = time.Minute
	}
	// A lease shorter than an attempt could let a second worker send the same attempt.
	cfg.Lease = max(cfg.Lease, 2*cfg.Timeout)
	if cfg.Batch <= 0 {
		cfg.Batch = 32
	}
	if cfg.PerApplication <= 0 {
		cfg.PerApplication = 4
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = 16
	}
	if cfg.PerOwner <= 0 {
		cfg.PerOwner = max(1, cfg.Parallel/2)
	}
	if cfg.SlowLane <= 0 {
		cfg.SlowLane = max(1, cfg.Parallel/4)
	}
	if cfg.SlowAfter <= 0 {
		cfg.SlowAfter = min(3*time.Second, cfg.Timeout/2)
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.HousekeepingEvery <= 0 {
		cfg.HousekeepingEvery = time.Hour
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "LoginSign-Webhooks/1"
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	w := &Worker{db: db, cfg: cfg, wake: make(chan struct{}, 1),
		lanes: lanes{slow: map[string]*slowRecord{}, held: map[string]time.Time{}}}
	w.dueQuery = dueQuery(db.Dialect)
	w.claimQuery = claimQuery(db.Dialect)
	return w
}

func (w *Worker) now() time.Time { return w.cfg.Now().UTC() }

// Run delivers due events until ctx ends, then waits for the deliveries in flight. It keeps
// up to Parallel deliveries going and claims again whenever one finishes (its attempt
// recorded), so the slowest delivery of a claim never holds back the next claim.
func (w *Worker) Run(ctx context.Context) {
	t := time.NewTicker(w.cfg.Poll)
	defer t.Stop()
	var housekeep <-chan time.Time
	if w.cfg.Housekeeping != nil {
		w.cfg.Housekeeping(ctx)
		h := time.NewTicker(w.cfg.HousekeepingEvery)
		defer h.Stop()
		housekeep = h.C
	}
	var (
		deliveries sync.WaitGroup
		inFlight   int
		// finished gets one value per claimed event once it is done with; never more
		// than Parallel are outstanding, so sending never blocks.
		finished = make(chan struct{}, w.cfg.Parallel)
	)
	defer deliveries.Wait()
	for {
		for ctx.Err() == nil && inFlight < w.cfg.Parallel {
			want := min(w.cfg.Batch, w.cfg.Parallel-inFlight)
			evs, err := w.Claim(ctx, want)
			if err != nil {
				if ctx.Err() == nil {
					w.cfg.Log.Error("webhooks: claiming due events", "err", err)
				}
				break
			}
			inFlight += len(evs)
			if len(evs) > 0 {
				deliveries.Go(func() {
					w.deliverAll(context.WithoutCancel(ctx), evs, func() { finished <- struct{}{} })
				})
			}
			if len(evs) < want {
				break // nothing more is claimable now
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-finished:
			inFlight--
			for more := true; more; {
				select {
				case <-finished:
					inFlight--
				default:
					more = false
				}
			}
		case <-t.C:
		case <-w.wake:
		case <-housekeep:
			w.cfg.Housekeeping(ctx)
		}
	}
}

// Wake makes a running worker look for due events now instead of at its next poll.
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// DeliverDue claims one batch of due events and delivers them, and returns how many it
// claimed. Deliveries already started finish even when ctx ends.
func (w *Worker) DeliverDue(ctx context.Context) (int, error) {
	evs, err := w.Claim(ctx, w.cfg.Batch)
	if err != nil || len(evs) == 0 {
		return 0, err
	}
	w.deliverAll(context.WithoutCancel(ctx), evs, nil)
	return len(evs), nil
}

// deliverAll delivers a claimed batch, Parallel at a time, and records each attempt as soon
// as it is made (attempts finishing together share one transaction); it returns when all
// are recorded. finished, if not nil, is called once per event after its attempt is
// recorded (or found not to be sent). The batch's applications are loaded once; once one
// answers 410 Gone, its events in the batch not yet sent are not sent.
func (w *Worker) deliverAll(ctx context.Context, evs []*ent.WebhookEvent, finished func()) {
	done := func() {
		if finished != nil {
			finished()
		}
	}
	appIDs := make([]string, 0, len(evs))
	for _, ev := range evs {
		appIDs = append(appIDs, ev.ApplicationID)
	}
	apps, err := w.db.Application.Query().Where(application.IDIn(appIDs...)).All(ctx)
	if err != nil {
		w.cfg.Log.Error("webhooks: loading applications", "err", err)
		for range evs {
			done() // the claims expire and the events are tried again
		}
		return
	}
	byID := make(map[string]*ent.Application, len(apps))
	for _, a := range apps {
		byID[a.ID] = a
	}
	var (
		gone sync.Map
		wg   sync.WaitGroup
	)
	sem := make(chan struct{}, w.cfg.Parallel)
	for _, ev := range evs {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { w.lanes.release(ev.ID); <-sem; wg.Done(); done() }()
			app := byID[ev.ApplicationID]
			if _, ok := gone.Load(ev.ApplicationID); ok && ev.Type != TypeBackchannelLogout || app == nil || !hasTarget(app, ev) {
				// Not sent; the 410's record disables it, or this marks it disabled.
				if !ok {
					w.logErr(w.Deliver(ctx, ev), ev)
				}
				return
			}
			if dropped, err := w.dropEnded(ctx, ev); err != nil || dropped {
				w.logErr(err, ev) // on an error the claim expires and the event is tried again
				return
			}
			o := w.post(ctx, app, ev)
			if o.status == http.StatusGone {
				gone.Store(ev.ApplicationID, true)
			}
			w.records.Do(attemptResult{ev, o}, max(w.cfg.Batch, w.cfg.Parallel), func(rs []attemptResult) {
				if err := w.recordAll(ctx, rs); err != nil {
					w.cfg.Log.Error("webhooks: recording deliveries", "err", err)
				}
			}, nil, nil)
		}()
	}
	wg.Wait()
}

func (w *Worker) logErr(err error, ev *ent.WebhookEvent) {
	if err != nil {
		w.cfg.Log.Error("webhooks: recording a delivery", "event", ev.ID, "err", err)
	}
}

// due selects events whose next attempt has come and that no live claim holds.
func due(now time.Time) []predicate.WebhookEvent {
	return []predicate.WebhookEvent{
		webhookevent.StatusEQ(webhookevent.StatusPending),
		webhookevent.NextAttemptAtLTE(now),
		webhookevent.Or(webhookevent.LockedUntilIsNil(), webhookevent.LockedUntilLT(now)),
	}
}

// anyDue reports whether an event is due at now, in one read of a statement that stays
// prepared: the poll of an idle worker, every second, takes no write transaction and builds
// no query. The statement is dueQuery's.
func (w *Worker) anyDue(ctx context.Context, now time.Time) (bool, error) {
	var one int
	err := w.db.SQL.QueryRowContext(ctx, w.dueQuery, now).Scan(&one)
	if errors.Is(err, stdsql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// dueQuery renders, for dialect d, a one-row SELECT that finds a row when an event is due
// at $1: it walks the pending streams (pendingStreams) up to the first with a due event. (A
// scalar subquery looks at each stream's head: PostgreSQL runs an EXISTS as a join, reading
// every due event.)
func dueQuery(d string) string {
	return pendingStreams(d) + `
SELECT 1 FROM streams s WHERE (SELECT 1 FROM webhook_events WHERE ` + dueIn + ` LIMIT 1) = 1 LIMIT 1`
}

// dueIn is due's condition at $1 (see due) on the events of stream s: a range of
// webhookevent_streams.
const dueIn = `status = 'pending' AND application_id = s.application_id AND type = s.type
	AND next_attempt_at <= $1 AND (locked_until IS NULL OR locked_until < $1)`

// pendingStreams renders, for dialect d, the recursive table streams(application_id, type)
// of the pending streams: an application's pending events of one type, one range of
// webhookevent_streams each. It skips from the first event of a stream to the first of the
// next, so it reads a few index entries per stream, however long the streams are. Each step
// is a correlated subquery, so that no plan can read a whole stream: on PostgreSQL a LATERAL
// one; SQLite has no LATERAL and would search a row value's range by its first column only
// (reading the rest of the stream), so there a step is the next type of s's application, or
// else the next application's first.
func pendingStreams(d string) string {
	next := `CROSS JOIN LATERAL (SELECT application_id, type FROM webhook_events
		WHERE status = 'pending' AND (application_id, type) > (s.application_id, s.type)
		ORDER BY application_id, type LIMIT 1) e`
	if d != dialect.Postgres {
		next = `JOIN webhook_events e ON e.id = COALESCE(
		(SELECT id FROM webhook_events WHERE status = 'pending' AND application_id = s.application_id AND type > s.type
			ORDER BY type LIMIT 1),
		(SELECT id FROM webhook_events WHERE status = 'pending' AND application_id > s.application_id
			ORDER BY application_id, type LIMIT 1))`
	}
	return `WITH RECURSIVE streams(application_id, type) AS (
	SELECT application_id, type FROM webhook_events WHERE id = (
		SELECT id FROM webhook_events WHERE status = 'pending' ORDER BY application_id, type LIMIT 1)
	UNION ALL
	SELECT e.application_id, e.type FROM streams s ` + next + `
)`
}

// claimQuery renders Claim's choice for dialect d: the due events, back-channel logouts
// first and then the oldest, of which an application gets only as many as leave at most
// PerApplication of its events claimed, and the applications of one owner (the developer)
// together only as many as leave at most PerOwner claimed (all their live claims count, also
// those beyond an application's cap, which concurrent claims can make).
//
// What it reads does not grow with an application's backlog: it walks the pending streams
// (pendingStreams), takes from the head of each at most PerApplication due events, and
// counts each application's live claims among the locked events alone
// (webhookevent_live_claims; only a pending event is ever locked), up to PerApplication +
// PerOwner of them, past which neither cap changes: bounded, the count is an index scan,
// which marks the entries of claims recorded since as dead for the next count to skip (a
// bitmap scan, which PostgreSQL takes for an unbounded count, reads them all again until
// VACUUM). The ranking then runs on what it took. Its arguments are now, PerApplication,
// PerOwner, the claim's limit, the applications of the slow lane (a JSON array of their ids)
// and how many of the slow lane's slots are free: the slow lane's events past that are left
// out before the limit, so they never crowd out the others' (see WorkerConfig.SlowLane).
func claimQuery(d string) string {
	// A back-channel logout ends sessions at a relying party; it should not wait behind
	// webhooks that merely inform. urgency(t) ranks it 0 by its type column t, others 1.
	urgency := func(t string) string {
		return `CASE WHEN ` + t + ` = '` + TypeBackchannelLogout + `' THEN 0 ELSE 1 END`
	}
	// The head of each stream s: a LATERAL subquery on PostgreSQL, an IN list run once per
	// stream on SQLite.
	head := func(cols string) string {
		return `SELECT ` + cols + ` FROM webhook_events WHERE ` + dueIn + ` ORDER BY next_attempt_at, id LIMIT $2`
	}
	// The slow lane's application ids, from the JSON array $5.
	slowApps := `SELECT jsonb_array_elements_text(CAST($5 AS jsonb))`
	if d != dialect.Postgres {
		slowApps = `SELECT value FROM json_each($5)`
	}
	take := `CROSS JOIN LATERAL (` + head("id, type, next_attempt_at") + `) e`
	if d != dialect.Postgres {
		take = `JOIN webhook_events e ON e.id IN (` + head("id") + `)`
	}
	q := pendingStreams(d) + `, apps AS (
	SELECT application_id, owner_id, live, SUM(live) OVER (PARTITION BY owner_id) AS owner_live FROM (
		SELECT s.application_id,
			(SELECT owner_id FROM applications WHERE id = s.application_id) AS owner_id,
			(SELECT COUNT(*) FROM (SELECT 1 FROM webhook_events WHERE application_id = s.application_id AND locked_until >= $1
				LIMIT CAST($2 AS INTEGER) + $3) l) AS live
		FROM (SELECT DISTINCT application_id FROM streams) s
	) counted
), taken AS (
	SELECT e.id, e.next_attempt_at, ` + urgency("e.type") + ` AS urgency, a.application_id, a.owner_id, a.live, a.owner_live
	FROM streams s JOIN apps a ON a.application_id = s.application_id ` + take + `
), by_app AS (
	SELECT *, ROW_NUMBER() OVER (PARTITION BY application_id ORDER BY urgency, next_attempt_at, id) AS app_rank FROM taken
), by_owner AS (
	SELECT *, ROW_NUMBER() OVER (PARTITION BY owner_id ORDER BY urgency, next_attempt_at, id) AS owner_rank
	FROM by_app WHERE app_rank <= $2 - live
)
, lanes AS (
	SELECT *, ROW_NUMBER() OVER (PARTITION BY slow ORDER BY urgency, next_attempt_at, id) AS lane_rank FROM (
		SELECT *, CASE WHEN application_id IN (` + slowApps + `) THEN 1 ELSE 0 END AS slow
		FROM by_owner WHERE owner_rank <= $3 - owner_live
	) o
)
SELECT id FROM lanes WHERE slow = 0 OR lane_rank <= $6 ORDER BY urgency, next_attempt_at, id LIMIT $4`
	if d != dialect.Postgres {
		return q
	}
	// The chosen rows are then locked, each by its key, FOR UPDATE SKIP LOCKED, due's
	// condition checked again on them (a window function cannot share a query level with FOR
	// UPDATE); ARRAY runs the choice first, so no plan reads the due events to join them.
	return `SELECT e.id FROM unnest(ARRAY(` + q + `)) WITH ORDINALITY AS c(id, n)
CROSS JOIN LATERAL (SELECT id FROM webhook_events WHERE id = c.id
	AND status = 'pending' AND next_attempt_at <= $1 AND (locked_until IS NULL OR locked_until < $1)
	FOR UPDATE SKIP LOCKED) e
ORDER BY c.n`
}

// claimable returns the ids claimQuery chooses at now, in tx, in the order it chose them.
func (w *Worker) claimable(ctx context.Context, tx *ent.Tx, now time.Time, limit int, slow []string, slowFree int) ([]string, error) {
	apps, err := json.Marshal(slow)
	if err != nil {
		return nil, err
	}
	rows, err := tx.QueryContext(ctx, w.claimQuery, now, w.cfg.PerApplication, w.cfg.PerOwner, limit, string(apps), slowFree)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// Claim reserves up to limit due events for this worker for the lease and returns them,
// back-channel logouts first and then the oldest, but none of an application that has
// PerApplication events claimed already (by any worker), nor of a developer whose
// applications together have PerOwner, so neither one application's backlog nor one
// developer's many applications fill a claim while others have due events. The caller must
// Deliver each; one it does not is tried again once the lease ends.
func (w *Worker) Claim(ctx context.Context, limit int) ([]*ent.WebhookEvent, error) {
	now := w.now()
	if due, err := w.anyDue(ctx, now); err != nil || !due {
		return nil, err
	}
	until := now.Add(w.cfg.Lease)
	slow, slowFree := w.lanes.slowLane(now, w.cfg.SlowLane)
	var claimed []string
	err := w.writeTx(ctx, func(tx *ent.Tx) error {
		if w.db.Dialect == dialect.Postgres {
			// A claim need not survive a crash (the event just becomes claimable again), so
			// its commit does not wait for the WAL flush.
			if _, err := tx.ExecContext(ctx, "SET LOCAL synchronous_commit = off"); err != nil {
				return err
			}
			// Rows locked by another claiming transaction are skipped, not waited for.
			ids, err := w.claimable(ctx, tx, now, limit, slow, slowFree)
			if err != nil || len(ids) == 0 {
				return err
			}
			claimed = ids
			return tx.WebhookEvent.Update().Where(webhookevent.IDIn(ids...)).SetLockedUntil(until).Exec(ctx)
		}
		// SQLite: the conditional UPDATE is the claim; a row another worker claimed in
		// between no longer matches and is skipped.
		ids, err := w.claimable(ctx, tx, now, limit, slow, slowFree)
		if err != nil {
			return err
		}
		for _, id := range ids {
			n, err := tx.WebhookEvent.Update().Where(append(due(now), webhookevent.ID(id))...).
				SetLockedUntil(until).Save(ctx)
			if err != nil {
				return err
			}
			if n == 1 {
				claimed = append(claimed, id)
			}
		}
		return nil
	})
	if err != nil || len(claimed) == 0 {
		return nil, err
	}
	evs, err := w.db.WebhookEvent.Query().Where(webhookevent.IDIn(claimed...)).All(ctx)
	if err != nil {
		return nil, err
	}
	w.lanes.hold(evs, slow, until)
	// In claimQuery's order, so that a batch larger than Parallel starts its back-channel
	// logouts first.
	pos := make(map[string]int, len(claimed))
	for i, id := range claimed {
		pos[id] = i
	}
	slices.SortFunc(evs, func(a, b *ent.WebhookEvent) int { return pos[a.ID] - pos[b.ID] })
	return evs, nil
}

// DeliverNow claims the event id if it is due and unclaimed and delivers it at once. It
// reports whether this call delivered it (false: another worker holds it, or it is not due).
func (w *Worker) DeliverNow(ctx context.Context, id string) (bool, error) {
	return w.claimAndDeliver(ctx, id, due(w.now())...)
}

// deliverHeld claims event id, which its caller queued and kept from the workers for a lease
// (Service.hold), whenever no claim holds it, and delivers it at once. It reports whether this
// call delivered it. ctx's values (withAddressBudget, withOneAttempt) go with the attempt, but
// not its end: the request that queued the event is over by then if its client hung up, and
// an attempt not made now was made by a worker once the hold had passed, counting nothing
// against the developer's budget of new receiver addresses.
func (w *Worker) deliverHeld(ctx context.Context, id string) (bool, error) {
	ctx = context.WithoutCancel(ctx)
	now := w.now()
	return w.claimAndDeliver(ctx, id, webhookevent.StatusEQ(webhookevent.StatusPending),
		webhookevent.Or(webhookevent.LockedUntilIsNil(), webhookevent.LockedUntilLT(now)))
}

// deliverLeased delivers at once event id, which its caller made pending and leased in the
// transaction that did (Service.Redeliver), so that neither a worker nor another redelivery
// took it meanwhile. ctx's values (withAddressBudget, withOneAttempt) go with the attempt, but
// not its end (deliverHeld): left to the workers, the redelivery of an event no longer pending
// was retried on the whole schedule, uncounted. An event found no longer pending, or past its
// lease, is left to the workers.
func (w *Worker) deliverLeased(ctx context.Context, id string) error {
	ctx = context.WithoutCancel(ctx)
	ev, err := w.db.WebhookEvent.Get(ctx, id)
	if err != nil {
		return err
	}
	if ev.Status != webhookevent.StatusPending || ev.LockedUntil == nil || !ev.LockedUntil.After(w.now()) {
		return nil
	}
	return w.Deliver(ctx, ev)
}

// claimAndDeliver claims event id for a lease where it meets claimable and delivers it at
// once, reporting whether this call delivered it. A delivery started finishes even when ctx
// ends.
func (w *Worker) claimAndDeliver(ctx context.Context, id string, claimable ...predicate.WebhookEvent) (bool, error) {
	n, err := w.db.WebhookEvent.Update().Where(append(claimable, webhookevent.ID(id))...).
		SetLockedUntil(w.now().Add(w.cfg.Lease)).Save(ctx)
	if err != nil || n == 0 {
		return false, err
	}
	ev, err := w.db.WebhookEvent.Get(ctx, id)
	if err != nil {
		return false, err
	}
	return true, w.Deliver(context.WithoutCancel(ctx), ev)
}

// outcome is what one attempt produced.
type outcome struct {
	status     int // 0: no HTTP answer
	err        string
	retryAfter time.Duration
	duration   time.Duration
}

// Deliver makes one attempt at a claimed event and records it: POST of the stored body,
// signed per the Standard Webhooks specification. A 2xx answer delivers the event; 410 Gone
// disables the application's endpoint and stops its pending events; anything else schedules
// the next attempt (or fails the event after MaxAttempts, a ping after its one attempt).
func (w *Worker) Deliver(ctx context.Context, ev *ent.WebhookEvent) error {
	defer w.lanes.release(ev.ID)
	app, err := w.db.Application.Get(ctx, ev.ApplicationID)
	if err != nil {
		return fmt.Errorf("loading application: %w", err)
	}
	_, err = w.deliver(ctx, ev, app)
	return err
}

// deliver is Deliver with the event's application loaded; it returns the answer's status.
func (w *Worker) deliver(ctx context.Context, ev *ent.WebhookEvent, app *ent.Application) (int, error) {
	if !hasTarget(app, ev) {
		// The endpoint was removed or answered 410 Gone since the event was queued.
		return 0, w.writeTx(ctx, func(tx *ent.Tx) error {
			return tx.WebhookEvent.Update().
				Where(webhookevent.ID(ev.ID), webhookevent.Attempts(ev.Attempts), webhookevent.StatusEQ(webhookevent.StatusPending)).
				SetStatus(webhookevent.StatusDisabled).ClearLockedUntil().Exec(ctx)
		})
	}
	if dropped, err := w.dropEnded(ctx, ev); err != nil || dropped {
		return 0, err
	}
	o := w.post(ctx, app, ev)
	return o.status, w.record(ctx, ev, o)
}

// dropEnded marks ev disabled, not sent, with ConnectionEndedText as its last error in the
// delivery log, when it carries the person's data and their connection to the application
// has ended (connectionEnded), and reports whether it did. Ending a connection withdraws its
// undelivered events (WithdrawConnection), but not one that records no connection, nor one a
// redelivery made pending on an instance without connectionLives: whatever the way in, the
// application gets none of the person's data after the end, at whatever URL it has now.
func (w *Worker) dropEnded(ctx context.Context, ev *ent.WebhookEvent) (bool, error) {
	ended, err := connectionEnded(ctx, w.db.Client, ev)
	if err != nil || !ended {
		return false, err
	}
	return true, w.writeTx(ctx, func(tx *ent.Tx) error {
		return tx.WebhookEvent.Update().
			Where(webhookevent.ID(ev.ID), webhookevent.Attempts(ev.Attempts), webhookevent.StatusEQ(webhookevent.StatusPending)).
			SetStatus(webhookevent.StatusDisabled).SetLastError(ConnectionEndedText).ClearLastStatusCode().
			ClearLockedUntil().Exec(ctx)
	})
}

// hasTarget reports whether ev still has somewhere to go: the back-channel logout URI for a
// logout event, the enabled webhook URL for the others; nowhere for an application being
// deleted (its outbox goes with it).
func hasTarget(app *ent.Application, ev *ent.WebhookEvent) bool {
	if app.DeletingSince != nil {
		return false
	}
	if ev.Type == TypeBackchannelLogout {
		return app.BackchannelLogoutURI != ""
	}
	return app.WebhookURL != "" && app.WebhookDisabledAt == nil
}

// post makes one attempt at ev and notes how fast app's receiver answered (lanes.note).
func (w *Worker) post(ctx context.Context, app *ent.Application, ev *ent.WebhookEvent) outcome {
	o := w.attempt(ctx, app, ev)
	w.lanes.note(app.ID, o, w.cfg.SlowAfter, w.cfg.Timeout, w.now())
	return o
}

func (w *Worker) attempt(ctx context.Context, app *ent.Application, ev *ent.WebhookEvent) outcome {
	if ev.Type == TypeBackchannelLogout {
		return w.postLogout(ctx, app, ev)
	}
	started := time.Now()
	secret, err := w.cfg.Secrets.Open(app.WebhookSecret)
	if err != nil || len(secret) == 0 {
		return outcome{err: "the webhook signing secret cannot be opened; rotate it in the portal"}
	}
	body := []byte(ev.Payload)
	sentAt := w.now() // one instant for the header and the signature
	sig, err := Signature(string(secret), ev.ID, sentAt, body)
	if err != nil {
		return outcome{err: err.Error()}
	}
	// For a day after a reset, the secret it replaced signs too (Standard Webhooks: signatures
	// separated by spaces, the receiver accepts any it can check), so a receiver switched over
	// later keeps accepting deliveries. One that cannot be opened is left out.
	if app.WebhookPreviousSecretUntil != nil && sentAt.Before(*app.WebhookPreviousSecretUntil) {
		if old, err := w.cfg.Secrets.Open(app.WebhookPreviousSecret); err == nil && len(old) > 0 {
			if oldSig, err := Signature(string(old), ev.ID, sentAt, body); err == nil {
				sig += " " + oldSig
			}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, app.WebhookURL, bytes.NewReader(body))
	if err != nil {
		return outcome{err: "invalid webhook URL: " + err.Error()}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", w.cfg.UserAgent)
	req.Header.Set("webhook-id", ev.ID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(sentAt.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	return w.send(req, started)
}

// postLogout POSTs a back-channel logout request (OpenID Connect Back-Channel Logout 1.0
// §2.5): a form body with logout_token, signed now from the event's claims.
func (w *Worker) postLogout(ctx context.Context, app *ent.Application, ev *ent.WebhookEvent) outcome {
	started := time.Now()
	if w.cfg.LogoutToken == nil {
		return outcome{err: "logout tokens cannot be signed by this worker"}
	}
	tok, err := w.cfg.LogoutToken(ctx, app, []byte(ev.Payload))
	if err != nil {
		return outcome{err: "signing the logout token: " + err.Error()}
	}
	ctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, app.BackchannelLogoutURI,
		strings.NewReader(url.Values{"logout_token": {tok}}.Encode()))
	if err != nil {
		return outcome{err: "invalid back-channel logout URI: " + err.Error()}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", w.cfg.UserAgent)
	return w.send(req, started)
}

// send makes one HTTP attempt and describes its outcome. Of a 101 Switching Protocols answer
// nothing after the headers is read: net/http hands its connection to the caller as the body,
// out of reach of the client's Timeout and of the request's context, so a receiver answering
// 101 and then sending nothing held the delivery for ever, and after each lease another one
// (one free account took every delivery slot of every instance, a few a minute).
//
// An answer over TLS (verified: the certificate is valid for the URL's host) gives the
// address it came from back to the developer's budget of new addresses (withAddressBudget).
func (w *Worker) send(req *http.Request, started time.Time) outcome {
	var remote atomic.Value // the address of the connection the request went out on
	budget := budgetOf(req.Context())
	if budget != nil && budget.giveBack != nil {
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			GotConn: func(info httptrace.GotConnInfo) { remote.Store(info.Conn.RemoteAddr().String()) },
		}))
	}
	resp, err := w.cfg.Client.Do(req)
	if err != nil {
		o := outcome{err: w.describe(err), duration: time.Since(started)}
		if o.err == UnreachableHost {
			// No receiver was reached. How long the lookup took (an internal name answered
			// at once by LoginSign's resolver, a missing one after a recursive search) would
			// tell the two apart in the delivery log as the error text no longer does.
			o.duration = 0
		}
		return o
	}
	defer resp.Body.Close()
	if addr, _ := remote.Load().(string); resp.TLS != nil && addr != "" {
		w.giveBack(req.Context(), budget, addr)
	}
	var snippet []byte
	if resp.StatusCode != http.StatusSwitchingProtocols {
		snippet, _ = io.ReadAll(io.LimitReader(resp.Body, 256))
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	}
	o := outcome{status: resp.StatusCode, duration: time.Since(started)}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		o.err = "HTTP " + resp.Status
		if s := strings.TrimSpace(strings.ToValidUTF8(string(snippet), "")); s != "" && utf8.ValidString(s) {
			o.err += ": " + s
		}
		o.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), w.now())
	}
	return o
}

// giveBack gives the count of address addr (a connection's remote address) back to budget;
// a failure is logged, the count then kept.
func (w *Worker) giveBack(ctx context.Context, budget *addressBudget, addr string) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return
	}
	ap = netip.AddrPortFrom(ap.Addr().Unmap().WithZone(""), ap.Port())
	if err := budget.giveBack(ctx, ap.String()); err != nil {
		w.cfg.Log.Warn("webhooks: giving a proven receiver address back to the budget", "err", err)
	}
}

// UnreachableHost is the delivery log's one text for a receiver host that has no public
// address: its name does not resolve, its lookup failed, or it resolves only to addresses
// outside PublicAddr. Told apart, these would let a developer map LoginSign's internal
// names (db.internal resolving to 10.0.0.5 against one that does not exist), one webhook
// URL or ping at a time; the server log keeps which it was.
const UnreachableHost = "the webhook URL's host has no public address: it does not resolve, or only to private or loopback addresses"

// describe shortens a transport error for the delivery log, which the developer reads. It
// names what failed, never an address of LoginSign's own infrastructure (the DNS resolver
// that answered, the local socket) nor what the receiver's name resolved to, nor whether it
// resolved at all (UnreachableHost).
func (w *Worker) describe(err error) string {
	var dnsErr *net.DNSError
	var opErr *net.OpError
	switch {
	case errors.Is(err, ErrAddressBudget):
		w.cfg.Log.Info("webhooks: manual send refused by the developer's budget of new receiver addresses", "error", err.Error())
		if apperr.Is(err, apperr.RateLimited) {
			return "not sent: too many new receiver addresses today (each new host, and each new address a host resolves to, counts against the daily budget of new webhook and back-channel logout hosts); try again later"
		}
		return "not sent: the receiver's address could not be counted against the daily budget of new hosts; try again"
	case errors.Is(err, ErrForbiddenTarget) || errors.As(err, &dnsErr):
		detail := err
		if uerr := (*url.Error)(nil); errors.As(err, &uerr) {
			detail = uerr.Err // without the URL, which may carry the developer's token
		}
		w.cfg.Log.Info("webhooks: receiver host has no public address", "error", detail.Error())
		return UnreachableHost
	case errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "Client.Timeout"):
		return "timeout after " + w.cfg.Timeout.String()
	case strings.Contains(err.Error(), "response headers exceeded") || strings.Contains(err.Error(), "response header list larger"):
		// net/http's words for an answer past MaxResponseHeaderBytes (HTTP/1, HTTP/2).
		return "the answer's headers exceed " + strconv.Itoa(maxAnswerHeaderBytes>>10) + " KiB"
	case strings.Contains(err.Error(), "malformed HTTP") || strings.Contains(err.Error(), "malformed MIME header"),
		strings.Contains(err.Error(), "readLoopPeekFailLocked"):
		// net/http quotes the line it could not read: the banner of whatever answered
		// (an SSH, SMTP or IMAP server reached at the URL's port, one that may answer only
		// LoginSign's addresses), which the delivery log would show to the developer. A
		// banner that arrives before the request is written ends the connection with
		// net/http's "readLoopPeekFailLocked" instead (about one run in twenty of
		// TestDeliveryLogDoesNotShowTheBannerOfANonHTTPService).
		return "the answer is not HTTP"
	case errors.As(err, new(*tls.CertificateVerificationError)):
		return describeCertificate(err)
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset by the receiver"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "the receiver is unreachable"
	case errors.As(err, &opErr):
		return "connection failed (" + opErr.Op + ")"
	}
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	return hostPort.ReplaceAllString(err.Error(), "[address]")
}

// describeCertificate says what is wrong with a receiver's TLS certificate that did not
// verify, never what it holds: the verifier's words ("x509: certificate is valid for
// vault.corp.internal, 10.0.3.7, not …", the name of an authority it tried) quoted the names
// and addresses of the certificate of whatever answered, a service that may answer only
// LoginSign's own addresses, as net/http quoted the banners of services that are not HTTP.
func describeCertificate(err error) string {
	var invalid x509.CertificateInvalidError
	switch {
	case errors.As(err, new(x509.HostnameError)):
		return "the receiver's TLS certificate is not valid for the URL's host"
	case errors.As(err, new(x509.UnknownAuthorityError)):
		return "the receiver's TLS certificate is not signed by a trusted authority"
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return "the receiver's TLS certificate has expired or is not yet valid"
	}
	return "the receiver's TLS certificate is not valid"
}

// hostPort matches an IPv4 or bracketed IPv6 address with a port, as Go's network errors
// print them.
var hostPort = regexp.MustCompile(`(\d{1,3}(\.\d{1,3}){3}|\[[0-9a-fA-F:.%]+\]):\d+`)

// parseRetryAfter reads RFC 9110 §10.2.3 Retry-After: delay seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0
		}
		d = time.Duration(min(secs, int64(maxRetryAfter/time.Second))) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return max(0, min(d, maxRetryAfter))
}

// attemptResult is one finished attempt waiting to be recorded.
type attemptResult struct {
	ev *ent.WebhookEvent
	o  outcome
}

// record stores one attempt and moves its event on.
func (w *Worker) record(ctx context.Context, ev *ent.WebhookEvent, o outcome) error {
	return w.recordAll(ctx, []attemptResult{{ev, o}})
}

// recordAll stores attempts and moves their events on in one transaction, so a batch costs
// one commit. If the transaction fails, each attempt is tried on its own.
func (w *Worker) recordAll(ctx context.Context, rs []attemptResult) error {
	if len(rs) == 0 {
		return nil
	}
	now := w.now()
	results := make([]string, len(rs))
	err := w.writeTx(ctx, func(tx *ent.Tx) error {
		for i, r := range rs {
			res, err := w.recordTx(ctx, tx, r.ev, r.o, now)
			if err != nil {
				return err
			}
			results[i] = res
		}
		return nil
	})
	if err != nil {
		if len(rs) == 1 {
			return err
		}
		var errs []error
		for _, r := range rs {
			errs = append(errs, w.record(ctx, r.ev, r.o))
		}
		return errors.Join(errs...)
	}
	for i, r := range rs {
		switch results[i] {
		case "":
			w.cfg.Log.Warn("webhooks: event changed meanwhile (taken over after the lease, or its endpoint was disabled); attempt not recorded",
				"event", r.ev.ID, "attempt", r.ev.Attempts+1)
			continue
		case "delivered":
		default:
			w.cfg.Log.Info("webhooks: attempt failed", "event", r.ev.ID, "application", r.ev.ApplicationID,
				"attempt", r.ev.Attempts+1, "result", results[i], "error", errorText(r.o.err))
		}
		if w.cfg.Observe != nil {
			w.cfg.Observe(results[i], r.o.duration)
		}
	}
	return nil
}

// recordTx stores one attempt inside tx and returns its result ("delivered", "retry",
// "failed", "gone"), or "" when the event's attempt count or state moved meanwhile (this
// worker's lease expired and another worker took the event, or a 410 disabled its endpoint):
// then nothing is recorded.
func (w *Worker) recordTx(ctx context.Context, tx *ent.Tx, ev *ent.WebhookEvent, o outcome, now time.Time) (string, error) {
	attempt := ev.Attempts + 1
	o.err = errorText(o.err)
	upd := tx.WebhookEvent.Update().
		Where(webhookevent.ID(ev.ID), webhookevent.Attempts(ev.Attempts), webhookevent.StatusEQ(webhookevent.StatusPending)).
		SetAttempts(attempt).ClearLockedUntil().SetLastError(o.err)
	if o.status != 0 {
		upd.SetLastStatusCode(o.status)
	} else {
		upd.ClearLastStatusCode()
	}
	result := "retry"
	switch {
	case o.status >= 200 && o.status <= 299:
		result = "delivered"
		upd.SetStatus(webhookevent.StatusDelivered).SetDeliveredAt(now)
	case o.status == http.StatusGone && ev.Type != TypeBackchannelLogout:
		// (A logout receiver's 410 is an ordinary failure: it says nothing of the webhook.)
		result = "gone"
		upd.SetStatus(webhookevent.StatusDisabled)
	case isOneAttempt(ctx):
		// A test event, or the redelivery of an event no longer pending, ends with its one
		// attempt, refused by the address budget or failed: left to the workers, whose
		// attempts count nothing, it went out again over the next days to whatever address
		// the name then had (withOneAttempt).
		result = "failed"
		upd.SetStatus(webhookevent.StatusFailed)
	case attempt >= maxAttempts(ev.Type):
		// (A redelivered event's attempts go on counting, so a redelivery is one attempt
		// more, whether the event had failed after MaxAttempts or was a ping.)
		result = "failed"
		upd.SetStatus(webhookevent.StatusFailed)
	default:
		wait := w.cfg.Jitter(RetrySchedule[attempt-1])
		if o.retryAfter > wait {
			wait = o.retryAfter
		}
		upd.SetNextAttemptAt(now.Add(wait))
	}
	n, err := upd.Save(ctx)
	if err != nil {
		return "", fmt.Errorf("updating event: %w", err)
	}
	if n == 0 {
		return "", nil
	}
	if err := tx.WebhookAttempt.Create().SetEventID(ev.ID).SetAttempt(attempt).
		SetNillableStatusCode(nonZero(o.status)).SetError(o.err).
		SetDurationMs(int(o.duration.Milliseconds())).SetCreatedAt(now).Exec(ctx); err != nil {
		return "", fmt.Errorf("recording attempt: %w", err)
	}
	if result == "gone" {
		// The receiver says the endpoint is gone for good: stop sending to it. Back-channel
		// logouts go to a URI of their own, which this says nothing of: they stay pending.
		if err := tx.Application.UpdateOneID(ev.ApplicationID).SetWebhookDisabledAt(now).Exec(ctx); err != nil {
			return "", fmt.Errorf("disabling endpoint: %w", err)
		}
		if err := tx.WebhookEvent.Update().
			Where(webhookevent.ApplicationID(ev.ApplicationID), webhookevent.StatusEQ(webhookevent.StatusPending),
				webhookevent.TypeNEQ(TypeBackchannelLogout)).
			SetStatus(webhookevent.StatusDisabled).ClearLockedUntil().Exec(ctx); err != nil {
			return "", fmt.Errorf("stopping pending events: %w", err)
		}
	}
	return result, nil
}

// errorText is err as the delivery log keeps it: valid UTF-8, control characters as spaces, at
// most MaxErrorBytes (cut at a character). Much of it is the receiver's (its status line and
// the start of its body): PostgreSQL refuses a NUL or a byte that is not UTF-8 in a text
// column, and an attempt it could not record was never counted, so its event came due again
// whenever its lease ran out, for ever; and the status line, up to the 16 KiB of headers read,
// went in whole.
func errorText(err string) string {
	err = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' ' // a line break of the receiver's body reads as a space
		}
		return r
	}, strings.ToValidUTF8(err, ""))
	if len(err) <= MaxErrorBytes {
		return err
	}
	cut := MaxErrorBytes
	for cut > 0 && !utf8.RuneStart(err[cut]) {
		cut--
	}
	return err[:cut]
}

func nonZero(n int) *int {
	if n == 0 {
		return nil
	}
	return &n
}

// lanes is a worker's slow lane (WorkerConfig.SlowLane): the applications whose last attempt
// here timed out or was slow, and the claims of theirs this worker holds, each until its
// lease ends (a claim never delivered gives its slot back then).
type lanes struct {
	mu   sync.Mutex
	slow map[string]*slowRecord // application id → its slow attempts here
	held map[string]time.Time   // event id → lease end, of the slow lane's claims
}

// slowLane returns the slow lane's applications and how many of its size slots are free at
// now.
func (l *lanes) slowLane(now time.Time, size int) ([]string, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	apps := make([]string, 0, len(l.slow))
	for id, r := range l.slow {
		if r.inLane {
			apps = append(apps, id)
		}
	}
	for id, until := range l.held {
		if until.Before(now) {
			delete(l.held, id)
		}
	}
	return apps, max(0, size-len(l.held))
}

// hold records the claimed events of the applications slow (as given to the claim) as
// holding slow-lane slots until their lease ends.
func (l *lanes) hold(evs []*ent.WebhookEvent, slow []string, until time.Time) {
	in := make(map[string]bool, len(slow))
	for _, id := range slow {
		in[id] = true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ev := range evs {
		if in[ev.ApplicationID] {
			l.held[ev.ID] = until
		}
	}
}

// release gives back the slow-lane slot the event ev holds, if any.
func (l *lanes) release(ev string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.held, ev)
}

// slowRecord is an application's record of slow attempts on one worker.
type slowRecord struct {
	inLane   bool
	strikes  int       // times it went to the slow lane, forgiven a day after the last
	lastSlow time.Time // its last slow attempt
}

// note moves application app to the slow lane after an attempt that timed out or took
// slowAfter or longer, and back after a success faster than that. The first time, any fast
// success brings it back; after that only one at least timeout × 2^(strikes-2) after its
// last slow attempt (10 s, 20 s, … up to a day): a receiver that answers the slow lane's
// attempts at once and holds the others would otherwise go back and forth, taking normal
// slots each time.
func (l *lanes) note(app string, o outcome, slowAfter, timeout time.Duration, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.slow[app]
	switch {
	case o.duration >= slowAfter || strings.HasPrefix(o.err, "timeout after"):
		if r == nil || now.Sub(r.lastSlow) > 24*time.Hour {
			r = &slowRecord{}
			l.slow[app] = r
		}
		if !r.inLane {
			r.strikes++
		}
		r.inLane, r.lastSlow = true, now
	case r != nil && o.status >= 200 && o.status <= 299:
		if r.strikes <= 1 || now.Sub(r.lastSlow) >= min(24*time.Hour, timeout<<min(r.strikes-2, 13)) {
			r.inLane = false
		}
		if now.Sub(r.lastSlow) > 24*time.Hour {
			delete(l.slow, app)
		}
	}
}
