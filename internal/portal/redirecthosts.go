package portal

import (
	"context"
	"net/netip"
	"net/url"
	"strings"

	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql"

	"loginsign/ent"
	"loginsign/ent/application"
	"loginsign/internal/apperr"
	"loginsign/internal/team"
)

// The consent page tells a person where their answer goes (oauth.ReturnsTo): the host of an
// http(s) redirect URI, or the private-use scheme of a native app's. It is the one thing on
// the page that tells an application from a clone that copied its name and icon, so a host or
// scheme belongs to the first developer who registers it: another developer's application may
// not register it too (checkRedirectClaims), unless the developer adding it is on the team of
// an application that holds it with a role that may change its settings (then it is the same
// organisation, and they could point that application's own URIs anywhere). Loopback URIs are each
// person's own machine and stay shareable.

// redirectClaim is what redirect URI (or post-logout redirect URI) raw claims: "host:" and its
// host name in lower case for an http(s) URI, "scheme:" and its scheme in lower case for a
// private-use scheme (RFC 8252 §7.1), "" for a loopback URI (127.0.0.0/8, [::1], localhost)
// or one that does not parse. The port is left out: "app.example:8443" reads as
// "app.example" to a person, and a port is no proof of running the host; http and https of
// one host claim the same.
func redirectClaim(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Scheme == "" {
		return ""
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "scheme:" + scheme
	}
	host := strings.ToLower(u.Hostname())
	if host == "" || loopbackHost(host) {
		return ""
	}
	return "host:" + host
}

// loopbackHost reports whether host (lower case, without brackets) is localhost or a loopback
// address, as oauth.CheckRedirectURI lets http through for.
func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// redirectClaims maps each claim of the URIs of lists (redirectClaim) to the first URI that
// makes it.
func redirectClaims(lists ...[]string) map[string]string {
	out := map[string]string{}
	for _, list := range lists {
		for _, u := range list {
			if c := redirectClaim(u); c != "" && out[c] == "" {
				out[c] = u
			}
		}
	}
	return out
}

// redirectClaimsLock is the PostgreSQL advisory lock under which redirect URIs that claim a
// host or scheme are added (SQLite's write lock serialises them anyway): taken first in the
// transaction, before any row lock, so its holders never wait for one another's rows.
const redirectClaimsLock = 0x4c5f7265646972 // "L_redir"

// lockRedirectClaims takes redirectClaimsLock inside tx on PostgreSQL, until tx ends, so that
// two developers adding the same host take turns and the second sees the first's.
func lockRedirectClaims(ctx context.Context, tx *ent.Tx, d string) error {
	if d != dialect.Postgres {
		return nil
	}
	_, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", redirectClaimsLock)
	return err
}

// checkRedirectClaims refuses (Conflict, redirect_uri_taken) the redirect and post-logout
// redirect URIs of added (redirectClaims, the claims the application did not have) when another
// application, whose settings the signed-in developer uid may not change (team.EditSettings: not
// its owner, nor an admin or developer member; a support member may not), already has a URI of
// either list making the same claim. appID is the application written
// ("" for a new one). The owner of the application written is no exemption: a member of one
// of an owner's applications is not on the team of the owner's others, and could otherwise
// copy the host of the big one into the small one they are on, then into one of their own. It runs inside tx, after lockRedirectClaims. The answer names the URI
// and its host or scheme, which the consent page shows anyway, never the application that
// holds it nor its developer.
func checkRedirectClaims(ctx context.Context, tx *ent.Tx, appID, uid string, added map[string]string) error {
	if len(added) == 0 {
		return nil
	}
	// A prefilter on the lists' JSON text (any text that holds the host or scheme; LIKE's _
	// matches itself too), then the exact claims of what it finds.
	var patterns []string
	for c := range added {
		_, v, _ := strings.Cut(c, ":")
		patterns = append(patterns, "%"+v+"%")
	}
	q := tx.Application.Query().Where(
		// Only the team members who may change the holder's own redirect URIs (owner, admin,
		// developer: team.EditSettings) share its hosts. A support member may not touch them
		// there, yet registered them for an application of their own, which kept them after
		// the member was taken off the team: the clone's consent page named the holder's host.
		application.Not(team.Can(uid, team.EditSettings)),
		func(s *sql.Selector) {
			var ps []*sql.Predicate
			for _, col := range []string{application.FieldRedirectUris, application.FieldPostLogoutRedirectUris} {
				for _, p := range patterns {
					ps = append(ps, sql.P(func(b *sql.Builder) {
						b.WriteString("LOWER(CAST(").Ident(s.C(col)).WriteString(" AS TEXT)) LIKE ").Arg(p)
					}))
				}
			}
			s.Where(sql.Or(ps...))
		})
	if appID != "" {
		q = q.Where(application.IDNEQ(appID))
	}
	holders, err := q.Select(application.FieldRedirectUris, application.FieldPostLogoutRedirectUris).All(ctx)
	if err != nil {
		return err
	}
	for _, h := range holders {
		for c := range redirectClaims(h.RedirectUris, h.PostLogoutRedirectUris) {
			if u, ok := added[c]; ok {
				_, what, _ := strings.Cut(c, ":")
				if strings.HasPrefix(c, "scheme:") {
					what += ":"
				}
				return apperr.WithReason(apperr.Conflict, "redirect_uri_taken",
					"%q: another developer's application already registers %s, and the consent page names it as where the answer goes; only a member of that application's team may register it", u, what)
			}
		}
	}
	return nil
}

// newRedirectClaims are the claims of the redirect and post-logout redirect URIs of in that
// app (nil for a new application) does not have already: those URIs need checkRedirectClaims.
// URIs of a host or scheme app already registers stay, even one another owner shares (as
// some did before the check existed).
func newRedirectClaims(app *ent.Application, in ApplicationInput) map[string]string {
	added := redirectClaims(in.RedirectURIs, in.PostLogoutRedirectURIs)
	if app != nil {
		for c := range redirectClaims(app.RedirectUris, app.PostLogoutRedirectUris) {
			delete(added, c)
		}
	}
	return added
}

// checkOwnOrigin refuses (Invalid) a redirect or post-logout redirect URI on LoginSign's own
// site (baseURL): the consent page would say the answer goes to LoginSign itself, and LoginSign
// is no application's client. A non-loopback base host is refused on any scheme and port,
// which the page would show as LoginSign's host all the same; a loopback one (development)
// only on its own origin, as loopback redirect URIs of native apps use other ports.
func checkOwnOrigin(baseURL, raw string) error {
	base, err := url.Parse(baseURL)
	if baseURL == "" || err != nil || base.Host == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return nil
	}
	host, baseHost := strings.ToLower(u.Hostname()), strings.ToLower(base.Hostname())
	if host != baseHost {
		return nil
	}
	if loopbackHost(baseHost) && (!strings.EqualFold(u.Scheme, base.Scheme) || originPort(u) != originPort(base)) {
		return nil
	}
	return apperr.New(apperr.Invalid, "%q is on LoginSign's own site; a redirect URI must lead back to your application", raw)
}

// originPort is u's port, or its scheme's default port.
func originPort(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if strings.EqualFold(u.Scheme, "https") {
		return "443"
	}
	return "80"
}
