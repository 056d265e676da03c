package cluster

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"loginsign/internal/mail/mailtest"
)

// BenchmarkClusterFlows measures whole first sign-ins per second through HAProxy with one, two
// and three instances serving, in one run on one deployment (PostgreSQL + one Redis), eight
// people signing in at a time. On a machine with fewer cores than processes the figures show
// the machine's limit, not the design's: compare them with each other.
func BenchmarkClusterFlows(b *testing.B) {
	if m := Missing(); len(m) > 0 {
		b.Skipf("this machine lacks %v", m)
	}
	ctx := context.Background()
	dir := b.TempDir()
	bin := filepath.Join(dir, "loginsign")
	if out, err := execGo("build", "-o", bin, "loginsign"); err != nil {
		b.Fatalf("building loginsign: %v\n%s", err, out)
	}
	smtp := mailtest.Start(b)
	c, err := Start(ctx, Options{Bin: bin, Dir: filepath.Join(dir, "cluster"), Instances: 3,
		Env: map[string]string{"LOGINSIGN_SMTP_URL": smtp.URL()}})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	a := createApp(b, c, bin, "")
	provider, err := oidc.NewProvider(ctx, c.URL)
	if err != nil {
		b.Fatal(err)
	}
	runner := &flowRunner{base: c.URL, app: a, mail: mailbox{smtp}, verifier: provider.Verifier(&oidc.Config{ClientID: a.id})}
	var seq atomic.Int64
	// One instance first: the others stop gracefully and HAProxy's health check takes them out.
	for _, n := range []int{1, 2} {
		if err := c.Stop(n); err != nil {
			b.Fatal(err)
		}
	}
	time.Sleep(1500 * time.Millisecond)
	for serving := 1; serving <= 3; serving++ {
		if serving > 1 {
			if err := c.StartInstance(serving - 1); err != nil {
				b.Fatal(err)
			}
			if err := c.WaitReady(ctx, serving-1, 30*time.Second); err != nil {
				b.Fatal(err)
			}
			time.Sleep(1500 * time.Millisecond) // two health checks: HAProxy sends it traffic
		}
		b.Run(fmt.Sprintf("instances=%d", serving), func(b *testing.B) {
			next := make(chan int64)
			var wg sync.WaitGroup
			var failed atomic.Int64
			start := time.Now()
			for w := 0; w < 8; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range next {
						if _, err := runner.run(ctx, int(i%60000), fmt.Sprintf("bench%d@example.com", i)); err != nil {
							failed.Add(1)
						}
					}
				}()
			}
			for i := 0; i < b.N; i++ {
				next <- seq.Add(1)
			}
			close(next)
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "flows/s")
			if f := failed.Load(); f > 0 {
				b.Fatalf("%d of %d flows failed", f, b.N)
			}
		})
	}
}
