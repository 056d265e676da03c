package server

import (
	"bytes"
	"context"
	"io"
	"sort"
	"strings"
	"sync"
	"testing"

	"loginsign/ent/signingkey"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/store/storetest"
)

// Instances starting together on one empty database agree on one signing key per algorithm:
// none signs with a key the others do not publish.
func TestInstancesStartingTogetherShareTheFirstKeys(t *testing.T) {
	for backend, dbURL := range storetest.URLs(t) {
		t.Run(backend, func(t *testing.T) {
			redisURL := kvtest.URL(t)
			var servers []*Server
			for range 4 {
				cfg, err := loadConfig(nil, env(map[string]string{"DATABASE_URL": dbURL, "REDIS_URL": redisURL,
					"LOGINSIGN_DATA_DIR": t.TempDir(), "LOGINSIGN_SECRET": testSecretHex, "LOGINSIGN_LOG_LEVEL": "error"}))
				if err != nil {
					t.Fatal(err)
				}
				s, err := newServer(context.Background(), cfg, newLogger(io.Discard, "error"))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(s.Close)
				servers = append(servers, s)
			}
			sets := make([]string, len(servers))
			var wg sync.WaitGroup
			for i, s := range servers {
				wg.Go(func() {
					set, err := s.oauth.Keys.JWKS(context.Background())
					if err != nil {
						t.Error(err)
						return
					}
					var kids []string
					for _, k := range set.Keys {
						kids = append(kids, k.Algorithm+":"+k.KeyID)
					}
					sort.Strings(kids)
					sets[i] = strings.Join(kids, " ")
				})
			}
			wg.Wait()
			for i := range sets {
				if sets[i] != sets[0] {
					t.Fatalf("instance %d publishes %q, instance 0 %q", i, sets[i], sets[0])
				}
			}
			if n := strings.Count(sets[0], ":"); n != 2 {
				t.Fatalf("published keys = %q, want one ES256 and one RS256", sets[0])
			}
			if n, _ := servers[0].db.SigningKey.Query().Count(context.Background()); n != 2 {
				t.Fatalf("%d signing keys stored, want 2", n)
			}
		})
	}
}

// `loginsign keys rotate` publishes a new key per algorithm at once; the old ones keep signing.
func TestKeysRotateCommand(t *testing.T) {
	dbURL := storetest.URLs(t)["sqlite"]
	e := env(map[string]string{"DATABASE_URL": dbURL, "LOGINSIGN_DATA_DIR": t.TempDir(),
		"LOGINSIGN_SECRET": testSecretHex, "LOGINSIGN_LOG_LEVEL": "error"})
	var out bytes.Buffer
	if err := Run(context.Background(), []string{"keys", "rotate"}, e, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "published now, signing from") {
		t.Fatalf("output %q", out.String())
	}
	if err := Run(context.Background(), []string{"keys", "rotate", "now"}, e, io.Discard, io.Discard); err == nil {
		t.Fatal("keys rotate with an argument: want an error")
	}
	if err := Run(context.Background(), []string{"keys", "rotate"}, e, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	db := storetest.Open(t, dbURL)
	ctx := context.Background()
	if n := db.SigningKey.Query().CountX(ctx); n != 4 {
		t.Fatalf("%d keys after two rotations, want four", n)
	}
	// The first pair stays published (retired only after the second pair signs and their last
	// id_tokens expire).
	if n := db.SigningKey.Query().Where(signingkey.RetiredAtNotNil()).CountX(ctx); n != 2 {
		t.Fatalf("%d keys scheduled to retire, want the first two", n)
	}
}
