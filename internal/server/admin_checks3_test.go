package server

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"loginsign/ent/user"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/store/storetest"
)

// The operator CLI refuses a wrong verb or missing required flags with its own message and
// creates nothing; a refusal of the domain reads as its message alone (no error code prefix);
// `apps create` prints a webhook secret it made, once, in the plain output.
func TestAdminCommandsValidateTheirInput(t *testing.T) {
	for name, dbURL := range storetest.URLs(t) {
		t.Run(name, func(t *testing.T) {
			e := env(map[string]string{"DATABASE_URL": dbURL, "LOGINSIGN_DATA_DIR": t.TempDir(), "REDIS_URL": kvtest.URL(t),
				"LOGINSIGN_SECRET": testSecretHex, "LOGINSIGN_LOG_LEVEL": "error"})
			ctx := context.Background()
			run := func(args ...string) (string, error) {
				var out bytes.Buffer
				err := Run(ctx, args, e, &out, io.Discard)
				return out.String(), err
			}

			if _, err := run("users", "delete", "--email", "wrongverb@example.com"); err == nil || !strings.Contains(err.Error(), "usage") {
				t.Errorf("users delete --email …: %v, want a usage error", err)
			}
			if _, err := run("keys", "create"); err == nil || !strings.Contains(err.Error(), "usage") {
				t.Errorf("keys create: %v, want a usage error", err)
			}
			if _, err := run("users", "create"); err == nil || err.Error() != "--email is required" {
				t.Errorf("users create without --email: %v, want %q", err, "--email is required")
			}
			const need = "--owner, --name and at least one --redirect-uri are required"
			if _, err := run("apps", "create", "--owner", "noredirect@example.com", "--name", "Demo"); err == nil || err.Error() != need {
				t.Errorf("apps create without --redirect-uri: %v, want %q", err, need)
			}
			if _, err := run("apps", "create", "--owner", "noname@example.com", "--redirect-uri", "https://app.example.com/cb"); err == nil || err.Error() != need {
				t.Errorf("apps create without --name: %v, want %q", err, need)
			}

			if _, err := run("users", "create", "--email", "ann@example.com"); err != nil {
				t.Fatal(err)
			}
			const taken = "an account with this email already exists"
			if _, err := run("users", "create", "--email", "ann@example.com"); err == nil || err.Error() != taken {
				t.Errorf("users create with a taken address: %v, want exactly %q", err, taken)
			}

			out, err := run("apps", "create", "--owner", "dev@example.com", "--name", "Hooked",
				"--redirect-uri", "https://app.example.com/cb", "--webhook-url", "https://app.example.com/hook")
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out, "client_secret: lss_") || !strings.Contains(out, "webhook secret: whsec_") {
				t.Errorf("apps create with --webhook-url printed %q, want the client secret and the webhook secret", out)
			}

			db := storetest.Open(t, dbURL)
			for _, email := range []string{"wrongverb@example.com", "noredirect@example.com", "noname@example.com"} {
				if n := db.User.Query().Where(user.Email(email)).CountX(ctx); n != 0 {
					t.Errorf("a refused command created the account %s", email)
				}
			}
			if n := db.Application.Query().CountX(ctx); n != 1 {
				t.Errorf("%d applications stored, want only the one created", n)
			}
		})
	}
}
