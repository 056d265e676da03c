package portal

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"entgo.io/contrib/entgql"

	"loginsign/ent"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/store/storetest"
)

// TestPageErrTellsRefusalsByTypeNotByWords (review helper gql14, checks14): pageErr showed as
// invalid_request, with its whole text, any error of a page whose text held "cursor",
// "first", "last", "negative", "order", "predicate" or "empty": a database's error naming
// last_session_at, an ORDER BY or an empty result reached the developer whole, and
// mislabelled. It now tells ent's refusals of the page's arguments by their type, with the
// same answers as before, and returns every other error as it is (internal error).
func TestPageErrTellsRefusalsByTypeNotByWords(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.SQLite(t)
	one := 1
	_, bothFirstAndLast := db.AppConnection.Query().Paginate(ctx, nil, &one, nil, &one)
	_, nestedEmpty := (&ent.AppConnectionWhereInput{HasApplicationWith: []*ent.ApplicationWhereInput{{}}}).
		Filter(db.AppConnection.Query())
	_, notEmpty := (&ent.AppConnectionWhereInput{Not: &ent.AppConnectionWhereInput{}}).Filter(db.AppConnection.Query())
	if bothFirstAndLast == nil || nestedEmpty == nil || notEmpty == nil {
		t.Fatalf("ent's refusals: %v, %v, %v", bothFirstAndLast, nestedEmpty, notEmpty)
	}
	domain := apperr.New(apperr.Invalid, "cursor is not one this list gave out")
	for _, err := range []error{bothFirstAndLast, nestedEmpty, notEmpty, fmt.Errorf("paging: %w", notEmpty)} {
		got := pageErr(err)
		var e *apperr.Error
		if !errors.As(got, &e) || e.Code != apperr.Invalid || e.Message != err.Error() {
			t.Errorf("pageErr(%q) = %#v, want invalid_request with the same text", err, got)
		}
	}
	if got := pageErr(domain); got != domain {
		t.Errorf("pageErr(a domain error) = %v, want it as it is", got)
	}
	for _, text := range []string{
		`pq: column "last_session_at" does not exist`,
		`ERROR: ORDER BY position 3 is not in select list (SQLSTATE 42P10)`,
		`sqlite: no such column: first_seen`,
		`driver: bad connection (cursor closed)`,
		`sql: Scan error: converting NULL to int64 is unsupported (empty result, negative?)`,
		`ent: predicate on a dropped table`,
	} {
		err := errors.New(text)
		if got := pageErr(err); got != err {
			t.Errorf("pageErr(%q) = %#v, want the error as it is (an internal error)", text, got)
		}
	}
}

// TestARepeatedOrderIsRefusedAsEntRefusedIt: an order whose field is the one before it was
// ent's refusal ("duplicate order direction"), shown through pageErr's words; the domain
// refuses it so now (repeatedOrder), with the same answer.
func TestARepeatedOrderIsRefusedAsEntRefusedIt(t *testing.T) {
	t.Parallel()
	s := &Service{DB: storetest.SQLite(t)}
	ctx := auth.WithSession(context.Background(), auth.Session{UserID: "usr_nobody"})
	first := 5
	orders := []*ent.ApplicationOrder{{Field: ent.ApplicationOrderFieldName, Direction: entgql.OrderDirectionAsc},
		{Field: ent.ApplicationOrderFieldName, Direction: entgql.OrderDirectionDesc}}
	_, err := s.ListApplications(ctx, nil, &first, nil, nil, orders, nil)
	var e *apperr.Error
	if !errors.As(err, &e) || e.Code != apperr.Invalid || e.Message != `duplicate order direction "DESC"` {
		t.Errorf("a repeated order: %v, want invalid_request: duplicate order direction \"DESC\"", err)
	}
}
