// Command rss measures the peak resident memory (VmHWM) of a LoginSign binary under the two
// memory attacks of issue 16: one unauthenticated 200 MB POST to /graphql, and the
// 3,000-alias analytics document sent by a signed-in developer. Each attack runs against a
// fresh server process (embedded Redis, a new SQLite database), so the peaks do not mix.
//
//	go run ./internal/bench/rss -bin bin/loginsign [-base /tmp/loginsign-main]
//
// With -base, the same attacks run against that binary too (the baseline), in the same run.
// Linux only (reads /proc/PID/status).
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

func main() {
	bin := flag.String("bin", "bin/loginsign", "the binary to measure")
	base := flag.String("base", "", "a baseline binary measured in the same run (e.g. main's)")
	bodyMB := flag.Int("body-mb", 200, "size of the oversized GraphQL body in MB")
	aliases := flag.Int("aliases", 3000, "aliases in the analytics document")
	flag.Parse()

	type row struct{ binary, attack, result string }
	var rows []row
	bins := []string{*bin}
	if *base != "" {
		bins = []string{*base, *bin}
	}
	for _, b := range bins {
		for _, attack := range []string{"idle", "body", "aliases"} {
			res, err := measure(b, attack, *bodyMB, *aliases)
			if err != nil {
				fmt.Fprintf(os.Stderr, "%s %s: %v\n", b, attack, err)
				os.Exit(1)
			}
			rows = append(rows, row{b, attack, res})
			fmt.Fprintf(os.Stderr, "%-28s %-8s %s\n", b, attack, res)
		}
	}
	fmt.Println("| binary | attack | answer | time | peak RSS (VmHWM) |")
	fmt.Println("|---|---|---|---|---|")
	for _, r := range rows {
		fmt.Printf("| %s | %s | %s |\n", r.binary, r.attack, r.result)
	}
}

// measure starts bin, runs attack, and returns "status | duration | peak".
func measure(bin, attack string, bodyMB, aliases int) (string, error) {
	dir, err := os.MkdirTemp("", "rss-*")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	port, err := freePort()
	if err != nil {
		return "", err
	}
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	envv := append(os.Environ(),
		"LOGINSIGN_ADDR=127.0.0.1:"+strconv.Itoa(port), "LOGINSIGN_BASE_URL="+base,
		"DATABASE_URL=sqlite://"+filepath.Join(dir, "db.sqlite"), "LOGINSIGN_DATA_DIR="+dir,
		"REDIS_URL=", "LOGINSIGN_SMTP_URL=", "LOGINSIGN_METRICS_ADDR=off", "LOGINSIGN_LOG_LEVEL=error")
	create := exec.Command(bin, "apps", "create", "--owner", "dev@example.com", "--name", "Bench",
		"--redirect-uri", "https://app.example.com/cb", "--json")
	create.Env = envv
	out, err := create.Output()
	if err != nil {
		return "", fmt.Errorf("apps create: %v: %s", err, out)
	}
	var app struct{ ID string }
	if err := json.Unmarshal(out, &app); err != nil {
		return "", fmt.Errorf("apps create printed %q", out)
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env = envv
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		return "", err
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	if err := waitReady(base); err != nil {
		return "", err
	}
	client := &http.Client{Timeout: 5 * time.Minute}
	var status int
	start := time.Now()
	switch attack {
	case "idle":
	case "body":
		body := io.MultiReader(strings.NewReader(`{"query":"{ viewer { id } } #`),
			io.LimitReader(filler{}, int64(bodyMB)<<20), strings.NewReader(`"}`))
		req, _ := http.NewRequest(http.MethodPost, base+"/graphql", body)
		req.ContentLength = int64(bodyMB)<<20 + 31
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			status = -1 // the server may close the connection while the body is still being sent
			fmt.Fprintf(os.Stderr, "%s: body attack: %v\n", bin, err)
		} else {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			status = resp.StatusCode
		}
	case "aliases":
		jar, _ := cookiejar.New(nil)
		browser := &http.Client{Jar: jar, Timeout: 5 * time.Minute}
		if err := signIn(browser, base, dir); err != nil {
			return "", err
		}
		var q strings.Builder
		fmt.Fprintf(&q, `{ application(id: %q) { analytics {`, app.ID)
		for i := range aliases {
			fmt.Fprintf(&q, ` s%d: signupsPerDay(from: "2026-01-01T00:00:00Z", to: "2026-04-01T00:00:00Z") { day count } r%d: usersPerRegion { region count }`, i, i)
		}
		q.WriteString(" } } }")
		b, _ := json.Marshal(map[string]string{"query": q.String()})
		start = time.Now()
		resp, err := browser.Post(base+"/graphql", "application/json", bytes.NewReader(b))
		if err != nil {
			return "", err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		status = resp.StatusCode
	}
	took := time.Since(start)
	time.Sleep(200 * time.Millisecond)
	peak, err := vmHWM(cmd.Process.Pid)
	if err != nil {
		return "", err
	}
	answer := "-"
	if attack != "idle" {
		answer = strconv.Itoa(status)
		if status == -1 {
			answer = "connection closed"
		}
	}
	return fmt.Sprintf("%s | %s | %d MB", answer, took.Round(time.Millisecond), peak>>10), nil
}

type filler struct{}

func (filler) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	return len(p), nil
}

var magicLink = regexp.MustCompile(`https?://[^\s"<>]+/login/magic\?token=[A-Za-z0-9_=%.-]+`)

// signIn signs dev@example.com in through the magic-link pages, reading the link from the
// outbox folder (dev mode).
func signIn(c *http.Client, base, dir string) error {
	resp, err := c.PostForm(base+"/login", url.Values{"email": {"dev@example.com"}})
	if err != nil {
		return err
	}
	resp.Body.Close()
	var link string
	for range 100 {
		files, _ := filepath.Glob(filepath.Join(dir, "outbox", "*.eml"))
		for _, f := range files {
			b, _ := os.ReadFile(f)
			b = bytes.ReplaceAll(b, []byte("=\r\n"), nil)
			b = bytes.ReplaceAll(b, []byte("=3D"), []byte("="))
			if m := magicLink.Find(b); m != nil {
				link = string(m)
			}
		}
		if link != "" {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if link == "" {
		return fmt.Errorf("no magic link in %s/outbox", dir)
	}
	u, _ := url.Parse(link)
	resp, err = c.PostForm(base+u.Path, url.Values{"token": {u.Query().Get("token")}})
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.Request.URL.Path != "/dashboard" {
		return fmt.Errorf("sign-in ended at %s (%d)", resp.Request.URL, resp.StatusCode)
	}
	return nil
}

func waitReady(base string) error {
	for range 600 {
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s did not start", base)
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// vmHWM is the peak resident set of pid in KiB.
func vmHWM(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			return strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
}
