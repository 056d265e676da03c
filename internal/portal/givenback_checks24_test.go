package portal_test

import (
	"context"
	"testing"

	"loginsign/internal/apperr"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/portal"
	"loginsign/internal/ratelimit"
)

// TestAnAddressIsGivenBackOnlyOnceAndOnlyWhenCounted (review24): a receiver address that
// proves to serve the developer's name gives its count back to the budget of new delivery
// targets (GiveBackDeliveryAddress). Given back again, or given back without having been
// counted, it would grow the budget without bound: neither adds anything.
func TestAnAddressIsGivenBackOnlyOnceAndOnlyWhenCounted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc := &portal.Service{Limiter: ratelimit.New(kvtest.Embedded(t)), DeliveryTargets: ratelimit.Rule{N: 1}}
	const uid = "usr_checks24"
	take := func(address string) bool {
		t.Helper()
		err := svc.TakeDeliveryAddress(ctx, uid, address)
		if err != nil && !apperr.Is(err, apperr.RateLimited) {
			t.Fatal(err)
		}
		return err == nil
	}
	giveBack := func(address string) {
		t.Helper()
		if err := svc.GiveBackDeliveryAddress(ctx, uid, address); err != nil {
			t.Fatal(err)
		}
	}
	if !take("192.0.2.1:443") {
		t.Fatal("the first address was refused by a budget of one")
	}
	giveBack("192.0.2.1:443")
	giveBack("192.0.2.1:443")
	giveBack("192.0.2.9:443") // never counted
	if !take("192.0.2.2:443") {
		t.Error("an address after the first was given back: refused, want counted")
	}
	if take("192.0.2.3:443") {
		t.Error("a third address was counted: the first was given back more than once, or one never counted was given back")
	}
	if !take("192.0.2.1:443") {
		t.Error("the address given back was refused; it is used today and counts nothing again")
	}
}
