package server

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/portal"
)

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return fmt.Sprint(*l) }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// runAdmin runs `apps create` and `users create` against the configured database.
func runAdmin(ctx context.Context, noun string, args []string, getenv func(string) string, stdout io.Writer) error {
	verb := "create"
	if noun == "keys" {
		verb = "rotate"
	}
	if len(args) == 0 || args[0] != verb {
		return fmt.Errorf("usage: loginsign %s create …\n%s", noun, usage)
	}
	args = args[1:]
	cfg, err := loadConfig(nil, getenv)
	if err != nil {
		return err
	}
	s, err := newServer(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer s.Close()
	switch noun {
	case "users":
		return s.createUserCommand(ctx, args, stdout)
	case "keys":
		return s.rotateKeysCommand(ctx, args, stdout)
	}
	return s.createAppCommand(ctx, args, stdout)
}

func (s *Server) createUserCommand(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("users create", flag.ContinueOnError)
	email := fs.String("email", "", "the account's email address (required)")
	name := fs.String("name", "", "display name")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *email == "" {
		return fmt.Errorf("--email is required")
	}
	u, err := s.identity.CreateUser(ctx, *email, *name)
	if err != nil {
		return cliError(err)
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(struct {
			GlobalID string `json:"globalId"`
			Email    string `json:"email"`
			Name     string `json:"name"`
		}{u.GlobalID, u.Email, u.Name})
	}
	fmt.Fprintf(stdout, "created user %s <%s>\n", u.GlobalID, u.Email)
	return nil
}

func (s *Server) createAppCommand(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("apps create", flag.ContinueOnError)
	owner := fs.String("owner", "", "the owner's email; the account is created when missing (required)")
	name := fs.String("name", "", "application name (required)")
	webhook := fs.String("webhook-url", "", "webhook URL")
	asJSON := fs.Bool("json", false, "print JSON")
	var redirects stringList
	fs.Var(&redirects, "redirect-uri", "a redirect URI (repeatable, at least one)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *owner == "" || *name == "" || len(redirects) == 0 {
		return fmt.Errorf("--owner, --name and at least one --redirect-uri are required")
	}
	u, _, err := s.identity.EnsureUser(ctx, *owner)
	if err != nil {
		return cliError(err)
	}
	// The operator on the server's own command line stands for the owner's fresh sign-in
	// (CreateApplication needs a recent one).
	ctx = auth.WithSession(ctx, auth.Session{UserID: u.ID, SignedInAt: time.Now()})
	created, err := s.portal.CreateApplication(ctx, portal.ApplicationInput{
		Name: *name, RedirectURIs: redirects, WebhookURL: *webhook,
	})
	if err != nil {
		return cliError(err)
	}
	app := created.Application
	if *asJSON {
		return json.NewEncoder(stdout).Encode(struct {
			ID            string   `json:"id"`
			ClientID      string   `json:"clientId"`
			ClientSecret  string   `json:"clientSecret"`
			Name          string   `json:"name"`
			RedirectURIs  []string `json:"redirectUris"`
			WebhookSecret string   `json:"webhookSecret"`
		}{app.ID, app.ID, created.ClientSecret, app.Name, app.RedirectUris, created.WebhookSecret})
	}
	fmt.Fprintf(stdout, "created application %q\n  client_id:     %s\n  client_secret: %s (shown once)\n", app.Name, app.ID, created.ClientSecret)
	if created.WebhookSecret != "" {
		fmt.Fprintf(stdout, "  webhook secret: %s (shown once)\n", created.WebhookSecret)
	}
	return nil
}

func cliError(err error) error {
	if e := apperr.As(err); e.Code != apperr.Internal {
		return fmt.Errorf("%s", e.Message)
	}
	return err
}

// rotateKeysCommand is `loginsign keys rotate`: new keys of every algorithm, published at once
// and signing after the publication lead, so every instance publishes them before any signs.
func (s *Server) rotateKeysCommand(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) > 0 {
		return fmt.Errorf("keys rotate takes no arguments")
	}
	ids, err := s.oauth.Keys.Rotate(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "new signing keys %v: published now, signing from %s\n", ids,
		s.now().Add(s.oauth.Config.KeyPublishLead).Format(time.RFC3339))
	return nil
}
