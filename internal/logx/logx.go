// Package logx is the server's log handler: every line, whoever writes it (the server, the
// domain packages through slog's default logger, net/http's ErrorLog, the relay, the mail
// sender, the webhook worker), passes through Handler, which redacts what must never reach
// an operator's log, a log shipper or an error tracker: the local part of email addresses
// (mail.RedactAddresses: a real address ties a person to the apps they use and to their
// masked addresses) and the secret part of LoginSign's tokens (Redact). Call sites still
// name a recipient by digest and an event by id; this is the net under them, for the error
// text nobody foresaw (a driver's, a mail server's, a panic's).
package logx

import (
	"context"
	"log/slog"
	"regexp"
	"strings"

	"loginsign/internal/mail"
)

// secretPrefixes are the type prefixes of the secrets ids.Secret makes for LoginSign's
// tokens: sign-in flows, magic links, codes, access and refresh tokens, second steps, address
// change links, invitations, undo links, passkey confirmations (ls…_), client secrets (lss_),
// webhook signing secrets (whsec_), browser sessions (ses_) and address verification links
// (ver_).
var secretPrefixes = []string{"ls", "whsec_", "ses_", "ver_"}

// secretInText matches such a token at the start of a word or after an escaped "=" (a link
// inside another link's query): its prefix, then at least 20 characters of base64url (a
// refresh token's dots included). Identifiers (usr_…, app_…) have other prefixes.
var secretInText = regexp.MustCompile(`(\b|%3[dD])((?:ls[a-z]{1,4}|whsec|ses|ver)_)[A-Za-z0-9_.-]{20,}`)

// Redact returns s with every email address's local part replaced by "•••"
// (mail.RedactAddresses) and every LoginSign token cut to its prefix and "•••": the kind of
// a token stays, so a line still says which one it was.
func Redact(s string) string {
	if !suspect(s) {
		return s
	}
	return secretInText.ReplaceAllString(mail.RedactAddresses(s), "$1$2•••")
}

// suspect reports whether Redact might change s: it holds an @ or a secret's prefix.
func suspect(s string) bool {
	if strings.Contains(s, "@") {
		return true
	}
	for _, p := range secretPrefixes {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}

// Handler wraps next: each record's message and attribute values (strings, errors, string
// slices, groups, values of a LogValuer) pass through Redact before next sees them; an error
// becomes its redacted text, as the JSON handler would have written it. Other values
// (numbers, durations, times, other types, named string types among them) pass as they are.
func Handler(next slog.Handler) slog.Handler {
	if h, ok := next.(*handler); ok {
		return h
	}
	return &handler{next: next}
}

type handler struct{ next slog.Handler }

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	clean := !suspect(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		clean = a.Value.Kind() != slog.KindAny && a.Value.Kind() != slog.KindGroup && a.Value.Kind() != slog.KindLogValuer &&
			(a.Value.Kind() != slog.KindString || !suspect(a.Value.String()))
		return clean
	})
	if clean { // the access log's lines: nothing to copy
		return h.next.Handle(ctx, r)
	}
	out := slog.NewRecord(r.Time, r.Level, Redact(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redactAttr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(as))
	for i, a := range as {
		red[i] = redactAttr(a)
	}
	return &handler{next: h.next.WithAttrs(red)}
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{next: h.next.WithGroup(name)}
}

func redactAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, Redact(v.String()))
	case slog.KindGroup:
		g := v.Group()
		red := make([]slog.Attr, len(g))
		for i, ga := range g {
			red[i] = redactAttr(ga)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(red...)}
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, Redact(x.Error()))
		case []string:
			red := make([]string, len(x))
			for i, s := range x {
				red[i] = Redact(s)
			}
			return slog.Any(a.Key, red)
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
