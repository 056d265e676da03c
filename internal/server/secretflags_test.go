package server

import (
	"context"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// A secret given as a flag is readable by every local user in the process list
// (/proc/PID/cmdline) and through the pprof listener's /debug/pprof/cmdline; serve says so
// at start, naming the flags, never their values. The same values in the environment, and
// URLs without a password, are no reason to warn.
func TestServeWarnsOfSecretsGivenAsFlags(t *testing.T) {
	const secret = "0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want []string
	}{
		{[]string{"--secret", secret, "--smtp-url", "smtp://mailer:hunter2@mail.example.com:587",
			"--database-url", "postgres://app:pw@db.example.com/loginsign", "--redis-url", "redis://:pw@cache.example.com:6379/0",
			"--metrics-token", "0123456789abcdef0123"}, nil,
			[]string{"secret", "smtp-url", "database-url", "redis-url", "metrics-token"}},
		{[]string{"--smtp-url", "smtp://mail.example.com:587", "--database-url", "postgres://app@db.example.com/loginsign"}, nil, nil},
		{nil, map[string]string{"LOGINSIGN_SECRET": secret, "LOGINSIGN_SMTP_URL": "smtp://mailer:hunter2@mail.example.com:587"}, nil},
	} {
		c, err := loadConfig(tc.args, env(tc.env))
		if err != nil {
			t.Fatalf("loadConfig(%q): %v", tc.args, err)
		}
		slices.Sort(c.secretFlags)
		slices.Sort(tc.want)
		if !slices.Equal(c.secretFlags, tc.want) {
			t.Errorf("loadConfig(%q, %v): secret flags %q, want %q", tc.args, tc.env, c.secretFlags, tc.want)
		}
	}

	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	var logs syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, []string{"serve", "--secret", secret, "--addr", "127.0.0.1:0", "--metrics-addr", "off",
			"--data-dir", dir, "--database-url", "sqlite://" + filepath.Join(dir, "db.sqlite")}, env(nil), io.Discard, &logs)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(logs.String(), "LoginSign is running") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	out := logs.String()
	if !strings.Contains(out, "secrets given as flags") || !strings.Contains(out, `"flags":["secret"]`) {
		t.Errorf("serve with --secret logged no warning naming the flag:\n%s", out)
	}
	if strings.Contains(out, secret) {
		t.Errorf("the warning repeats the secret:\n%s", out)
	}
}
