// Package servertest is the shared setup of the whole-server tests in internal/server that
// does not need the server's own internals: the repository root (where testdata/tooling, the
// README and go.mod are, whatever directory `go test` runs in), the storage backends every
// end-to-end test runs on, the npm packages of the third-party clients, axe-core and the
// screenshot directory of the browser tests.
//
// Starting a server stays in internal/server's own test files (oauthenv_test.go,
// browser_helpers_test.go): it builds the unexported Server and reads its stores, and a
// package server test importing a package that imports server would be an import cycle.
package servertest

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"loginsign/internal/store/storetest"
)

var root struct {
	sync.Once
	dir string
	err error
}

// Root is the repository root: the nearest directory above the working directory (a test's
// package directory) holding go.mod. It panics outside the repository.
func Root() string {
	root.Do(func() {
		dir, err := os.Getwd()
		for err == nil {
			if _, serr := os.Stat(filepath.Join(dir, "go.mod")); serr == nil {
				root.dir = dir
				return
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				err = fmt.Errorf("no go.mod above the working directory")
			}
			dir = parent
		}
		root.err = err
	})
	if root.err != nil {
		panic("servertest: " + root.err.Error())
	}
	return root.dir
}

// Path is elem joined to the repository root.
func Path(elem ...string) string { return filepath.Join(append([]string{Root()}, elem...)...) }

// ToolingDir is testdata/tooling: the npm packages (committed package.json and lockfile) of
// the third-party clients the tests run against a real server.
func ToolingDir() string { return Path("testdata", "tooling") }

// ForBackends runs fn on every storage backend (SQLite + embedded Redis always; PostgreSQL
// + real Redis when the environment names them).
func ForBackends(t *testing.T, fn func(t *testing.T, dbURL string)) {
	for name, u := range storetest.URLs(t) {
		t.Run(name, func(t *testing.T) { fn(t, u) })
	}
}

var npmOnce struct {
	sync.Once
	err error
	out []byte
}

// Node returns the node binary with testdata/tooling's packages installed, running `npm ci`
// once when node_modules is missing. Without node the test is skipped (the only skip); a
// failing install fails it.
func Node(t testing.TB) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed")
	}
	dir := ToolingDir()
	npmOnce.Do(func() {
		if _, err := os.Stat(filepath.Join(dir, "node_modules")); err == nil {
			return
		}
		cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund")
		cmd.Dir = dir
		npmOnce.out, npmOnce.err = cmd.CombinedOutput()
	})
	if npmOnce.err != nil {
		t.Fatalf("npm ci in %s: %v\n%s", dir, npmOnce.err, npmOnce.out)
	}
	return node
}

// RunNode runs script (in testdata/tooling) with args and returns its standard output; a
// non-zero exit, or no exit within 2 minutes, fails the test with both outputs.
func RunNode(t testing.TB, env []string, script string, args ...string) []byte {
	t.Helper()
	node := Node(t)
	cmd := exec.Command(node, append([]string{script}, args...)...)
	cmd.Dir = ToolingDir()
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("node %s: %v\nstdout:\n%s\nstderr:\n%s", script, err, stdout.Bytes(), stderr.Bytes())
		}
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		t.Fatalf("node %s did not finish in 2 minutes\nstdout:\n%s\nstderr:\n%s", script, stdout.Bytes(), stderr.Bytes())
	}
	return stdout.Bytes()
}

var axeOnce struct {
	sync.Once
	src string
	err error
}

// AxeSource returns axe-core's script (testdata/tooling's lockfile), installing the packages
// when missing.
func AxeSource(t testing.TB) string {
	t.Helper()
	file := filepath.Join(ToolingDir(), "node_modules", "axe-core", "axe.min.js")
	axeOnce.Do(func() {
		if _, err := os.Stat(file); err != nil {
			Node(t)
		}
		b, err := os.ReadFile(file)
		axeOnce.src, axeOnce.err = string(b), err
	})
	if axeOnce.err != nil {
		t.Fatalf("axe-core: %v (run npm ci in testdata/tooling)", axeOnce.err)
	}
	return axeOnce.src
}

// ScreenshotDir is where the browser tests' screenshots go: $LOGINSIGN_SCREENSHOTS when set;
// else the test's artifact directory when `go test -artifacts` asks for one; else
// testdata/screenshots at the repository root (ignored by git), so a reviewer finds them after
// a plain `make test`.
func ScreenshotDir(t *testing.T) string {
	dir := os.Getenv("LOGINSIGN_SCREENSHOTS")
	if f := flag.Lookup("test.artifacts"); dir == "" && f != nil && f.Value.String() == "true" {
		dir = t.ArtifactDir()
	}
	if dir == "" {
		dir = Path("testdata", "screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
