package mail

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"loginsign/internal/ids"
)

// outbox is the Sender used when no SMTP server is configured (dev mode only; the server
// refuses to start without SMTP otherwise): each message becomes an .eml file in
// cfg.OutboxDir and one info line in the log naming the file and the mail's Kind. The body is
// never logged (it carries magic links and other secrets), nor the address or the subject,
// as for SMTP: the file has them.
type outbox struct{ cfg Config }

// Send writes m to <OutboxDir>/<UTC time>-<random>.eml (0600; the folder is created 0700).
// The names sort by time. Failing to write is a temporary error.
func (o *outbox) Send(ctx context.Context, m Message) error {
	return redact(o.send(ctx, m))
}

// Rehearse composes m as Send does and writes nothing (Rehearser).
func (o *outbox) Rehearse(ctx context.Context, m Message) error {
	if err := ctx.Err(); err != nil {
		return redact(err)
	}
	if _, _, err := prepare(m, o.cfg); err != nil {
		return redact(fmt.Errorf("mail: %s: %w", kindOf(m), err))
	}
	return nil
}

func (o *outbox) send(ctx context.Context, m Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	env, data, err := prepare(m, o.cfg)
	if err != nil {
		return fmt.Errorf("mail: %s: %w", kindOf(m), err)
	}
	if err := os.MkdirAll(o.cfg.OutboxDir, 0o700); err != nil {
		return fmt.Errorf("mail: outbox: %w: %w", errTemporary, err)
	}
	name := o.cfg.Now().UTC().Format("20060102T150405.000000000Z") + "-" + ids.RandomLower(6) + ".eml"
	path := filepath.Join(o.cfg.OutboxDir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("mail: outbox: %w: %w", errTemporary, err)
	}
	o.cfg.Logger.Info("mail written to outbox", "kind", kindOf(m), "rcpt", logDigest(o.cfg.LogKey, env.to), "file", path, "bytes", len(data))
	return nil
}
