// Package cluster starts a whole multi-instance LoginSign deployment on one machine, from
// Debian's packages: its own PostgreSQL (initdb in a scratch directory), Redis (a single server,
// or a primary, a replica and three Sentinels), N `loginsign serve` processes sharing one
// LOGINSIGN_SECRET, and HAProxy balancing them round-robin with a /readyz health check.
//
// It backs `make cluster` (a deployment to try by hand) and the cluster proof
// (cluster_test.go, `make cluster-test`). Nothing here is part of the server.
package cluster

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Options describe a deployment.
type Options struct {
	Bin       string // the loginsign binary
	Dir       string // scratch directory for data, configs and logs
	Instances int    // loginsign processes behind the balancer (default 3)
	Sentinel  bool   // Redis as primary + replica + three Sentinels instead of one server
	// Env is added to every instance's environment (LOGINSIGN_SMTP_URL, log level, …).
	Env map[string]string
	// Log receives one line per step; nil discards.
	Log io.Writer
}

// Cluster is a running deployment. Its methods are safe for concurrent use.
type Cluster struct {
	opts Options
	// URL is the balancer's origin, also every instance's LOGINSIGN_BASE_URL.
	URL string
	// DatabaseURL is the PostgreSQL database all instances share.
	DatabaseURL string
	// RedisURL is what the instances were given as REDIS_URL.
	RedisURL string
	// Secret is the shared LOGINSIGN_SECRET.
	Secret string

	mu        sync.Mutex
	instances []*Instance
	pg        *postgres
	redis     []*proc // primary, replica (Sentinel mode), then sentinels
	sentinels []int   // sentinel ports
	balancer  *proc
}

// Instance is one loginsign serve process.
type Instance struct {
	N    int
	Addr string // host:port it listens on
	env  []string
	mu   sync.Mutex
	p    *proc
}

// Tools are the programs a deployment needs, all from Debian's packages.
var Tools = []string{"haproxy", "redis-server", "redis-sentinel", "runuser"}

// Missing names the programs of Tools (and PostgreSQL's initdb) this machine lacks.
func Missing() []string {
	var out []string
	for _, t := range Tools {
		if _, err := exec.LookPath(t); err != nil {
			out = append(out, t)
		}
	}
	if _, err := pgBin(); err != nil {
		out = append(out, "postgresql (initdb)")
	}
	return out
}

// Start brings the deployment up and waits until the balancer answers /readyz.
func Start(ctx context.Context, o Options) (c *Cluster, err error) {
	if o.Instances <= 0 {
		o.Instances = 3
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, err
	}
	c = &Cluster{opts: o, Secret: randomHex(32)}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	ports, err := freePorts(o.Instances + 7)
	if err != nil {
		return nil, err
	}
	take := func() int { p := ports[0]; ports = ports[1:]; return p }

	c.logf("postgres: initdb")
	if c.pg, err = startPostgres(ctx, filepath.Join(o.Dir, "pg"), take()); err != nil {
		return nil, err
	}
	c.DatabaseURL = c.pg.url("loginsign")
	if err := c.pg.createDB(ctx, "loginsign"); err != nil {
		return nil, err
	}

	if err := c.startRedis(ctx, take, o.Sentinel); err != nil {
		return nil, err
	}

	lbPort := take()
	c.URL = fmt.Sprintf("http://127.0.0.1:%d", lbPort)
	for i := 0; i < o.Instances; i++ {
		in := &Instance{N: i, Addr: fmt.Sprintf("127.0.0.1:%d", take())}
		env := map[string]string{
			"LOGINSIGN_ADDR": in.Addr, "LOGINSIGN_BASE_URL": c.URL, "DATABASE_URL": c.DatabaseURL,
			"REDIS_URL": c.RedisURL, "LOGINSIGN_SECRET": c.Secret,
			"LOGINSIGN_DATA_DIR":  filepath.Join(o.Dir, fmt.Sprintf("instance%d", i)),
			"LOGINSIGN_LOG_LEVEL": "warn",
			// HAProxy says who the client is in X-Forwarded-For; only it is believed.
			"LOGINSIGN_TRUSTED_PROXIES": "127.0.0.1/32",
		}
		for k, v := range o.Env {
			env[k] = v
		}
		for k, v := range env {
			in.env = append(in.env, k+"="+v)
		}
		c.instances = append(c.instances, in)
	}
	// The first instance migrates alone; the others then start together (they would also be
	// safe together: migrations run under an advisory lock).
	for i, in := range c.instances {
		if err := c.StartInstance(in.N); err != nil {
			return nil, err
		}
		if i == 0 {
			if err := waitReady(ctx, "http://"+in.Addr+"/readyz", 60*time.Second); err != nil {
				return nil, fmt.Errorf("instance 0: %w\n%s", err, tail(in.p.logPath, 20))
			}
		}
	}
	for _, in := range c.instances {
		if err := waitReady(ctx, "http://"+in.Addr+"/readyz", 60*time.Second); err != nil {
			return nil, fmt.Errorf("instance %d: %w\n%s", in.N, err, tail(in.p.logPath, 20))
		}
	}
	if err := c.startBalancer(lbPort); err != nil {
		return nil, err
	}
	if err := waitReady(ctx, c.URL+"/readyz", 30*time.Second); err != nil {
		return nil, fmt.Errorf("balancer: %w\n%s", err, tail(c.balancer.logPath, 20))
	}
	c.logf("cluster ready at %s (%d instances, redis %s)", c.URL, o.Instances, c.RedisURL)
	return c, nil
}

func (c *Cluster) logf(format string, args ...any) {
	fmt.Fprintf(c.opts.Log, "cluster: "+format+"\n", args...)
}

// Instances returns the loginsign processes.
func (c *Cluster) Instances() []*Instance {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Instance(nil), c.instances...)
}

// StartInstance (re)starts instance n.
func (c *Cluster) StartInstance(n int) error {
	in := c.instances[n]
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.p != nil && in.p.running() {
		return fmt.Errorf("instance %d is running", n)
	}
	p, err := startProc(filepath.Join(c.opts.Dir, fmt.Sprintf("instance%d.log", n)), in.env, c.opts.Bin, "serve")
	if err != nil {
		return fmt.Errorf("instance %d: %w", n, err)
	}
	in.p = p
	c.logf("instance %d started on %s (pid %d)", n, in.Addr, p.cmd.Process.Pid)
	return nil
}

// Kill sends SIGKILL to instance n: no drain, no cleanup, claimed work stays claimed.
func (c *Cluster) Kill(n int) error {
	in := c.instances[n]
	in.mu.Lock()
	defer in.mu.Unlock()
	c.logf("instance %d: SIGKILL", n)
	return in.p.signal(syscall.SIGKILL)
}

// Stop sends SIGTERM to instance n and waits for it to exit (a graceful shutdown).
func (c *Cluster) Stop(n int) error {
	in := c.instances[n]
	in.mu.Lock()
	defer in.mu.Unlock()
	c.logf("instance %d: SIGTERM", n)
	return in.p.signal(syscall.SIGTERM)
}

// WaitReady waits until instance n answers /readyz with 200.
func (c *Cluster) WaitReady(ctx context.Context, n int, within time.Duration) error {
	return waitReady(ctx, "http://"+c.instances[n].Addr+"/readyz", within)
}

// Log returns the last lines of instance n's log.
func (c *Cluster) Log(n int, lines int) string { return tail(c.instances[n].p.logPath, lines) }

// RestartPostgres stops PostgreSQL (fast mode: connections are cut) and starts it again.
func (c *Cluster) RestartPostgres(ctx context.Context, down time.Duration) error {
	c.logf("postgres: restart (down %s)", down)
	return c.pg.restart(ctx, down)
}

// KillRedisPrimary SIGKILLs the Redis primary (Sentinel mode) and returns its port. The
// Sentinels promote the replica.
func (c *Cluster) KillRedisPrimary() (int, error) {
	if len(c.sentinels) == 0 {
		return 0, errors.New("not in Sentinel mode")
	}
	port, err := c.redisPrimaryPort()
	if err != nil {
		return 0, err
	}
	for _, p := range c.redis {
		if p.port == port {
			c.logf("redis primary :%d: SIGKILL", port)
			return port, p.signal(syscall.SIGKILL)
		}
	}
	return 0, fmt.Errorf("no redis process on :%d", port)
}

// Close stops everything and keeps the directory (logs stay for reading).
func (c *Cluster) Close() {
	if c.balancer != nil {
		c.balancer.signal(syscall.SIGTERM)
	}
	for _, in := range c.instances {
		if in.p != nil {
			in.p.signal(syscall.SIGTERM)
		}
	}
	for _, p := range c.redis {
		p.signal(syscall.SIGKILL)
	}
	if c.pg != nil {
		c.pg.stop()
	}
}

// startBalancer writes haproxy.cfg and starts HAProxy in the foreground (-db).
func (c *Cluster) startBalancer(port int) error {
	var servers strings.Builder
	for _, in := range c.instances {
		fmt.Fprintf(&servers, "    server i%d %s check inter 500ms fall 2 rise 2\n", in.N, in.Addr)
	}
	cfg := fmt.Sprintf(`global
    maxconn 4096
defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout http-keep-alive 10s
    retries 2
    option redispatch
    # A connection refused by a dead instance is tried on another one; nothing was sent.
    retry-on conn-failure
frontend fe
    bind 127.0.0.1:%d
    option forwardfor
    default_backend loginsign
backend loginsign
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
%s`, port, servers.String())
	path := filepath.Join(c.opts.Dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		return err
	}
	p, err := startProc(filepath.Join(c.opts.Dir, "haproxy.log"), nil, "haproxy", "-db", "-f", path)
	if err != nil {
		return fmt.Errorf("haproxy: %w", err)
	}
	c.balancer = p
	c.logf("haproxy on :%d", port)
	return nil
}

// startRedis starts one Redis server, or a primary, a replica and three Sentinels (quorum 2,
// down-after 1 s).
func (c *Cluster) startRedis(ctx context.Context, take func() int, sentinel bool) error {
	dir := filepath.Join(c.opts.Dir, "redis")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	server := func(port int, extra ...string) error {
		args := append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
			"--dir", dir, "--dbfilename", fmt.Sprintf("dump%d.rdb", port)}, extra...)
		p, err := startProc(filepath.Join(dir, fmt.Sprintf("redis%d.log", port)), nil, "redis-server", args...)
		if err != nil {
			return err
		}
		p.port = port
		c.redis = append(c.redis, p)
		return waitPort(ctx, port, 10*time.Second)
	}
	primary := take()
	if err := server(primary); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	if !sentinel {
		c.RedisURL = fmt.Sprintf("redis://127.0.0.1:%d/0", primary)
		return nil
	}
	replica := take()
	if err := server(replica, "--replicaof", "127.0.0.1", strconv.Itoa(primary)); err != nil {
		return fmt.Errorf("redis replica: %w", err)
	}
	var addrs []string
	for i := 0; i < 3; i++ {
		port := take()
		conf := filepath.Join(dir, fmt.Sprintf("sentinel%d.conf", port))
		body := fmt.Sprintf("port %d\nbind 127.0.0.1\nsentinel monitor loginsign 127.0.0.1 %d 2\n"+
			"sentinel down-after-milliseconds loginsign 1000\nsentinel failover-timeout loginsign 5000\n"+
			"sentinel parallel-syncs loginsign 1\n", port, primary)
		if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
			return err
		}
		p, err := startProc(filepath.Join(dir, fmt.Sprintf("sentinel%d.log", port)), nil, "redis-sentinel", conf)
		if err != nil {
			return fmt.Errorf("redis-sentinel: %w", err)
		}
		p.port = port
		c.redis = append(c.redis, p)
		c.sentinels = append(c.sentinels, port)
		addrs = append(addrs, fmt.Sprintf("127.0.0.1:%d", port))
		if err := waitPort(ctx, port, 10*time.Second); err != nil {
			return err
		}
	}
	c.RedisURL = "redis-sentinel://" + strings.Join(addrs, ",") + "/loginsign"
	// The replica must hold the data (its link up, the first sync done) and every Sentinel
	// must know it before the deployment is worth failing over.
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if replicaInSync(replica) && c.sentinelsKnow(replica) {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("the replica did not sync or the Sentinels do not know it:\n%s", c.RedisReport())
}

func replicaInSync(port int) bool {
	out, err := redisCLI(port, "INFO", "replication")
	return err == nil && strings.Contains(out, "master_link_status:up") && strings.Contains(out, "master_sync_in_progress:0")
}

func (c *Cluster) sentinelsKnow(replica int) bool {
	for _, s := range c.sentinels {
		out, err := redisCLI(s, "SENTINEL", "replicas", "loginsign")
		if err != nil || !strings.Contains(out, strconv.Itoa(replica)) {
			return false
		}
	}
	return true
}

// redisPrimaryPort asks a Sentinel for the current primary.
func (c *Cluster) redisPrimaryPort() (int, error) {
	for _, s := range c.sentinels {
		out, err := redisCLI(s, "SENTINEL", "get-master-addr-by-name", "loginsign")
		if err != nil {
			continue
		}
		f := strings.Fields(out)
		if len(f) == 2 {
			return strconv.Atoi(f[1])
		}
	}
	return 0, errors.New("no sentinel answered")
}

// RedisPrimaryPort is the port of the Redis primary the Sentinels name now.
func (c *Cluster) RedisPrimaryPort() (int, error) { return c.redisPrimaryPort() }

func redisCLI(port int, args ...string) (string, error) {
	out, err := exec.Command("redis-cli", append([]string{"-h", "127.0.0.1", "-p", strconv.Itoa(port)}, args...)...).CombinedOutput()
	return string(out), err
}

// proc is a child process with its output in a log file.
type proc struct {
	cmd     *exec.Cmd
	logPath string
	port    int
	done    chan struct{}
}

func startProc(logPath string, env []string, name string, args ...string) (*proc, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = f, f
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	// Children die with the harness (SIGKILL on parent exit), so a failed run leaves nothing behind.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, err
	}
	p := &proc{cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() { cmd.Wait(); f.Close(); close(p.done) }()
	return p, nil
}

func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// signal sends sig and waits up to 30 s for the process to exit.
func (p *proc) signal(sig syscall.Signal) error {
	if !p.running() {
		return nil
	}
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not exit within 30 s of %s", filepath.Base(p.cmd.Path), sig)
	}
}

// ExitCode is the exit status of instance n's last process, or -1 while it runs.
func (c *Cluster) ExitCode(n int) int {
	in := c.instances[n]
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.p == nil || in.p.running() {
		return -1
	}
	return in.p.cmd.ProcessState.ExitCode()
}

func waitReady(ctx context.Context, url string, within time.Duration) error {
	cl := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(within)
	var last string
	for time.Now().Before(deadline) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		resp, err := cl.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, b)
		} else {
			last = err.Error()
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready within %s: %s", url, within, last)
}

func waitPort(ctx context.Context, port int, within time.Duration) error {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("nothing listens on :%d after %s", port, within)
}

// freePorts reserves n distinct loopback ports (released before use; a race with another
// program taking one is possible but unlikely on a test machine).
func freePorts(n int) ([]int, error) {
	var out []int
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// Load is a snapshot of the work the shared services have done, to divide by a number of
// operations: PostgreSQL transactions and rows written (pg_stat_database) and Redis commands
// (INFO stats of the current primary).
type Load struct {
	Transactions, RowsWritten, RedisCommands int64
}

// Sub is the work done between two snapshots.
func (l Load) Sub(o Load) Load {
	return Load{l.Transactions - o.Transactions, l.RowsWritten - o.RowsWritten, l.RedisCommands - o.RedisCommands}
}

// Load reads the counters now.
func (c *Cluster) Load(ctx context.Context) (Load, error) {
	var l Load
	db, err := sql.Open("pgx", c.DatabaseURL)
	if err != nil {
		return l, err
	}
	defer db.Close()
	// The statistics collector publishes with a small delay; ask for a fresh snapshot.
	db.ExecContext(ctx, "SELECT pg_stat_clear_snapshot()")
	if err := db.QueryRowContext(ctx, `SELECT xact_commit + xact_rollback, tup_inserted + tup_updated + tup_deleted
		FROM pg_stat_database WHERE datname = current_database()`).Scan(&l.Transactions, &l.RowsWritten); err != nil {
		return l, err
	}
	port := 0
	if len(c.sentinels) > 0 {
		if port, err = c.redisPrimaryPort(); err != nil {
			return l, err
		}
	} else {
		port = c.redis[0].port
	}
	out, err := redisCLI(port, "INFO", "stats")
	if err != nil {
		return l, err
	}
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "total_commands_processed:"); ok {
			l.RedisCommands, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	return l, nil
}

// RedisReport is what the Sentinels and each Redis server say about themselves, for a
// failure message.
func (c *Cluster) RedisReport() string {
	var b strings.Builder
	for _, p := range c.redis {
		out, err := redisCLI(p.port, "INFO", "replication")
		if err != nil {
			fmt.Fprintf(&b, ":%d: %v\n", p.port, err)
			continue
		}
		ks, _ := redisCLI(p.port, "INFO", "keyspace")
		fmt.Fprintf(&b, ":%d: %s %s\n", p.port, strings.Join(strings.Fields(out), " "), strings.Join(strings.Fields(ks), " "))
	}
	for _, p := range c.redis {
		if data, err := os.ReadFile(p.logPath); err == nil {
			for _, line := range strings.Split(string(data), "\n") {
				if strings.Contains(line, "switch-master") || strings.Contains(line, "+sdown") || strings.Contains(line, "+odown") ||
					strings.Contains(line, "MASTER <-> REPLICA") || strings.Contains(line, "flush") {
					fmt.Fprintf(&b, "%s: %s\n", filepath.Base(p.logPath), line)
				}
			}
		}
	}
	return b.String()
}
