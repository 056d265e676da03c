package enum

import (
	"bytes"
	"testing"

	"loginsign/ent/importrow"
	"loginsign/ent/webhookevent"
)

// GraphQL answers UPPER_SNAKE and takes UPPER_SNAKE or, for one release, the stored value;
// anything else (mixed case, unknown values, non-strings) is refused.
func TestEnumsAreUpperSnakeInGraphQL(t *testing.T) {
	var b bytes.Buffer
	MarshalImportRowStatus(importrow.StatusAlreadyConnected).MarshalGQL(&b)
	if b.String() != `"ALREADY_CONNECTED"` {
		t.Fatalf("marshal = %s", b.String())
	}
	for _, in := range []string{"ALREADY_CONNECTED", "already_connected"} {
		if v, err := UnmarshalImportRowStatus(in); err != nil || v != importrow.StatusAlreadyConnected {
			t.Errorf("unmarshal %q = %q, %v", in, v, err)
		}
	}
	for _, in := range []any{"Already_Connected", "ALREADY CONNECTED", "GONE", "", 3} {
		if v, err := UnmarshalImportRowStatus(in); err == nil {
			t.Errorf("unmarshal %v accepted as %q", in, v)
		}
	}
	if v, err := UnmarshalWebhookEventStatus("PENDING"); err != nil || v != webhookevent.StatusPending {
		t.Errorf("PENDING = %q, %v", v, err)
	}
}
