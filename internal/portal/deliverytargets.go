package portal

import (
	"context"
	"net"
	"net/url"
	"strings"
	"time"

	"loginsign/internal/apperr"
	"loginsign/internal/ratelimit"
)

// DefaultDeliveryTargets bounds, per developer and day, the hosts and ports the developer
// newly points webhook and back-channel logout URLs at (takeDeliveryTargets). A test event
// goes to whatever host and port the webhook URL names, shown nowhere to be the developer's,
// and its answer tells whether an HTTP server answers there: one free account, changing the
// URL before each of its 300 sends an hour (webhooks.DefaultManualSendsPerDeveloper),
// probed 7,200 third-party ports a day from LoginSign's addresses. A developer debugging a
// receiver moves between a few hosts a day (a tunnel that gets a new name at each start, a
// staging host, the production one); a host already used within the day, or a path changed
// on the same host, is not counted again.
var DefaultDeliveryTargets = ratelimit.Rule{Name: "delivery-targets", N: 20, Window: 24 * time.Hour,
	Message: "too many new webhook or back-channel logout hosts today; try again in %d s"}

// deliveryTargetUsed marks a host and port a developer pointed a delivery URL at within the
// day, so that going back to it is not counted again.
var deliveryTargetUsed = ratelimit.Rule{Name: "delivery-target-used", N: 1, Window: 24 * time.Hour}

// takeDeliveryTargets counts against developer uid's DeliveryTargets budget (default
// DefaultDeliveryTargets) each scheme, host and port that urls connect to, unless a URL of
// was (the application's current delivery URLs) connects there too or uid pointed a delivery
// URL there within the day: RateLimited past it, before anything is written. An empty URL
// (none, or removed) counts nothing.
func (s *Service) takeDeliveryTargets(ctx context.Context, uid string, was []string, urls ...string) error {
	if s.Limiter == nil {
		return nil
	}
	had := map[string]bool{}
	for _, u := range was {
		had[deliveryTarget(u)] = true
	}
	for _, u := range urls {
		t := deliveryTarget(u)
		if t == "" || had[t] {
			continue
		}
		had[t] = true
		if err := s.takeDeliveryTarget(ctx, uid, t); err != nil {
			return err
		}
	}
	return nil
}

// TakeDeliveryAddress counts against developer uid's DeliveryTargets budget the address
// (ip:port) a test event or redelivery of theirs is about to connect to, once a day per
// address, as takeDeliveryTargets counts the hosts of their URLs: RateLimited past it. The
// URL's host was counted when the URL was saved, but a name counts once whatever it resolves
// to, and one whose DNS the developer answers with a different address at each lookup
// probed one port of any number of hosts within the budget of one (webhooks.Service,
// DeliveryAddresses). A receiver behind a load balancer counts each of the addresses its
// tests reach, and over HTTPS gets each count back (GiveBackDeliveryAddress). Nil Limiter:
// nothing is counted.
func (s *Service) TakeDeliveryAddress(ctx context.Context, uid, address string) error {
	if s.Limiter == nil {
		return nil
	}
	return s.takeDeliveryTarget(ctx, uid, "address "+address)
}

// deliveryAddressGivenBack marks an address whose count a developer got back within the day
// (GiveBackDeliveryAddress), so that it is given back once.
var deliveryAddressGivenBack = ratelimit.Rule{Name: "delivery-address-given-back", N: 1, Window: 24 * time.Hour}

// GiveBackDeliveryAddress returns to developer uid's DeliveryTargets budget the count of
// address (ip:port), which TakeDeliveryAddress counted within the day, once a test event or
// redelivery there was answered over TLS with a certificate valid for the URL's host: the
// address serves the developer's own name (a server of theirs, or a CDN's serving it), and
// its answers tell nothing of a third party's host. A receiver behind a load balancer or CDN
// whose addresses rotate through the day (each send may meet a new one) then spends the
// budget only on the addresses that do not prove it. An address is given back at most once a
// day, and only when it was counted (its day's mark is there): never more than was taken.
// Nil Limiter: nothing is given back.
func (s *Service) GiveBackDeliveryAddress(ctx context.Context, uid, address string) error {
	if s.Limiter == nil {
		return nil
	}
	used := uid + " address " + address
	err := s.Limiter.Check(ctx, deliveryTargetUsed, used)
	if err == nil {
		return nil // not counted within the day
	}
	if !apperr.Is(err, apperr.RateLimited) {
		return err
	}
	err = s.Limiter.Take(ctx, deliveryAddressGivenBack, used)
	if apperr.Is(err, apperr.RateLimited) {
		return nil // given back already
	}
	if err != nil {
		return err
	}
	return s.Limiter.Return(ctx, s.DeliveryTargets.Or(DefaultDeliveryTargets), uid)
}

// takeDeliveryTarget counts target t (deliveryTarget's, or an address) against developer
// uid's DeliveryTargets budget unless uid used it within the day.
func (s *Service) takeDeliveryTarget(ctx context.Context, uid, t string) error {
	used := uid + " " + t
	err := s.Limiter.Check(ctx, deliveryTargetUsed, used)
	if apperr.Is(err, apperr.RateLimited) {
		return nil // used within the day
	}
	if err != nil {
		return err
	}
	if err := s.Limiter.Take(ctx, s.DeliveryTargets.Or(DefaultDeliveryTargets), uid); err != nil {
		return err
	}
	if err := s.Limiter.Take(ctx, deliveryTargetUsed, used); err != nil && !apperr.Is(err, apperr.RateLimited) {
		return err
	}
	return nil
}

// deliveryTarget is the scheme, host and port a delivery URL connects to ("" for none).
func deliveryTarget(raw string) string {
	u, err := url.Parse(raw)
	if raw == "" || err != nil || u.Host == "" {
		return ""
	}
	return strings.ToLower(u.Scheme) + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), originPort(u))
}
