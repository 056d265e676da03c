// Command cluster runs a three-instance LoginSign deployment on this machine until interrupted:
// PostgreSQL, Redis (Sentinel with -sentinel), three `loginsign serve` and HAProxy in front
// (`make cluster`). Mail goes to each instance's outbox (dev mode).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"loginsign/internal/cluster"
)

func main() {
	bin := flag.String("bin", "bin/loginsign", "the loginsign binary")
	dir := flag.String("dir", "tmp/cluster", "scratch directory (data, configs, logs)")
	n := flag.Int("instances", 3, "instances behind the balancer")
	sentinel := flag.Bool("sentinel", true, "Redis primary + replica + three Sentinels (else one Redis)")
	flag.Parse()
	if m := cluster.Missing(); len(m) > 0 {
		fmt.Fprintf(os.Stderr, "cluster: missing %v (apt-get install haproxy redis-server redis-sentinel postgresql)\n", m)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.RemoveAll(*dir)
	c, err := cluster.Start(ctx, cluster.Options{Bin: *bin, Dir: *dir, Instances: *n, Sentinel: *sentinel, Log: os.Stderr})
	if err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		os.Exit(1)
	}
	defer c.Close()
	fmt.Printf("LoginSign cluster: %s (portal %s/portal)\n", c.URL, c.URL)
	for _, in := range c.Instances() {
		fmt.Printf("  instance %d: http://%s\n", in.N, in.Addr)
	}
	fmt.Printf("  DATABASE_URL=%s\n  REDIS_URL=%s\n  logs and data: %s\nCtrl-C stops everything.\n", c.DatabaseURL, c.RedisURL, *dir)
	<-ctx.Done()
}
