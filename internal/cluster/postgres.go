package cluster

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
)

// postgres is a PostgreSQL server of the deployment's own, so the proof can restart it
// without disturbing anything else on the machine.
type postgres struct {
	bin, dir string
	port     int
	settings []string // name=value, on the server's command line
}

// pgBin finds Debian's PostgreSQL programs (/usr/lib/postgresql/<version>/bin), newest first.
func pgBin() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", fmt.Errorf("no /usr/lib/postgresql/*/bin/initdb")
}

func version(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

// asPostgres runs a PostgreSQL program; as root it runs as the postgres user, since initdb
// and the server refuse to run as root.
func asPostgres(name string, args ...string) *exec.Cmd {
	if os.Geteuid() == 0 {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", name}, args...)...)
	}
	return exec.Command(name, args...)
}

func startPostgres(ctx context.Context, dir string, port int, settings ...string) (*postgres, error) {
	bin, err := pgBin()
	if err != nil {
		return nil, err
	}
	pg := &postgres{bin: bin, dir: dir, port: port, settings: settings}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
		// runuser must be able to reach the directory.
		for d := filepath.Dir(dir); d != "/" && d != "."; d = filepath.Dir(d) {
			if fi, err := os.Stat(d); err == nil && fi.Mode().Perm()&0o001 == 0 {
				os.Chmod(d, fi.Mode().Perm()|0o011)
			}
		}
	}
	if out, err := asPostgres(filepath.Join(bin, "initdb"), "-D", pg.data(), "-U", "postgres", "--auth=trust",
		"-E", "UTF8", "--no-sync").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	if err := pg.start(ctx); err != nil {
		return nil, err
	}
	return pg, nil
}

func (pg *postgres) data() string { return filepath.Join(pg.dir, "data") }

func (pg *postgres) start(ctx context.Context) error {
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c max_connections=300", pg.port, pg.dir)
	for _, s := range pg.settings {
		opts += " -c " + s
	}
	if out, err := asPostgres(filepath.Join(pg.bin, "pg_ctl"), "-D", pg.data(), "-l", filepath.Join(pg.dir, "postgres.log"),
		"-o", opts, "-w", "start").CombinedOutput(); err != nil {
		return fmt.Errorf("pg_ctl start: %v\n%s", err, out)
	}
	return waitPort(ctx, pg.port, 20*time.Second)
}

func (pg *postgres) stop() error { return pg.stopMode("fast") }

// stopMode stops the server in mode: fast (its connections cut, everything written) or
// immediate (every process quits at once, as in a crash: what the WAL buffers held is lost).
func (pg *postgres) stopMode(mode string) error {
	out, err := asPostgres(filepath.Join(pg.bin, "pg_ctl"), "-D", pg.data(), "-m", mode, "-w", "stop").CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl stop -m %s: %v\n%s", mode, err, out)
	}
	return nil
}

func (pg *postgres) restart(ctx context.Context, down time.Duration) error {
	if err := pg.stop(); err != nil {
		return err
	}
	time.Sleep(down)
	return pg.start(ctx)
}

func (pg *postgres) url(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", pg.port, db)
}

func (pg *postgres) createDB(ctx context.Context, name string) error {
	db, err := sql.Open("pgx", pg.url("postgres"))
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, "CREATE DATABASE "+name)
	return err
}

// Postgres is a PostgreSQL server of a test's own, which the test may crash and start again
// without disturbing the machine's.
type Postgres struct{ pg *postgres }

// StartPostgres initialises a PostgreSQL server in dir (initdb) and starts it on a free
// loopback port with settings (name=value) on its command line, and a database named db.
func StartPostgres(ctx context.Context, dir, db string, settings ...string) (*Postgres, error) {
	ports, err := freePorts(1)
	if err != nil {
		return nil, err
	}
	pg, err := startPostgres(ctx, dir, ports[0], settings...)
	if err != nil {
		return nil, err
	}
	if err := pg.createDB(ctx, db); err != nil {
		pg.stop()
		return nil, err
	}
	return &Postgres{pg}, nil
}

// URL is the connection URL of database db.
func (p *Postgres) URL(db string) string { return p.pg.url(db) }

// Crash stops the server as a crash would (pg_ctl stop -m immediate): the WAL it had not
// written yet, the asynchronous commits' among it, is lost.
func (p *Postgres) Crash() error { return p.pg.stopMode("immediate") }

// Start starts the server again (after Crash: it recovers from its WAL first).
func (p *Postgres) Start(ctx context.Context) error { return p.pg.start(ctx) }

// Stop stops the server for good (fast mode); one already stopped stays so.
func (p *Postgres) Stop() { p.pg.stop() }

// PostgresMissing tells why StartPostgres cannot run here (no Debian PostgreSQL), or nil.
func PostgresMissing() error {
	_, err := pgBin()
	return err
}
