package portal

import (
	"context"
	"database/sql"
	"fmt"
	"loginsign/internal/team"
	"strings"
	"time"

	"entgo.io/ent/dialect"

	"loginsign/internal/apperr"
)

// Analytics answers aggregate questions about one application, each with one GROUP BY query
// in the database (never by loading rows). Every method checks the signed-in developer's role
// on the application (team.ReadAnalytics): off the team is NotFound. Days are UTC calendar days.

// DayCount is a count on one UTC day (YYYY-MM-DD).
type DayCount struct {
	Day   string
	Count int
}

// RegionCount is how many connections were last seen in Region ("" when unknown).
type RegionCount struct {
	Region string
	Count  int
}

// SessionsBucket counts connections whose login count lies in [Min, Max] (Max nil: no bound).
type SessionsBucket struct {
	Label string
	Min   int
	Max   *int
	Count int
}

// StateCount counts license codes in one effective state.
type StateCount struct {
	State string
	Count int
}

// MaxAnalyticsDays bounds a per-day range.
const MaxAnalyticsDays = 400

// dayRange checks [from, to) and returns it truncated to whole UTC days.
func dayRange(from, to time.Time) (time.Time, time.Time, error) {
	from = from.UTC().Truncate(24 * time.Hour)
	to = to.UTC()
	if t := to.Truncate(24 * time.Hour); !t.Equal(to) {
		to = t.Add(24 * time.Hour)
	}
	if !to.After(from) {
		return from, to, apperr.New(apperr.Invalid, "from must be before to")
	}
	if to.Sub(from) > MaxAnalyticsDays*24*time.Hour {
		return from, to, apperr.New(apperr.Invalid, "a range covers at most %d days", MaxAnalyticsDays)
	}
	return from, to, nil
}

// dayExpr is the SQL expression of col's UTC day, and dayText turns it into YYYY-MM-DD text.
// On PostgreSQL the cast to date is cheap and groups straight off the (application_id, col)
// index; formatting waits until after the grouping.
func (s *Service) dayExpr(col string) string {
	if s.DB.Dialect == dialect.Postgres {
		return "(" + col + " AT TIME ZONE 'UTC')::date"
	}
	return "substr(" + col + ", 1, 10)" // ent stores UTC times as text "2006-01-02 15:04:05…"
}

func (s *Service) dayText(expr string) string {
	if s.DB.Dialect == dialect.Postgres {
		return "to_char(" + expr + ", 'YYYY-MM-DD')"
	}
	return expr
}

// bind rewrites ? placeholders as $n on PostgreSQL.
func (s *Service) bind(q string) string {
	if s.DB.Dialect != dialect.Postgres {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (s *Service) perDay(ctx context.Context, appID, col string, from, to time.Time) ([]DayCount, error) {
	app, err := s.Authorize(ctx, appID, team.ReadAnalytics)
	if err != nil {
		return nil, err
	}
	from, to, err = dayRange(from, to)
	if err != nil {
		return nil, err
	}
	rows, err := s.DB.SQL.QueryContext(ctx, s.bind(
		"SELECT "+s.dayText("d")+", n FROM (SELECT "+s.dayExpr(col)+" AS d, count(*) AS n FROM app_connections "+
			"WHERE application_id = ? AND "+col+" >= ? AND "+col+" < ? GROUP BY d) per_day"),
		app.ID, from, to)
	if err != nil {
		return nil, fmt.Errorf("analytics: %w", err)
	}
	counts := map[string]int{}
	if err := scanRows(rows, func(r *sql.Rows) error {
		var d string
		var n int
		err := r.Scan(&d, &n)
		counts[d] = n
		return err
	}); err != nil {
		return nil, err
	}
	var out []DayCount
	for d := from; d.Before(to); d = d.Add(24 * time.Hour) {
		k := d.Format("2006-01-02")
		out = append(out, DayCount{Day: k, Count: counts[k]})
	}
	return out, nil
}

// SignupsPerDay counts the connections that joined appID on each day of [from, to), zero days
// included.
func (s *Service) SignupsPerDay(ctx context.Context, appID string, from, to time.Time) ([]DayCount, error) {
	return s.perDay(ctx, appID, "joined_at", from, to)
}

// ActiveUsersPerDay counts, for each day of [from, to), the connections whose latest session
// fell on that day. LoginSign keeps each connection's last session, not a login history, so a
// person who signed in on several days counts on the latest one.
func (s *Service) ActiveUsersPerDay(ctx context.Context, appID string, from, to time.Time) ([]DayCount, error) {
	return s.perDay(ctx, appID, "last_session_at", from, to)
}

// UsersPerRegion counts appID's connections by region, largest first ("" = unknown).
func (s *Service) UsersPerRegion(ctx context.Context, appID string) ([]RegionCount, error) {
	app, err := s.Authorize(ctx, appID, team.ReadAnalytics)
	if err != nil {
		return nil, err
	}
	rows, err := s.DB.SQL.QueryContext(ctx, s.bind(
		"SELECT COALESCE(region, ''), count(*) AS n FROM app_connections WHERE application_id = ? GROUP BY region ORDER BY n DESC, 1"),
		app.ID)
	if err != nil {
		return nil, fmt.Errorf("analytics: %w", err)
	}
	merged := map[string]int{}
	var order []string
	if err := scanRows(rows, func(r *sql.Rows) error {
		var reg string
		var n int
		if err := r.Scan(&reg, &n); err != nil {
			return err
		}
		if _, ok := merged[reg]; !ok {
			order = append(order, reg)
		}
		merged[reg] += n // NULL and '' both mean unknown
		return nil
	}); err != nil {
		return nil, err
	}
	out := make([]RegionCount, 0, len(order))
	for _, reg := range order {
		out = append(out, RegionCount{Region: reg, Count: merged[reg]})
	}
	return out, nil
}

// sessionBuckets are the login-count buckets of SessionsDistribution.
var sessionBuckets = []struct {
	label    string
	min, max int // max < 0: unbounded
}{{"0", 0, 0}, {"1", 1, 1}, {"2-5", 2, 5}, {"6-10", 6, 10}, {"11-50", 11, 50}, {"51-100", 51, 100}, {"101+", 101, -1}}

// SessionsDistribution counts appID's connections per login-count bucket (0, 1, 2–5, 6–10,
// 11–50, 51–100, 101+), every bucket listed.
func (s *Service) SessionsDistribution(ctx context.Context, appID string) ([]SessionsBucket, error) {
	app, err := s.Authorize(ctx, appID, team.ReadAnalytics)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	b.WriteString("CASE")
	for i, k := range sessionBuckets {
		if k.max >= 0 {
			fmt.Fprintf(&b, " WHEN login_count <= %d THEN %d", k.max, i)
		} else {
			fmt.Fprintf(&b, " ELSE %d", i)
		}
	}
	b.WriteString(" END")
	// Counting per login_count first lets the database walk the (application_id, login_count)
	// index; the few hundred distinct counts then fold into buckets.
	rows, err := s.DB.SQL.QueryContext(ctx, s.bind(
		"SELECT "+b.String()+" AS bucket, sum(n) FROM (SELECT login_count, count(*) AS n FROM app_connections "+
			"WHERE application_id = ? GROUP BY login_count) per_count GROUP BY bucket"), app.ID)
	if err != nil {
		return nil, fmt.Errorf("analytics: %w", err)
	}
	counts := make([]int, len(sessionBuckets))
	if err := scanRows(rows, func(r *sql.Rows) error {
		var i, n int
		if err := r.Scan(&i, &n); err != nil {
			return err
		}
		if i >= 0 && i < len(counts) {
			counts[i] = n
		}
		return nil
	}); err != nil {
		return nil, err
	}
	out := make([]SessionsBucket, len(sessionBuckets))
	for i, k := range sessionBuckets {
		out[i] = SessionsBucket{Label: k.label, Min: k.min, Count: counts[i]}
		if k.max >= 0 {
			m := k.max
			out[i].Max = &m
		}
	}
	return out, nil
}

// LicensesByState counts appID's license codes by effective state (an ACTIVE code past its
// expiry counts as EXPIRED), every state listed.
func (s *Service) LicensesByState(ctx context.Context, appID string) ([]StateCount, error) {
	app, err := s.Authorize(ctx, appID, team.ReadAnalytics)
	if err != nil {
		return nil, err
	}
	rows, err := s.DB.SQL.QueryContext(ctx, s.bind(
		"SELECT CASE WHEN state = 'ACTIVE' AND expires_at IS NOT NULL AND expires_at <= ? THEN 'EXPIRED' ELSE state END AS st, count(*) "+
			"FROM license_codes WHERE application_id = ? GROUP BY st"), s.now(), app.ID)
	if err != nil {
		return nil, fmt.Errorf("analytics: %w", err)
	}
	counts := map[string]int{}
	if err := scanRows(rows, func(r *sql.Rows) error {
		var st string
		var n int
		err := r.Scan(&st, &n)
		counts[st] += n
		return err
	}); err != nil {
		return nil, err
	}
	var out []StateCount
	for _, st := range []string{"UNUSED", "ACTIVE", "EXPIRED"} {
		out = append(out, StateCount{State: st, Count: counts[st]})
	}
	return out, nil
}

func scanRows(rows *sql.Rows, scan func(*sql.Rows) error) error {
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return fmt.Errorf("analytics: %w", err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("analytics: %w", err)
	}
	return nil
}
