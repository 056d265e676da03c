package server

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// toolingDir is testdata/tooling: the npm packages (committed package.json and lockfile) of
// the third-party clients these tests run against a real server.
const toolingDir = "../../testdata/tooling"

var npmOnce struct {
	sync.Once
	err error
	out []byte
}

// nodeTooling returns the node binary with testdata/tooling's packages installed, running
// `npm ci` once when node_modules is missing. Without node the test is skipped (the only
// skip); a failing install fails it.
func nodeTooling(t testing.TB) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed")
	}
	npmOnce.Do(func() {
		if _, err := os.Stat(filepath.Join(toolingDir, "node_modules")); err == nil {
			return
		}
		cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund")
		cmd.Dir = toolingDir
		npmOnce.out, npmOnce.err = cmd.CombinedOutput()
	})
	if npmOnce.err != nil {
		t.Fatalf("npm ci in %s: %v\n%s", toolingDir, npmOnce.err, npmOnce.out)
	}
	return node
}

// runNode runs script (in testdata/tooling) with args and returns its standard output; a
// non-zero exit fails the test with both outputs.
func runNode(t testing.TB, env []string, script string, args ...string) []byte {
	t.Helper()
	node := nodeTooling(t)
	cmd := exec.Command(node, append([]string{script}, args...)...)
	cmd.Dir = toolingDir
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

// graphql-http's server audit (GraphQL over HTTP) passes against the real /graphql with no
// MUST failure and no SHOULD warning: request errors are 200 with errors for
// application/json and 400 without a data entry for application/graphql-response+json.
func TestGraphQLOverHTTPAudit(t *testing.T) {
	forBackends(t, func(t *testing.T, dbURL string) {
		e := newOAuthEnv(t, dbURL)
		out := runNode(t, nil, "graphql-audit.mjs", e.base+"/graphql")
		var n int
		counts := map[string]int{}
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			var r struct{ ID, Name, Status, Reason string }
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Fatalf("audit output %q: %v", sc.Text(), err)
			}
			n++
			counts[r.Status]++
			if level, _, ok := strings.Cut(r.Name, " "); ok && r.Status == "ok" {
				counts["ok "+level]++
			}
			if r.Status != "ok" {
				t.Errorf("%s %s: %s: %s", r.ID, r.Status, r.Name, r.Reason)
			}
		}
		if n < 30 {
			t.Fatalf("the audit ran %d checks, want graphql-http's full list:\n%s", n, out)
		}
		t.Logf("graphql-http audit: %d checks: %d ok (MUST %d, SHOULD %d, MAY %d), %d notice, %d warn (SHOULD), %d error (MUST)",
			n, counts["ok"], counts["ok MUST"], counts["ok SHOULD"], counts["ok MAY"], counts["notice"], counts["warn"], counts["error"])
	})
}
