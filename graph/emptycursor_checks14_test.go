package graph_test

import (
	"context"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/graph"
	"loginsign/internal/activity"
	"loginsign/internal/team"
)

// TestAnEmptyActivityCursorIsRefusedAsEveryListsIs (review helper gql14, checks14): every
// other list refuses after: "" (invalid_request, TestBadArgumentValuesAreRefusedWithTheirCode):
// Relay's cursors are the ones a list gave out, and none gives out "". The activity log, whose
// after is a String, took "" for no cursor and answered its newest page; it now answers as for
// any cursor it did not give out (bad_cursor, its own code, as TestActivityLog expects of
// after: "not-a-cursor"). Without after, it still answers the newest page.
func TestAnEmptyActivityCursorIsRefusedAsEveryListsIs(t *testing.T) {
	t.Parallel()
	r := newRefusals(t)
	log := &activity.Service{DB: r.db, Now: time.Now, Owned: func(ctx context.Context, appID string) (*ent.Application, error) {
		return r.portal.Authorize(ctx, appID, team.ReadActivity)
	}}
	r.handler = graph.NewHandler(&graph.Resolver{Client: r.db.Client, Identity: r.identity, Portal: r.portal, Activity: log},
		slog.New(slog.NewTextHandler(&r.logged, nil)))
	for _, tc := range []struct{ name, query, want string }{
		{"a person's own activity", `query($c: String) { viewer { activity(first: 5, after: $c) { nextCursor } } }`,
			`{"message":"the cursor is not one this list gave","path":["viewer","activity"],"locations":[{"line":1,"column":30}],"extensions":{"code":"bad_cursor"}}`},
		{"an application's activity", `query($app: ID!, $c: String) { application(id: $app) { log: activity(after: $c) { nextCursor } } }`,
			`{"message":"the cursor is not one this list gave","path":["application","log"],"locations":[{"line":1,"column":56}],"extensions":{"code":"bad_cursor"}}`},
	} {
		for _, c := range []string{"", "not-a-cursor"} {
			t.Run(tc.name+" after "+strconv.Quote(c), func(t *testing.T) {
				r.wantOneError(t, tc.query, map[string]any{"app": r.app.ID, "c": c}, tc.want)
			})
		}
	}
	var got map[string]any
	if err := r.as(r.alice.ID).Post(`{ viewer { activity(first: 5) { nextCursor } } }`, &got); err != nil {
		t.Errorf("activity without after: %v", err)
	}
}
