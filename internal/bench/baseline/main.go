// Command baseline is the floor of the load runs (make bench-load): a bare net/http handler
// that answers every request with one Redis GET of a 200-byte value, through the same kv
// package (and so the same go-redis client) as LoginSign. REDIS_URL names the Redis; empty
// runs the embedded store in this process, as `loginsign serve` does.
//
//	REDIS_URL=redis://127.0.0.1:6379/0 go run ./internal/bench/baseline -addr 127.0.0.1:18081
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"

	"loginsign/internal/kv"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18081", "listen address")
	flag.Parse()
	ctx := context.Background()
	k, err := kv.Open(ctx, os.Getenv("REDIS_URL"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "baseline:", err)
		os.Exit(1)
	}
	defer k.Close()
	if err := k.Set(ctx, "bench:baseline", strings.Repeat("x", 200), 0).Err(); err != nil {
		fmt.Fprintln(os.Stderr, "baseline:", err)
		os.Exit(1)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, err := k.Get(r.Context(), "bench:baseline").Bytes()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(v)
	})
	if err := http.ListenAndServe(*addr, h); err != nil {
		fmt.Fprintln(os.Stderr, "baseline:", err)
		os.Exit(1)
	}
}
