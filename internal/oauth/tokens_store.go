package oauth

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	entdialect "entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	"loginsign/ent"
	"loginsign/ent/appconnection"
	"loginsign/ent/refreshtoken"
	"loginsign/ent/user"
	"loginsign/internal/auth"
	"loginsign/internal/clientauth"
	"loginsign/internal/groupcommit"
	"loginsign/internal/ids"
	"loginsign/internal/kv"
	"loginsign/internal/store"
)

// refreshSource reads, in one prepared query, the family's row of the refresh token r (by
// its row id, or by hash for a token of the one-row-per-token layout) with its connection and
// the connection's account: rt nil when there is no such row, conn nil when its connection
// is gone.
func (s *Service) refreshSource(ctx context.Context, r refreshRef) (rt *ent.RefreshToken, conn *ent.AppConnection, u *ent.User, err error) {
	prepared, key, arg := &s.refreshByID, refreshtoken.FieldID, r.rowID
	if r.rowID == "" {
		prepared, key, arg = &s.refreshByHash, refreshtoken.FieldTokenHash, ids.Hash(r.raw)
	}
	stmt, err := prepared.get(ctx, s.DB.SQL, func() string {
		t := entsql.Table(refreshtoken.Table).As("t")
		c, a := entsql.Table(appconnection.Table).As("c"), entsql.Table(user.Table).As("u")
		query, _ := entsql.Dialect(s.DB.Dialect).
			Select(t.C(refreshtoken.FieldID), t.C(refreshtoken.FieldFamilyID), t.C(refreshtoken.FieldConnectionID),
				t.C(refreshtoken.FieldApplicationID), t.C(refreshtoken.FieldScopes), t.C(refreshtoken.FieldNonce),
				t.C(refreshtoken.FieldAuthTime), t.C(refreshtoken.FieldExpiresAt), t.C(refreshtoken.FieldRotatedAt),
				t.C(refreshtoken.FieldRevokedAt), t.C(refreshtoken.FieldAmr), t.C(refreshtoken.FieldGeneration),
				t.C(refreshtoken.FieldCurrentHash), t.C(refreshtoken.FieldCreatedAt),
				c.C(appconnection.FieldID), c.C(appconnection.FieldUserID), c.C(appconnection.FieldApplicationID),
				c.C(appconnection.FieldBlocked), c.C(appconnection.FieldAliasEmail), c.C(appconnection.FieldAppEmail),
				a.C(user.FieldGlobalID), a.C(user.FieldName), a.C(user.FieldImage)).
			From(t).LeftJoin(c).On(t.C(refreshtoken.FieldConnectionID), c.C(appconnection.FieldID)).
			LeftJoin(a).On(c.C(appconnection.FieldUserID), a.C(user.FieldID)).
			Where(entsql.EQ(t.C(key), "")).Query()
		return query
	})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("preparing the refresh query: %w", err)
	}
	var (
		scopes, amr                       []byte
		authTime, rotatedAt, revokedAt    sql.NullTime
		nonce, current                    sql.NullString
		cID, cUser, cApp, alias, appEmail sql.NullString
		blocked                           sql.NullBool
		globalID, name, image             sql.NullString
	)
	rt = &ent.RefreshToken{}
	err = stmt.QueryRowContext(ctx, arg).Scan(&rt.ID, &rt.FamilyID, &rt.ConnectionID, &rt.ApplicationID, &scopes, &nonce,
		&authTime, &rt.ExpiresAt, &rotatedAt, &revokedAt, &amr, &rt.Generation, &current, &rt.CreatedAt,
		&cID, &cUser, &cApp, &blocked, &alias, &appEmail, &globalID, &name, &image)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, nil, nil
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("loading refresh token: %w", err)
	}
	if len(scopes) > 0 {
		if err := json.Unmarshal(scopes, &rt.Scopes); err != nil {
			return nil, nil, nil, fmt.Errorf("loading refresh token: scopes: %w", err)
		}
	}
	if len(amr) > 0 {
		if err := json.Unmarshal(amr, &rt.Amr); err != nil {
			return nil, nil, nil, fmt.Errorf("loading refresh token: amr: %w", err)
		}
	}
	at := func(t sql.NullTime) *time.Time {
		if !t.Valid {
			return nil
		}
		return &t.Time
	}
	rt.AuthTime, rt.RotatedAt, rt.RevokedAt, rt.Nonce = at(authTime), at(rotatedAt), at(revokedAt), nonce.String
	if current.Valid {
		rt.CurrentHash = &current.String
	}
	if !cID.Valid {
		return rt, nil, nil, nil
	}
	conn = &ent.AppConnection{ID: cID.String, UserID: cUser.String, ApplicationID: cApp.String, Blocked: blocked.Bool,
		AliasEmail: alias.String, AppEmail: appEmail.String}
	if globalID.Valid {
		u = &ent.User{ID: cUser.String, GlobalID: globalID.String, Name: name.String, Image: image.String}
	}
	return rt, conn, u, nil
}

// refreshRow is what never changes of a family's row, with its connection's account: all a
// rotation needs before its write, which itself checks what can change (the token live, the
// family unrevoked, the connection unblocked and there; see rotateFamily). The process keeps
// the rows of the families it issued or rotated (Service.refreshRows, by row id) until the
// access token issued with them has long expired, so that the usual refresh, by the client
// that got its token from this process or another one, skips the read.
type refreshRow struct {
	FamilyID, ConnectionID, ApplicationID, UserID string
	Scopes, AMR                                   []string
	Nonce                                         string
	AuthTime                                      *time.Time
	ExpiresAt                                     time.Time
}

// maxCachedRefreshRows bounds Service.refreshRows (about 600 bytes an entry, measured with
// three scopes and one amr: 12 MB when full).
const maxCachedRefreshRows = 20000

// keepRefreshRow remembers the row rt, of a family just issued or rotated, for its next
// rotation.
func (s *Service) keepRefreshRow(rt *ent.RefreshToken, userID string, now time.Time) {
	until := now.Add(2 * s.Config.AccessTokenTTL)
	if rt.ExpiresAt.Before(until) {
		until = rt.ExpiresAt
	}
	s.refreshRows.Put(rt.ID, refreshRow{FamilyID: rt.FamilyID, ConnectionID: rt.ConnectionID,
		ApplicationID: rt.ApplicationID, UserID: userID, Scopes: rt.Scopes, AMR: rt.Amr, Nonce: rt.Nonce,
		AuthTime: rt.AuthTime, ExpiresAt: rt.ExpiresAt}, s.refreshRows.Generation(), "", until)
}

// keptRefreshRow is the kept row id, as refreshSource would return it before any check: the
// connection and account carry their ids only, and what changes is left out.
func (s *Service) keptRefreshRow(id string, now time.Time) (*ent.RefreshToken, *ent.AppConnection, bool) {
	r, ok := s.refreshRows.Get(id, "", now)
	if !ok {
		return nil, nil, false
	}
	rt := &ent.RefreshToken{ID: id, FamilyID: r.FamilyID, ConnectionID: r.ConnectionID, ApplicationID: r.ApplicationID,
		Scopes: r.Scopes, Amr: r.AMR, Nonce: r.Nonce, AuthTime: r.AuthTime, ExpiresAt: r.ExpiresAt}
	return rt, &ent.AppConnection{ID: r.ConnectionID, UserID: r.UserID, ApplicationID: r.ApplicationID}, true
}

// rotationWrite is the write of one rotation: move the family's row id from generation gen,
// whose live token hashes to hash, to generation to (the next, or the one after a token
// ahead of the row: lostRotation), whose token hashes to next.
type rotationWrite struct {
	id         string
	gen, to    int
	hash, next string
	now        time.Time
	err        error
}

// rotationBatches commits concurrent rotations together (group commit): the first writer
// commits every rotation queued meanwhile (up to maxRotationBatch) at once, and hands on to
// the first writer still waiting. SQLite's one writer made each rotation wait for the previous
// one's BEGIN … COMMIT; a burst of rotations now costs one transaction. On PostgreSQL a burst
// is one statement (pgRotateFamilies): one round trip, one commit and one WAL flush instead of
// one each per rotation, which halved the database's CPU per rotation (docs/performance.md,
// seventh pass). A rotation that finds its token spent meanwhile gets errRaced and runs again;
// a failing statement or commit fails the whole batch (every token stays unspent, every client
// gets 500 and may retry).
//
// The batches are written on one connection, kept while they keep coming: SQLite drops a
// connection's page cache when another connection has committed, so a writer on whichever
// connection the pool hands out read back every page it touched. It returns to the pool
// once no rotation came for rotationConnIdle, or as soon as the queue is empty when the
// pool has a single connection (which the reads of the next rotations need).
//
// On PostgreSQL that connection runs pgRotateFamilies with its generic plan (genericPlans)
// and commits asynchronously (asyncCommit).
type rotationBatches struct {
	q       groupcommit.Queue[*rotationWrite]
	conn    *sql.Conn   // while running, the leader's alone
	session bool        // conn runs with rotationSession's settings, to be undone before it goes back
	idle    *time.Timer // returns conn to the pool; set and stopped under q's lock
}

// genericPlans makes PostgreSQL run the prepared statements of a connection with their
// generic plans. Left to choose, it plans each execution of pgRotateFamilies anew once the
// table holds more than a few families, estimating that cheaper than the generic plan for
// a small batch, and the planning was most of a small batch's time. Measured on the machine
// of docs/performance.md with 20,000 families, without the commit's flush: one row 0.51 →
// 0.19 ms, six rows 0.72 → 0.37 ms; from 25 rows on PostgreSQL chose the generic plan
// itself, as it did for the few families of the tests and benchmarks. The generic plan
// finds the batch's rows by primary key (id = ANY($1)), as the planned one does. It is set
// on the rotations' connection only, and reset before that goes back to the pool
// (putConn).
const genericPlans = "SET plan_cache_mode = force_generic_plan"

// asyncCommit makes the rotations' commits return before their WAL reaches the disk: the
// flush (an fdatasync, a millisecond on the machine of docs/performance.md, where the
// batches waited for it in turn) leaves the rotation's path, and PostgreSQL's WAL writer
// makes the batch durable within 3 × wal_writer_delay (600 ms by default), or sooner when
// anything else commits. A crash of PostgreSQL or of its machine in that window loses the
// rotations of the window, as a power loss does to SQLite's, which commits with
// synchronous=NORMAL: their clients then hold tokens ahead of their rows, which rotate
// (lostRotation), so nobody is signed out. What the loss costs is the reuse detection of
// the tokens those rotations spent: they are live again until their family's next
// rotation. Everything else (sign-ins, revocations) still commits synchronously, and
// Config.SyncRotations (LOGINSIGN_ROTATION_COMMIT=sync) turns this off.
const asyncCommit = "SET synchronous_commit = off"

// resetSession undoes rotationSession before the connection goes back to the pool.
const resetSession = "RESET plan_cache_mode; RESET synchronous_commit"

// rotationSession is what the rotations' connection is set to on PostgreSQL: genericPlans,
// and asyncCommit unless Config.SyncRotations.
func (s *Service) rotationSession() string {
	if s.Config.SyncRotations {
		return genericPlans
	}
	return genericPlans + "; " + asyncCommit
}

// RotationStats is what the refresh rotations' batches have done so far, for the metrics.
func (s *Service) RotationStats() *groupcommit.Stats { return &s.rotations.q.Stats }

// writeRotation moves w's row to the next generation, together with the rotations that
// arrive meanwhile (rotationBatches).
func (s *Service) writeRotation(ctx context.Context, w *rotationWrite) error {
	return s.rotations.write(ctx, s, w)
}

// rotateFamily is the rotation: the row moves to the generation after the presented token's
// when its live token is the presented one (a row of the one-row-per-token layout: its own
// token, unspent) or, for a token ahead of the row (lostRotation), the one it was read with,
// the family is not revoked, and its connection still exists unblocked
// (liveConnectionGuard: a rotation from refreshRows has not read the connection, and one
// that read it may have raced a block).
const rotateFamily = `UPDATE refresh_tokens SET generation = ?, current_hash = ?, rotated_at = ?
	WHERE id = ? AND generation = ?
	AND (current_hash = ? OR (current_hash IS NULL AND rotated_at IS NULL AND token_hash = ?))
	AND revoked_at IS NULL AND ` + liveConnectionGuard

const liveConnectionGuard = `EXISTS (SELECT 1 FROM app_connections c
		WHERE c.id = refresh_tokens.connection_id AND c.blocked = false)`

// pgRotateFamilies is rotateFamily for a batch on PostgreSQL: one statement, one round
// trip and one commit, the rows it moved returned. The batch's rows are named to the table
// scan too (id = ANY($1)): joined to unnest alone, a table of a few pages is scanned whole,
// with unnest run again for each of its rows, which made a batch of 6 take twice as long.
const pgRotateFamilies = `UPDATE refresh_tokens SET generation = v.next_gen,
		current_hash = v.next, rotated_at = v.at
	FROM unnest($1::varchar[], $2::bigint[], $3::varchar[], $4::varchar[], $5::timestamptz[], $6::bigint[])
		AS v(id, gen, hash, next, at, next_gen)
	WHERE refresh_tokens.id = ANY($1::varchar[]) AND refresh_tokens.id = v.id AND refresh_tokens.generation = v.gen
	AND (refresh_tokens.current_hash = v.hash OR (refresh_tokens.current_hash IS NULL
		AND refresh_tokens.rotated_at IS NULL AND refresh_tokens.token_hash = v.hash))
	AND refresh_tokens.revoked_at IS NULL AND ` + liveConnectionGuard + `
	RETURNING refresh_tokens.id`

// pgRotate writes batch with pgRotateFamilies. A row named twice is moved by its first
// write; the others get errRaced (as the second UPDATE of a transaction would). A batch
// that PostgreSQL rolled back to break a deadlock (another instance's batch locking the same
// rows in another order) wrote nothing: every write in it gets errRaced and runs again.
func pgRotate(ctx context.Context, conn *sql.Conn, batch []*rotationWrite) error {
	var (
		rowIDs, hashes, nexts = make([]string, 0, len(batch)), make([]string, 0, len(batch)), make([]string, 0, len(batch))
		gens, tos             = make([]int, 0, len(batch)), make([]int, 0, len(batch))
		ats                   = make([]time.Time, 0, len(batch))
		named                 = make(map[string]*rotationWrite, len(batch))
	)
	for _, w := range batch {
		w.err = errRaced
		if named[w.id] != nil {
			continue
		}
		named[w.id] = w
		rowIDs, gens, hashes, nexts, ats, tos = append(rowIDs, w.id), append(gens, w.gen), append(hashes, w.hash),
			append(nexts, w.next), append(ats, w.now), append(tos, w.to)
	}
	err := func() error {
		rows, err := conn.QueryContext(ctx, pgRotateFamilies, rowIDs, gens, hashes, nexts, ats, tos)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			named[id].err = nil
		}
		return rows.Err()
	}()
	var state interface{ SQLState() string }
	if errors.As(err, &state) && strings.HasPrefix(state.SQLState(), "40") {
		// Class 40, transaction rollback (40P01 deadlock_detected): nothing was written.
		for _, w := range batch {
			w.err = errRaced
		}
		return nil
	}
	return err
}

// sqliteRotate writes batch with rotateFamily, one statement each, in one transaction.
//
// Its statements run without ctx's deadline: SQLite runs in this process, and a statement
// waits for the write lock busy_timeout at most. For a context that can end, the driver
// watches each statement from a goroutine of its own, with a channel and a progress handler
// set and cleared in SQLite, and database/sql watches the transaction from another.
func sqliteRotate(ctx context.Context, conn *sql.Conn, batch []*rotationWrite) error {
	ctx = context.WithoutCancel(ctx)
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("starting transaction: %w", err)
	}
	defer tx.Rollback()
	for _, w := range batch {
		w.err = nil
		res, err := tx.ExecContext(ctx, rotateFamily, w.args()...)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n != 1 {
			w.err = errRaced
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing transaction: %w", err)
	}
	return nil
}

// args are rotateFamily's arguments.
func (w *rotationWrite) args() []any {
	return []any{w.to, w.next, w.now, w.id, w.gen, w.hash, w.hash}
}

const (
	maxRotationBatch     = 64
	rotationBatchTimeout = 30 * time.Second
	rotationConnIdle     = time.Second
)

func (b *rotationBatches) write(ctx context.Context, s *Service, w *rotationWrite) error {
	b.q.Do(w, maxRotationBatch, func(batch []*rotationWrite) {
		// The batch is not the request's alone: it outlives a client that went away, but not
		// a database that stopped answering.
		bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rotationBatchTimeout)
		defer cancel()
		s.commitBatch(bctx, b, batch)
	}, func() {
		if b.idle != nil {
			b.idle.Stop()
		}
	}, func() {
		switch {
		case b.conn == nil:
		case s.DB.SQL.Stats().MaxOpenConnections == 1:
			b.putConn()
		default:
			b.idle = time.AfterFunc(rotationConnIdle, b.releaseConn)
		}
	})
	return w.err
}

// commitBatch commits batch on the batches' connection, taken from the pool when there is
// none; a connection whose batch failed goes back (the pool drops a broken one), or is
// dropped when it runs with rotationSession's settings.
func (s *Service) commitBatch(ctx context.Context, b *rotationBatches, batch []*rotationWrite) {
	if b.conn == nil {
		if err := b.takeConn(ctx, s.DB, s.rotationSession()); err != nil {
			for _, w := range batch {
				w.err = serverError(fmt.Errorf("rotating refresh token: %w", err))
			}
			return
		}
	}
	switch err := s.commitRotations(ctx, b.conn, batch); {
	case err == nil:
	case b.session:
		// Resetting its settings could wait on a database that stopped answering.
		b.dropConn()
	default:
		b.putConn()
	}
}

// releaseConn returns the connection to the pool unless a batch started since.
func (b *rotationBatches) releaseConn() { b.q.Idle(b.putConn) }

// takeConn takes the batches' connection from db's pool; on PostgreSQL, with a pool of more
// than one connection (a pool of one gets it back after every batch, and commits
// synchronously), it runs with the settings of session (rotationSession). Its caller leads.
func (b *rotationBatches) takeConn(ctx context.Context, db *store.DB, session string) error {
	conn, err := db.SQL.Conn(ctx)
	if err != nil {
		return err
	}
	b.conn = conn
	if db.Dialect == entdialect.Postgres && db.SQL.Stats().MaxOpenConnections != 1 {
		if _, err := conn.ExecContext(ctx, session); err != nil {
			b.dropConn()
			return err
		}
		b.session = true
	}
	return nil
}

// putConn returns the connection to the pool, its settings reset (resetSession), or drops
// it when they cannot be; its caller owns b.conn (it leads, or holds q's lock while nobody
// leads).
func (b *rotationBatches) putConn() {
	if b.conn == nil {
		return
	}
	if b.session {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := b.conn.ExecContext(ctx, resetSession)
		cancel()
		if err != nil {
			b.dropConn()
			return
		}
	}
	b.conn.Close()
	b.conn, b.session = nil, false
}

// dropConn closes the connection instead of returning it: the pool opens another in its
// place. Its caller owns b.conn.
func (b *rotationBatches) dropConn() {
	b.conn.Raw(func(any) error { return driver.ErrBadConn }) // closes b.conn, the driver's connection too
	b.conn, b.session = nil, false
}

// commitRotations writes batch on conn (SQLite: one transaction of rotateFamily each;
// PostgreSQL: pgRotate), tells each write its outcome and returns the batch's error (nil
// when it committed).
func (s *Service) commitRotations(ctx context.Context, conn *sql.Conn, batch []*rotationWrite) error {
	write := sqliteRotate
	if s.DB.Dialect == entdialect.Postgres {
		write = pgRotate
	}
	err := write(ctx, conn, batch)
	if err != nil {
		for _, w := range batch {
			w.err = serverError(err)
		}
	}
	return err
}

// PurgeRefreshTokens deletes the rows of the refresh-token families that have expired (their
// tokens are refused anyway), store.PurgeBatch rows per statement, and returns how many it
// deleted. With one row per sign-in, what the table holds is then bounded by the sign-ins of
// one family lifetime.
func (s *Service) PurgeRefreshTokens(ctx context.Context) (int, error) {
	now := s.Now()
	return store.Purge(ctx, "expired refresh tokens", func(ctx context.Context, limit int) ([]string, error) {
		return s.DB.RefreshToken.Query().Where(refreshtoken.ExpiresAtLT(now)).Limit(limit).IDs(ctx)
	}, func(ctx context.Context, ids []string) (int, error) {
		return s.DB.RefreshToken.Delete().Where(refreshtoken.IDIn(ids...)).Exec(ctx)
	})
}

// accessGrant is an access token's grant, stored in Redis under the token's hash with a TTL
// of expires_in.
type accessGrant struct {
	ApplicationID string   `json:"a"`
	ConnectionID  string   `json:"c"`
	UserID        string   `json:"u"`
	Scopes        []string `json:"s"`
	Family        string   `json:"f"`
	IssuedAt      int64    `json:"i"`
	ExpiresAt     int64    `json:"e"`
	// SecretStamp is, for a client_credentials token, the client secret it was issued under
	// (clientauth.SecretStamp): the token acts only while that secret is the application's.
	// Tokens issued for a person have none: they are the person's, not the secret holder's.
	SecretStamp string `json:"k,omitempty"`
}

// decodeFast decodes b as json.Marshal writes an accessGrant (the field order of the
// struct, strings without escapes, integers), the form every instance stores, without
// reflection: json.Unmarshal was 4 % of GET /api/user's CPU. Anything else reports false and
// is left to json.Unmarshal.
func (g *accessGrant) decodeFast(b []byte) bool {
	i := 0
	lit := func(l string) bool {
		if len(b)-i < len(l) || string(b[i:i+len(l)]) != l {
			return false
		}
		i += len(l)
		return true
	}
	str := func(dst *string) bool {
		if i >= len(b) || b[i] != '"' {
			return false
		}
		j := i + 1
		for j < len(b) && b[j] != '"' {
			if b[j] == '\\' || b[j] < 0x20 || b[j] >= 0x80 {
				return false
			}
			j++
		}
		if j >= len(b) {
			return false
		}
		*dst = string(b[i+1 : j])
		i = j + 1
		return true
	}
	num := func(dst *int64) bool {
		j := i
		for j < len(b) && b[j] >= '0' && b[j] <= '9' && j-i < 18 {
			j++
		}
		if j == i || (j < len(b) && b[j] >= '0' && b[j] <= '9') {
			return false
		}
		n, err := strconv.ParseInt(string(b[i:j]), 10, 64)
		if err != nil {
			return false
		}
		*dst, i = n, j
		return true
	}
	if !lit(`{"a":`) || !str(&g.ApplicationID) || !lit(`,"c":`) || !str(&g.ConnectionID) ||
		!lit(`,"u":`) || !str(&g.UserID) || !lit(`,"s":`) {
		return false
	}
	switch {
	case lit("null"):
	case lit("["):
		g.Scopes = []string{}
		for !lit("]") {
			if len(g.Scopes) > 0 && !lit(",") {
				return false
			}
			var sc string
			if !str(&sc) {
				return false
			}
			g.Scopes = append(g.Scopes, sc)
		}
	default:
		return false
	}
	if !lit(`,"f":`) || !str(&g.Family) || !lit(`,"i":`) || !num(&g.IssuedAt) || !lit(`,"e":`) || !num(&g.ExpiresAt) {
		return false
	}
	if lit(`,"k":`) && !str(&g.SecretStamp) {
		return false
	}
	return lit("}") && i == len(b)
}

func accessKey(hash string) string          { return "at:" + hash }
func revokedFamilyKey(family string) string { return kv.RevokedPrefix + family }

// revokedAccessToken is the value Revoke leaves under the key of an access token it revokes,
// for the token's remaining lifetime: a tombstone that no rotation writes over.
const revokedAccessToken = "revoked"

// familyTokensKey is the set of the hashes of family's access tokens that expire in bucket
// (tokenBucket). A bucket's set is written only while tokens expiring in it are issued, and
// expires one bucket after its last token, so a family holds the hashes of its last few
// hours' tokens, however long it is used. The one set per family of earlier versions
// (legacyFamilyTokensKey), extended on every rotation, grew by a member a rotation for as
// long as the family was refreshed within the access-token lifetime: a client refreshing in
// a loop filled Redis, and the embedded store then evicted other people's keys.
func familyTokensKey(family string, bucket int64) string {
	return "fat:" + family + ":" + strconv.FormatInt(bucket, 10)
}

// legacyFamilyTokensKey is the family's set of the versions before the buckets: still read
// and deleted by revokeFamily, for the tokens those versions issued.
func legacyFamilyTokensKey(family string) string { return "fat:" + family }

// tokenBucketWidth is the width of a bucket of familyTokensKey: the access-token lifetime.
func (s *Service) tokenBucketWidth() time.Duration { return max(s.Config.AccessTokenTTL, time.Second) }

// tokenBucket is the bucket of an access token that expires at exp.
func (s *Service) tokenBucket(exp time.Time) int64 {
	return exp.UnixMilli() / s.tokenBucketWidth().Milliseconds()
}

// familyTokensKeys are the keys of family's sets that can hold a token alive at now: those
// of the buckets from the one before now's to the one after that of now + the lifetime
// (another instance's clock may be off by up to a bucket), and the legacy set.
func (s *Service) familyTokensKeys(family string, now time.Time) []string {
	w := s.tokenBucketWidth()
	keys := []string{legacyFamilyTokensKey(family)}
	for b := s.tokenBucket(now.Add(-w)); b <= s.tokenBucket(now.Add(2*w)); b++ {
		keys = append(keys, familyTokensKey(family, b))
	}
	return keys
}

func (s *Service) storeAccessToken(ctx context.Context, g accessGrant) (string, error) {
	raw := ids.Secret(AccessTokenPrefix)
	if err := s.writeAccessToken(ctx, raw, g, s.Config.AccessTokenTTL); err != nil {
		return "", err
	}
	return raw, nil
}

// accessGrantOf is the grant of an access token issued at from.
func (s *Service) accessGrantOf(app *ent.Application, conn *ent.AppConnection, g grant, from, until time.Time) accessGrant {
	return accessGrant{ApplicationID: app.ID, ConnectionID: conn.ID, UserID: conn.UserID, Scopes: g.Scopes,
		Family: g.Family, IssuedAt: from.Unix(), ExpiresAt: until.Unix()}
}

// writeAccessToken stores the access token raw for ttl and adds it to its family (one
// transaction pipeline, one round trip). Writing the same token again is harmless.
func (s *Service) writeAccessToken(ctx context.Context, raw string, g accessGrant, ttl time.Duration) error {
	_, err := s.writeAccessTokenChecked(ctx, raw, g, ttl, nil)
	return err
}

// tokenWrite is what writeAccessTokenChecked read in its round trip.
type tokenWrite struct {
	revoked bool   // the family has been revoked (revokeFamily's marker)
	stamp   string // the profiles' stamp (profileStampKey)
	refused error  // the client's limits' answer (the token is written even so)
	// found is a value the token's key held already, which the write left (read by
	// foundAccessToken).
	found bool
}

// writeAccessTokenChecked is writeAccessToken that also reads, in the same round trip,
// whether the family has been revoked, for writes that may race a revocation, and counts the
// client's limits when they are pending. It is one kv.Transact: on the embedded store an
// in-process call, without the protocol (which was 13 % of a refresh's CPU there).
//
// The token is written only where no value is (NX): a rotation's access token is derived
// from the refresh token it spends, so its key may hold the same token, written by an
// earlier attempt of the rotation, or Revoke's tombstone, which must stay.
func (s *Service) writeAccessTokenChecked(ctx context.Context, raw string, g accessGrant, ttl time.Duration, limits *clientauth.Pending) (tokenWrite, error) {
	h := ids.Hash(raw)
	b, _ := json.Marshal(g)
	ms := func(d time.Duration) string { return strconv.FormatInt(max(d.Milliseconds(), 1), 10) }
	family, keep := s.tokensSet(g)
	counted := limits.Cmds()
	vals, err := s.KV.Transact(ctx, slices.Concat(counted, [][]string{
		{"SET", accessKey(h), string(b), "PX", ms(ttl), "NX"},
		{"SADD", family, h},
		{"PEXPIRE", family, ms(keep)},
		{"EXISTS", revokedFamilyKey(g.Family)},
		{"GET", profileStampKey}})...)
	if err != nil {
		return tokenWrite{}, serverError(fmt.Errorf("storing access token: %w", err))
	}
	w := tokenWrite{refused: clientError(limits.Decide(vals[:len(counted)]))}
	vals = vals[len(counted):]
	w.found = vals[0] == nil
	n, _ := vals[3].(int64)
	w.revoked = n > 0
	w.stamp, _ = vals[4].(string)
	return w, nil
}

// errAccessTokenGone is foundAccessToken's answer for a token revoked on its own (Revoke's
// tombstone) or gone since the write found it.
var errAccessTokenGone = errors.New("the access token was revoked")

// foundAccessToken is the expiry of the access token raw that writeAccessTokenChecked found
// already stored (the answer gives the token's own), or errAccessTokenGone.
func (s *Service) foundAccessToken(ctx context.Context, raw string) (time.Time, error) {
	vals, err := s.KV.GetEach(ctx, accessKey(ids.Hash(raw)))
	if err != nil {
		return time.Time{}, serverError(fmt.Errorf("reading access token: %w", err))
	}
	g, err := s.decodeAccessGrant(vals[0])
	if err != nil {
		return time.Time{}, err
	}
	if g == nil {
		return time.Time{}, errAccessTokenGone
	}
	return time.Unix(g.ExpiresAt, 0), nil
}

// tokensSet is the set of g's family that holds g's token, and how long from now to keep it:
// one bucket past its bucket's end, past its last token's expiry on any instance's clock
// that is off by less than a bucket.
func (s *Service) tokensSet(g accessGrant) (key string, keep time.Duration) {
	bucket := s.tokenBucket(time.Unix(g.ExpiresAt, 0))
	return familyTokensKey(g.Family, bucket), time.UnixMilli((bucket + 2) * s.tokenBucketWidth().Milliseconds()).Sub(s.Now())
}

// dropAccessToken deletes the access token raw of grant g, written for a rotation that the
// client's limits then refused. It is best effort: the token expires in any case, and nobody
// holds it, unless the refresh token presented was rotated already, by a concurrent request
// or before (a spent token presented again to the process that keeps its row, which takes it
// for the live one until its write): that client then finds its access token refused, and
// refreshes again.
func (s *Service) dropAccessToken(ctx context.Context, raw string, g accessGrant) {
	h := ids.Hash(raw)
	set, _ := s.tokensSet(g)
	s.KV.Transact(context.WithoutCancel(ctx), []string{"DEL", accessKey(h)}, []string{"SREM", set, h})
}

func (s *Service) accessGrant(ctx context.Context, raw string) (*accessGrant, error) {
	g, _, err := s.accessGrantStamped(ctx, raw)
	return g, err
}

// accessGrantStamped is accessGrant that also reads, in the same round trip, the profiles'
// stamp (profileStampKey; "" while no change has advanced it).
func (s *Service) accessGrantStamped(ctx context.Context, raw string) (*accessGrant, string, error) {
	if !maybeAccessToken(raw) {
		return nil, "", nil
	}
	vals, err := s.KV.GetEach(ctx, accessKey(ids.Hash(raw)), profileStampKey)
	if err != nil {
		return nil, "", serverError(fmt.Errorf("reading access token: %w", err))
	}
	g, err := s.decodeAccessGrant(vals[0])
	return g, string(vals[1]), err
}

func maybeAccessToken(raw string) bool {
	return raw != "" && len(raw) <= 128 && strings.HasPrefix(raw, AccessTokenPrefix)
}

// decodeAccessGrant decodes a stored grant: nil for a missing (b nil), revoked (Revoke's
// tombstone) or expired one.
func (s *Service) decodeAccessGrant(b []byte) (*accessGrant, error) {
	if b == nil || string(b) == revokedAccessToken {
		return nil, nil
	}
	g := &accessGrant{}
	if !g.decodeFast(b) {
		*g = accessGrant{}
		if err := json.Unmarshal(b, g); err != nil {
			return nil, serverError(fmt.Errorf("reading access token: %w", err))
		}
	}
	if s.Now().Unix() >= g.ExpiresAt {
		return nil, nil
	}
	return g, nil
}

// AccessToken validates a Bearer access token (RFC 6750) of a person and returns its grant,
// with the checks of UserInfo (personGrant): a missing, unknown, expired or revoked token, a
// client_credentials one, or one whose connection is deleted or blocked or whose application
// is being deleted answers ErrInvalidToken.
func (s *Service) AccessToken(ctx context.Context, raw string) (auth.Token, error) {
	g, _, err := s.personGrant(ctx, raw)
	if err != nil {
		return auth.Token{}, err
	}
	return auth.Token{ApplicationID: g.ApplicationID, ConnectionID: g.ConnectionID, UserID: g.UserID, Scopes: g.Scopes}, nil
}

// revokeFamily revokes every token of a sign-in: its access tokens (Redis) and its refresh
// tokens (SQL). It first leaves a marker (revokedFamilyTTL) that every later write of a
// token of the family reads in its round trip (writeAccessTokenChecked): a token written
// before the marker is in the family's sets when they are read below, and a writer that
// finds the marker revokes again, naming what it wrote (written, access-token hashes). It
// must: the sets are read, then deleted, so a token added between the two (a writer that
// found the marker set by a concurrent revocation) is gone from them when that writer's own
// revocation reads them.
//
// The refresh tokens are revoked last: a revoked row is what tells a retry there is nothing
// left to do (endLines finds the families to revoke by their unrevoked rows; a reused refresh
// token of a revoked row is refused without revoking). Revoked first, a read or delete that
// failed after them left the family's access tokens alive for their whole lifetime, out of
// every retry's reach. A failure before them leaves the rows unrevoked for the retry, and the
// marker makes a rotation meanwhile revoke the family again.
func (s *Service) revokeFamily(ctx context.Context, family string, written ...string) error {
	return s.revokeFamilies(ctx, []string{family}, written...)
}

// revokeFamilies is revokeFamily for several families at once, in as many round trips as one.
func (s *Service) revokeFamilies(ctx context.Context, families []string, written ...string) error {
	now := s.Now()
	pipe := s.KV.Pipeline()
	var keys []string
	for _, f := range families {
		pipe.Set(ctx, revokedFamilyKey(f), 1, s.revokedFamilyTTL())
		keys = append(keys, s.familyTokensKeys(f, now)...)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return serverError(err)
	}
	hashes, err := s.tokensIn(ctx, keys)
	if err != nil {
		return serverError(err)
	}
	for _, h := range slices.Concat(hashes, written) {
		keys = append(keys, accessKey(h))
	}
	if err := s.KV.Del(ctx, keys...).Err(); err != nil {
		return serverError(err)
	}
	if _, err := s.DB.RefreshToken.Update().Where(refreshtoken.FamilyIDIn(families...), refreshtoken.RevokedAtIsNil()).
		SetRevokedAt(now).Save(ctx); err != nil {
		return serverError(fmt.Errorf("revoking refresh tokens: %w", err))
	}
	return nil
}

// revokedFamilyTTL is how long revokeFamily's marker lives: as long as a token of the family
// may still be written after the revocation, by a code exchange (CodeTTL) or by a rotation
// from a row kept in refreshRows (keepRefreshRow: twice the access-token lifetime), which
// takes the presented token for the live one until its write. A spent token's successor is
// the access token that its rotation answered: written again for a revoked family once the
// marker was gone, it would live again for a whole lifetime. The minute is for clocks.
func (s *Service) revokedFamilyTTL() time.Duration {
	return max(s.Config.CodeTTL, 2*s.Config.AccessTokenTTL) + time.Minute
}

// FamilyAccessTokens are the hashes of the family's access tokens that can still be alive:
// what revokeFamily deletes.
func (s *Service) FamilyAccessTokens(ctx context.Context, family string) ([]string, error) {
	return s.tokensIn(ctx, s.familyTokensKeys(family, s.Now()))
}

// tokensIn are the members of the sets keys, read in one round trip.
func (s *Service) tokensIn(ctx context.Context, keys []string) ([]string, error) {
	cmds := make([][]string, len(keys))
	for i, k := range keys {
		cmds[i] = []string{"SMEMBERS", k}
	}
	sets, err := s.KV.Transact(ctx, cmds...)
	if err != nil {
		return nil, err
	}
	var hashes []string
	for _, set := range sets {
		members, _ := set.([]any)
		for _, m := range members {
			if h, ok := m.(string); ok {
				hashes = append(hashes, h)
			}
		}
	}
	return hashes, nil
}

// preparedStmt is a statement prepared once on first use (database/sql then keeps it
// prepared per connection): the hot queries skip building and parsing SQL on every call. A
// failed prepare is retried on the next call.
type preparedStmt struct {
	mu   sync.Mutex
	stmt atomic.Pointer[sql.Stmt]
}

func (p *preparedStmt) get(ctx context.Context, db *sql.DB, query func() string) (*sql.Stmt, error) {
	if st := p.stmt.Load(); st != nil {
		return st, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if st := p.stmt.Load(); st != nil {
		return st, nil
	}
	st, err := db.PrepareContext(ctx, query())
	if err != nil {
		return nil, err
	}
	p.stmt.Store(st)
	return st, nil
}
