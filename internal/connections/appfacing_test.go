package connections_test

import (
	"testing"

	"loginsign/internal/connections"
)

func TestAppFacingEmail(t *testing.T) {
	for _, tt := range []struct {
		name, appEmail, alias, want string
	}{
		{"a shared address is what the app sees", "ann@example.com", "x7k2@relay.example.com", "ann@example.com"},
		{"without one the app sees the alias", "", "x7k2@relay.example.com", "x7k2@relay.example.com"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := connections.AppFacingEmail(tt.appEmail, tt.alias); got != tt.want {
				t.Fatalf("AppFacingEmail(%q, %q) = %q, want %q", tt.appEmail, tt.alias, got, tt.want)
			}
		})
	}
}
