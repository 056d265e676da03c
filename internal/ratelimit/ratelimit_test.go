package ratelimit_test

import (
	"context"
	"testing"
	"time"

	"loginsign/internal/apperr"
	"loginsign/internal/kv"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/ratelimit"
)

func TestAddressKey(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, addr, want string
	}{
		{"IPv4 as it is", "192.0.2.7", "192.0.2.7"},
		{"IPv4-mapped IPv6 as its IPv4 address", "::ffff:192.0.2.7", "192.0.2.7"},
		{"IPv6 by its /64", "2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"the last address of the same /64", "2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"},
		{"the next /64", "2001:db8:1:3::1", "2001:db8:1:3::/64"},
		{"a zone is dropped", "fe80::1%eth0", "fe80::/64"},
		{"loopback", "::1", "::/64"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ratelimit.AddressKey(tt.addr)
			if !ok || got != tt.want {
				t.Fatalf("AddressKey(%q) = %q, %v; want %q, true", tt.addr, got, ok, tt.want)
			}
		})
	}
	for _, s := range []string{"", "unknown", "192.0.2.7:4000", "[2001:db8::1]", "2001:db8::/64", "user@example.com"} {
		if got, ok := ratelimit.AddressKey(s); ok {
			t.Errorf("AddressKey(%q) = %q, true; want not an address", s, got)
		}
	}
}

// TestAddressSubjectsCountByTheirKey: every per-address limit goes through the limiter, so one
// IPv6 /64 is one client wherever its full address is the subject (alone, or after a kind
// such as GraphQL's "ip:"), in Take, Check and CheckTake alike; other subjects are counted as
// they are.
func TestAddressSubjectsCountByTheirKey(t *testing.T) {
	t.Parallel()
	kvtest.Run(t, func(t *testing.T, k *kv.Store) {
		l := ratelimit.New(k)
		ctx := context.Background()
		one := ratelimit.Rule{Name: "test-one", N: 1, Window: time.Minute}
		take := func(r ratelimit.Rule, subject string) error {
			t.Helper()
			err := l.Take(ctx, r, subject)
			if err != nil && !apperr.Is(err, apperr.RateLimited) {
				t.Fatalf("Take(%q): %v", subject, err)
			}
			return err
		}
		for _, tt := range []struct {
			name, first, second string
			shared              bool
		}{
			{"two addresses of one IPv6 /64", "2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:fffe", true},
			{"two IPv6 /64s", "2001:db8:5:1::1", "2001:db8:5:2::1", false},
			{"two IPv4 addresses", "192.0.2.10", "192.0.2.11", false},
			{"an IPv4 address and its IPv4-mapped form", "192.0.2.20", "::ffff:192.0.2.20", true},
			{"one /64 after a kind", "ip:2001:db8:3:4::1", "ip:2001:db8:3:4::2", true},
			{"one /64 under two kinds", "ip:2001:db8:6:7::1", "usr:2001:db8:6:7::2", false},
			{"other subjects as they are", "usr:a1", "usr:a2", false},
		} {
			t.Run(tt.name, func(t *testing.T) {
				if err := take(one, tt.first); err != nil {
					t.Fatalf("first hit of %q: %v", tt.first, err)
				}
				err := take(one, tt.second)
				if got := err != nil; got != tt.shared {
					t.Fatalf("%q after %q: refused %v, want %v", tt.second, tt.first, got, tt.shared)
				}
			})
		}

		t.Run("Check and CheckTake count the /64 too", func(t *testing.T) {
			failures := ratelimit.Rule{Name: "test-failures", N: 2, Window: time.Minute}
			quota := ratelimit.Rule{Name: "test-quota", N: 100, Window: time.Minute}
			take(failures, "2001:db8:9:9::1")
			take(failures, "2001:db8:9:9::2")
			if err := l.Check(ctx, failures, "2001:db8:9:9::3"); !apperr.Is(err, apperr.RateLimited) {
				t.Fatalf("Check of a third address of the /64: %v, want rate limited", err)
			}
			checkErr, _, err := l.CheckTake(ctx, failures, "2001:db8:9:9::4", quota, "app-1")
			if err != nil || !apperr.Is(checkErr, apperr.RateLimited) {
				t.Fatalf("CheckTake of a fourth address of the /64: %v, %v; want rate limited", checkErr, err)
			}
			if err := l.Check(ctx, failures, "2001:db8:9:a::1"); err != nil {
				t.Fatalf("Check of the next /64: %v", err)
			}
		})
	})
}
