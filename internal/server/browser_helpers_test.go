package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"loginsign/internal/httpx"
	"loginsign/internal/kv/kvtest"
	"loginsign/internal/mail"
	"loginsign/internal/mail/mailtest"

	"loginsign/internal/server/servertest"
)

// browserWait bounds each browser step; generous, because CI machines are shared and slow.
const browserWait = 45 * time.Second

// chromiumPath is Debian's chromium; the browser tests skip when it is missing.
const chromiumPath = "/usr/bin/chromium"

// liveServer is a whole LoginSign server on a loopback port, built like `loginsign serve`, with
// its outbound mail going to an in-process SMTP server.
type liveServer struct {
	*Server
	URL  string
	Mail *mailtest.Server
}

// startLiveServer runs LoginSign on 127.0.0.1 with the database dbURL.
func startLiveServer(t *testing.T, dbURL string) *liveServer {
	t.Helper()
	return startLiveServerNamed(t, dbURL, "127.0.0.1")
}

// startLiveServerNamed is startLiveServer with the base URL naming host (for example
// "localhost": WebAuthn needs a domain, not an IP address, as the relying party id).
func startLiveServerNamed(t *testing.T, dbURL, host string) *liveServer {
	t.Helper()
	mail := mailtest.Start(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	base := "http://" + net.JoinHostPort(host, port)
	cfg, err := loadConfig(nil, env(map[string]string{
		"LOGINSIGN_BASE_URL": base, "DATABASE_URL": dbURL, "LOGINSIGN_DATA_DIR": t.TempDir(),
		"REDIS_URL": kvtest.URL(t), "LOGINSIGN_SMTP_URL": mail.URL(), "LOGINSIGN_LOG_LEVEL": "warn",
	}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.NewTextHandler(testLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s, err := newServer(ctx, cfg, log)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	srv := &http.Server{Handler: validated(t, s.routes()), ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return ctx }}
	go srv.Serve(ln)
	startBackground(ctx, s)
	t.Cleanup(func() {
		sctx, c := context.WithTimeout(context.Background(), 5*time.Second)
		defer c()
		srv.Shutdown(sctx)
		cancel()
		s.Close()
	})
	return &liveServer{Server: s, URL: base, Mail: mail}
}

// routesCookies names the cookies as the server's routes do.
func (ls *liveServer) routesCookies() httpx.Cookies { return httpx.Cookies{Secure: !ls.cfg.Dev} }

type testLogWriter struct{ t *testing.T }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// linkRE finds the first absolute URL in a mail's text part.
var linkRE = regexp.MustCompile(`https?://[^\s<>"]+`)

// nextLink waits for the next mail to to and returns the first link on the server's origin
// (security notices, whose link is the dashboard, are not it).
func (ls *liveServer) nextLink(t *testing.T, to string) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		msgs := ls.Mail.Messages()
		for i := len(msgs) - 1; i >= 0; i-- {
			m := msgs[i]
			if !containsFold(m.To, to) || isSecurityNotice(m.Subject) {
				continue
			}
			for _, l := range linkRE.FindAllString(m.Text, -1) {
				if strings.HasPrefix(l, ls.URL) {
					return l
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no mail with a link to %s arrived", to)
	return ""
}

// waitNotice waits for the security notice headline to to.
func (ls *liveServer) waitNotice(t *testing.T, to, headline string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		for _, m := range ls.Mail.Messages() {
			if containsFold(m.To, to) && m.Subject == mail.SecurityNoticeSubject+headline {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no security notice %q to %s", headline, to)
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(strings.Trim(x, "<>"), s) {
			return true
		}
	}
	return false
}

// screenshotDir is where the screenshots go (servertest.ScreenshotDir).
var screenshotDir = servertest.ScreenshotDir

// browser is one headless Chromium; each tab has its own browser context (own cookies).
type chrome struct {
	t     *testing.T
	alloc context.Context
	root  context.Context
	shots string

	mu    sync.Mutex
	sizes map[string]int64 // page name → bytes transferred on a first, uncached load
	axe   map[string]int   // "state viewport scheme" → axe-core violations found
}

// newBrowser starts Chromium, or skips the test when it is not installed.
func newChrome(t *testing.T) *chrome {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("browser tests need %s (apt-get install -y chromium): %v", chromiumPath, err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		// Frames stay in their page's process so the axe-core injected into every document
		// (see tab) also runs in cross-site iframes (the widgets' embeds) and answers the
		// top frame's axe.
		chromedp.Flag("disable-features", "Translate,MediaRouter,OptimizationHints,IsolateOrigins,site-per-process"),
		chromedp.Flag("disable-site-isolation-trials", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	root, cancelRoot := chromedp.NewContext(alloc)
	if err := chromedp.Do(root); err != nil {
		cancelRoot()
		cancelAlloc()
		t.Fatalf("starting chromium: %v", err)
	}
	t.Cleanup(func() { cancelRoot(); cancelAlloc() })
	return &chrome{t: t, alloc: alloc, root: root, shots: screenshotDir(t), sizes: map[string]int64{}, axe: map[string]int{}}
}

// tab is one page in its own browser context. It records console errors, uncaught exceptions
// and failed loads (the test fails on any at its end) and the bytes each response transferred.
type tab struct {
	b    *chrome
	t    *testing.T
	ctx  context.Context
	name string

	mu       sync.Mutex
	problems []string
	warnings []string
	bytes    int64
	allowed  []string // substrings of problems that this tab expects (e.g. an intended 4xx)
	scheme   string   // the prefers-color-scheme shot photographs in ("light" unless darkShot)
}

// tab opens a fresh browser context named name.
func (b *chrome) tab(name string) *tab {
	tb := &tab{b: b, t: b.t, name: name, scheme: "light"}
	ctx, cancel := chromedp.NewContext(b.root, chromedp.WithNewBrowserContext(), chromedp.WithListener(tb.listen))
	b.t.Cleanup(cancel)
	tb.ctx = ctx
	err := chromedp.Do(ctx, func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		if _, err := cdp.Call(ctx, t, network.Enable, network.EnableParams{}); err != nil {
			return chromedp.Void{}, err
		}
		if _, err := cdp.Call(ctx, t, network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: true}); err != nil {
			return chromedp.Void{}, err
		}
		if _, err := cdp.Call(ctx, t, cdplog.Enable, cdp.Empty{}); err != nil {
			return chromedp.Void{}, err
		}
		// axe-core in every frame of every document, before the page's own scripts.
		_, err := cdp.Call(ctx, t, cdppage.AddScriptToEvaluateOnNewDocument, cdppage.AddScriptToEvaluateOnNewDocumentParams{Source: axeSource(b.t)})
		return chromedp.Void{}, err
	})
	if err != nil {
		b.t.Fatalf("tab %s: %v", name, err)
	}
	b.t.Cleanup(tb.checkProblems)
	return tb
}

func (tb *tab) listen(ev any) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	switch e := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeAssert {
			var parts []string
			for _, a := range e.Args {
				if a.Value != nil {
					parts = append(parts, string(a.Value))
				} else {
					parts = append(parts, a.Description)
				}
			}
			tb.problems = append(tb.problems, "console."+string(e.Type)+": "+strings.Join(parts, " "))
		}
		if e.Type == runtime.ConsoleAPICalledTypeWarning {
			var parts []string
			for _, a := range e.Args {
				parts = append(parts, strings.Trim(string(a.Value), `"`))
			}
			tb.warnings = append(tb.warnings, strings.Join(parts, " "))
		}
	case *runtime.EventExceptionThrown:
		d := e.ExceptionDetails
		msg := d.Text
		if d.Exception != nil {
			msg += " " + d.Exception.Description
		}
		tb.problems = append(tb.problems, fmt.Sprintf("uncaught exception at %s:%d: %s", d.URL, d.LineNumber, msg))
	case *cdplog.EventEntryAdded:
		if e.Entry.Level == cdplog.EntryLevelError {
			tb.problems = append(tb.problems, "log: "+e.Entry.Text+" "+e.Entry.URL)
		}
	case *network.EventLoadingFinished:
		tb.bytes += int64(e.EncodedDataLength)
	}
}

// allow marks problems containing s as expected for this tab.
func (tb *tab) allow(s string) {
	tb.mu.Lock()
	tb.allowed = append(tb.allowed, s)
	tb.mu.Unlock()
}

func (tb *tab) checkProblems() {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	for _, p := range tb.problems {
		expected := false
		for _, a := range tb.allowed {
			if strings.Contains(p, a) {
				expected = true
			}
		}
		if !expected {
			tb.t.Errorf("tab %s: browser reported: %s", tb.name, p)
		}
	}
	if len(tb.problems) > 0 && len(tb.warnings) > 0 {
		tb.t.Logf("tab %s: browser warnings:\n  %s", tb.name, strings.Join(tb.warnings, "\n  "))
	}
}

// do runs steps, each waiting at most 20 s.
func (tb *tab) do(t *testing.T, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, browserWait)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("tab %s: %v (at %s)", tb.name, err, tb.location())
	}
}

func (tb *tab) location() string {
	ctx, cancel := context.WithTimeout(tb.ctx, 2*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	return loc
}

// open navigates to url and waits for sel to be visible.
func (tb *tab) open(t *testing.T, url, sel string) {
	t.Helper()
	tb.do(t, chromedp.Navigate(url), chromedp.WaitVisible(sel))
}

// measure loads url uncached and records the bytes transferred until sel is visible and the
// network has been quiet for a moment, as the page's first-load size.
func (tb *tab) measure(t *testing.T, page, url, sel string) int64 {
	t.Helper()
	tb.mu.Lock()
	tb.bytes = 0
	tb.mu.Unlock()
	tb.open(t, url, sel)
	time.Sleep(400 * time.Millisecond)
	tb.mu.Lock()
	n := tb.bytes
	tb.mu.Unlock()
	tb.b.mu.Lock()
	tb.b.sizes[page] = n
	tb.b.mu.Unlock()
	return n
}

// text returns the text of the first node matching sel.
func (tb *tab) text(t *testing.T, sel string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, browserWait)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(sel))
	if err != nil {
		t.Fatalf("tab %s: text of %s: %v (at %s)", tb.name, sel, err, tb.location())
	}
	return s
}

// press clicks the first visible node matching sel as a hand does: the pointer moves onto it
// first. chromedp.Click sends the press alone, a still pointer, which the consent page drops on
// Allow while it has only just been shown (guard.js, against double clickjacking).
func press(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := chromedp.WaitVisible(sel)(ctx, t); err != nil {
			return err
		}
		at, err := chromedp.Evaluate[[]float64](`(() => { const e = document.querySelector(`+strconv.Quote(sel)+`);
			e.scrollIntoView({block: "center"}); const r = e.getBoundingClientRect();
			return [r.left + r.width / 2, r.top + r.height / 2]; })()`)(ctx, t)
		if err != nil {
			return err
		}
		if len(at) != 2 {
			return fmt.Errorf("press %s: no position (%v)", sel, at)
		}
		x, y := at[0], at[1]
		for _, d := range []float64{40, 30, 20, 10, 0} {
			if _, err := chromedp.MouseEvent(chromedp.MouseMoved, x-d, y-d/2)(ctx, t); err != nil {
				return err
			}
		}
		_, err = chromedp.MouseClickXY(x, y)(ctx, t)
		return err
	})
}

// eval evaluates a JavaScript expression.
func evalIn[T any](t *testing.T, tb *tab, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, browserWait)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("tab %s: evaluating %s: %v", tb.name, expr, err)
	}
	return v
}

// waitFor polls a JavaScript expression until it is truthy, across navigations.
func (tb *tab) waitFor(t *testing.T, expr string) {
	t.Helper()
	deadline := time.Now().Add(browserWait)
	var last error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(tb.ctx, 2*time.Second)
		v, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+expr+")"))
		cancel()
		if err == nil && v {
			return
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("tab %s: waiting for %s: %v (at %s)", tb.name, expr, last, tb.location())
}

// shot writes name-desktop.png (1280×800) and name-phone.png (390×844) of the current page in
// the colour scheme in force, and at each width checks the page in light and in dark with
// axe-core (any violation fails the test) and, on the phone, that the page is no wider than its
// viewport.
func (tb *tab) shot(t *testing.T, name string) {
	t.Helper()
	tb.photograph(t, name, true, true)
}

func (tb *tab) photograph(t *testing.T, name string, write, checks bool) {
	t.Helper()
	for _, v := range []struct {
		suffix string
		w, h   int64
		mobile bool
	}{{"desktop", 1280, 800, false}, {"phone", 390, 844, true}} {
		var opts []chromedp.EmulateViewportOption
		if v.mobile {
			opts = append(opts, chromedp.EmulateScale(2), chromedp.EmulateMobile)
		}
		if err := chromedp.Do(tb.ctx, chromedp.EmulateViewport(v.w, v.h, opts...), chromedp.Sleep(150*time.Millisecond)); err != nil {
			t.Fatalf("viewport: %v", err)
		}
		if write {
			png, err := chromedp.Run(tb.ctx, chromedp.FullScreenshot(100))
			if err != nil {
				t.Fatalf("screenshot %s: %v", name, err)
			}
			file := filepath.Join(tb.b.shots, name+"-"+v.suffix+".png")
			if err := os.WriteFile(file, png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		scheme := tb.scheme
		for _, s := range []string{"light", "dark"} {
			if !checks {
				break
			}
			tb.do(t, emulateScheme(s), chromedp.Sleep(50*time.Millisecond))
			tb.axe(t, name+" "+v.suffix+" "+s)
			if v.mobile {
				if w := evalIn[int](t, tb, `document.documentElement.scrollWidth`); w > int(v.w) {
					t.Errorf("%s (%s, %s): the page is %d px wide in a %d px viewport; widest: %v", name, v.suffix, s, w, v.w,
						evalIn[[]string](t, tb, `[...document.querySelectorAll("body *")].filter(e => e.getBoundingClientRect().right > `+fmt.Sprint(v.w)+` + 1)
							.slice(-3).map(e => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (e.className && typeof e.className === "string" ? "." + e.className.split(" ").join(".") : "") + " right=" + Math.round(e.getBoundingClientRect().right))`))
				}
			}
		}
		tb.do(t, emulateScheme(scheme))
	}
	if err := chromedp.Do(tb.ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
		t.Fatal(err)
	}
}

// emulateScheme sets prefers-color-scheme ("light" or "dark").
func emulateScheme(v string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: v}}})
		return chromedp.Void{}, err
	}
}

// axeSource returns axe-core's script, installing testdata/tooling's packages when missing.
var axeSource = servertest.AxeSource

// axeRun runs axe-core's default rules (WCAG 2.x A and AA, best practices) plus
// label-content-name-mismatch over the page and its frames and returns one line per violation.
const axeRun = `(async () => {
	if (!window.axe) { throw new Error("axe-core is not in the page"); }
	// preload: false, else axe fetches every stylesheet again, cross-origin ones included.
	const r = await axe.run(document, {iframes: true, resultTypes: ["violations"], preload: false,
		rules: {"label-content-name-mismatch": {enabled: true}}});
	return r.violations.map(v => v.id + " (" + v.impact + "): " + v.help + " at " +
		v.nodes.slice(0, 6).map(n => JSON.stringify(n.target)).join(", ") + (v.nodes.length > 6 ? " and " + (v.nodes.length - 6) + " more" : ""));
})()`

// axe fails the test for each axe-core violation on the current page.
func (tb *tab) axe(t *testing.T, what string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, browserWait)
	defer cancel()
	if ok, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`!!window.axe`)); !ok {
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](axeSource(t)+";true")); err != nil {
			t.Fatalf("%s: injecting axe-core: %v", what, err)
		}
	}
	found, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](axeRun, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: axe-core: %v (at %s)", what, err, tb.location())
	}
	for _, v := range found {
		t.Errorf("axe %s: %s", what, v)
	}
	tb.b.mu.Lock()
	tb.b.axe[what] += len(found)
	tb.b.mu.Unlock()
}

// checkLabels fails when a visible form control of the page has no accessible name.
func (tb *tab) checkLabels(t *testing.T, page string) {
	t.Helper()
	unlabeled := evalIn[[]string](t, tb, `Array.from(document.querySelectorAll('input:not([type=hidden]), select, textarea, button'))
		.filter(el => el.offsetParent !== null)
		.filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby') &&
			!(el.tagName === 'BUTTON' && el.textContent.trim()))
		.map(el => el.outerHTML.slice(0, 120))`)
	if len(unlabeled) > 0 {
		t.Errorf("%s: form controls without an accessible name: %v", page, unlabeled)
	}
}

// darkShot writes name-dark-desktop.png and name-dark-phone.png with prefers-color-scheme: dark.
func (tb *tab) darkShot(t *testing.T, name string) {
	t.Helper()
	tb.scheme = "dark"
	tb.do(t, emulateScheme("dark"))
	// The state was checked in both schemes when it was photographed in light.
	tb.photograph(t, name+"-dark", true, false)
	tb.scheme = "light"
	tb.do(t, emulateScheme("light"))
}

// report logs the first-load sizes measured in this browser.
func (b *chrome) report() {
	b.mu.Lock()
	defer b.mu.Unlock()
	names := make([]string, 0, len(b.sizes))
	for n := range b.sizes {
		names = append(names, n)
	}
	sort.Strings(names)
	var sb strings.Builder
	for _, n := range names {
		fmt.Fprintf(&sb, "%-28s %7.1f kB\n", n, float64(b.sizes[n])/1000)
	}
	b.t.Logf("transferred on first load (uncached):\n%s", sb.String())
	checked := make([]string, 0, len(b.axe))
	for n, v := range b.axe {
		checked = append(checked, fmt.Sprintf("%-48s %d", n, v))
	}
	sort.Strings(checked)
	b.t.Logf("axe-core violations per state checked:\n%s", strings.Join(checked, "\n"))
	if f := os.Getenv("LOGINSIGN_PAGE_SIZES"); f != "" {
		os.WriteFile(f, []byte(sb.String()), 0o644)
	}
}

// readAll reads a response body for assertions.
func readAll(t *testing.T, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	return string(b)
}
