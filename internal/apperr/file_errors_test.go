package apperr_test

import (
	"fmt"
	"os"
	"testing"

	"loginsign/internal/apperr"
)

// A local file that is missing or unreadable is a bug or a misconfiguration (500), not an
// outage of a dependency the caller may retry (503): every syscall.Errno has the methods of
// net.Error, so it read as one (found by the mutation review's apperr helper).
func TestALocalFileErrorIsNoDependencyOutage(t *testing.T) {
	_, err := os.Open("/nonexistent/loginsign-file")
	if apperr.DependencyDown(err) {
		t.Fatalf("DependencyDown(%v) = true, want false", err)
	}
}

// Text PostgreSQL refuses (a NUL, bytes that are not UTF-8) is the request's fault, whatever
// route let it through: As answers Invalid for SQLSTATE 22021 and 22P05, Internal for the
// other database errors.
func TestTextTheDatabaseRefusesIsInvalid(t *testing.T) {
	for state, want := range map[string]apperr.Code{
		"22021": apperr.Invalid, "22P05": apperr.Invalid, "23505": apperr.Internal, "22001": apperr.Internal,
	} {
		err := fmt.Errorf("storing: %w", sqlStateError(state))
		if got := apperr.As(err).Code; got != want {
			t.Errorf("As(SQLSTATE %s) = %s, want %s", state, got, want)
		}
		if got := apperr.CodeOf(err); got != want {
			t.Errorf("CodeOf(SQLSTATE %s) = %s, want %s", state, got, want)
		}
	}
}
