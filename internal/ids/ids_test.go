package ids_test

import (
	"testing"

	"loginsign/internal/ids"
)

func TestValid(t *testing.T) {
	t.Parallel()
	if id := ids.New(ids.Application); !ids.Valid(ids.Application, id) {
		t.Errorf("Valid(%q) = false for an id New made", id)
	}
	for _, id := range []string{"", "app_", "usr_abc", "app_ABC", "app_ab1", "app_a:b", "app_\x00", "app_\xff", "app_ab c"} {
		if ids.Valid(ids.Application, id) {
			t.Errorf("Valid(%q) = true", id)
		}
	}
}
