package server

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"loginsign/internal/ids"
	"loginsign/internal/oauth"
)

// TestTheServersLogNeverShowsAnAddressOrAToken: whatever a package hands the server's logger
// (an error a mail server or a driver wrote, a panic's value, attributes bound with With, a
// group, net/http's ErrorLog), the line keeps the domain of an address and the kind of a token,
// never the address's local part nor the token's secret, while ids and error kinds stay for
// the operator.
func TestTheServersLogNeverShowsAnAddressOrAToken(t *testing.T) {
	var buf bytes.Buffer
	log := newLogger(&buf, "debug")
	magic := ids.Secret(oauth.MagicLinkPrefix)
	refresh := oauth.RefreshTokenPrefix + "rtk_abcdefghijklmnopqrstuvwx.3." + ids.Secret("")
	session := ids.Secret("ses_")
	webhook := ids.Secret("whsec_")
	secrets := []string{"ann.smith", "bob", strings.TrimPrefix(magic, oauth.MagicLinkPrefix),
		strings.TrimPrefix(refresh, oauth.RefreshTokenPrefix), strings.TrimPrefix(session, "ses_"), strings.TrimPrefix(webhook, "whsec_")}

	smtpErr := errors.New("mail: sending sign_in: 550 5.1.1 <ann.smith@example.com>: no such user")
	log.Error("mail failed for bob@example.org", "err", fmt.Errorf("wrapped: %w", smtpErr), "event", "msg_abcdefghijklmnopqrstuvwx")
	log.Error("panic", "panic", "https://login.example/login/magic?token="+magic)
	log.With("token", refresh).Info("rotating", "cookie", session)
	log.Warn("grouped", slog.Group("hook", "secret", webhook, "to", []string{"bob@example.org"}))
	slog.NewLogLogger(log.Handler(), slog.LevelWarn).Printf("http: error for %s", "bob@example.org")

	out := buf.String()
	for _, s := range secrets {
		if strings.Contains(out, s+"@") || (len(s) > 20 && strings.Contains(out, s)) {
			t.Errorf("the log shows %q:\n%s", s, out)
		}
	}
	for _, keep := range []string{"example.com", "example.org", oauth.MagicLinkPrefix, oauth.RefreshTokenPrefix, "ses_", "whsec_",
		"msg_abcdefghijklmnopqrstuvwx", "550 5.1.1", "no such user", "wrapped:"} {
		if !strings.Contains(out, keep) {
			t.Errorf("the log lost %q, which the operator needs:\n%s", keep, out)
		}
	}
}
