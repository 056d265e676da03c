package portal_test

import (
	"context"
	"strings"
	"testing"

	"loginsign/ent"
	"loginsign/ent/appconnection"
	"loginsign/ent/pendinglink"
	"loginsign/internal/portal"
)

// TestAnImportAnswersAKnownAddressAndItsVariantsLikeAnUnknownOne (review portal8): a free
// developer imports a person's address, connected to another application with that real
// address, in several spellings (case, plus tag, gmail-like dots, a trailing dot, a quoted
// local part, a Unicode lookalike), each next to the same spelling of an address nobody has.
// Every pair must answer the same status and message, so no row tells which addresses have an
// account.
func TestAnImportAnswersAKnownAddressAndItsVariantsLikeAnUnknownOne(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		victim := e.person(t)
		other := e.app(t, e.developer(t))
		e.connect(t, victim, other, victim.Email)
		local, domain, _ := strings.Cut(victim.Email, "@")
		unknownLocal := "nobody-" + local
		variants := []func(l, d string) string{
			func(l, d string) string { return l + "@" + d },
			func(l, d string) string { return strings.ToUpper(l) + "@" + strings.ToUpper(d) },
			func(l, d string) string { return l + "+promo@" + d },
			func(l, d string) string { return strings.Replace(l, "-", ".", 1) + "@" + d },
			func(l, d string) string { return l + "@" + d + "." },
			func(l, d string) string { return `"` + l + `"@` + d },
			func(l, d string) string { return strings.Replace(l, "o", "\u043e", 1) + "@" + d }, // Cyrillic o
			func(l, d string) string { return " " + l + "@" + d + " " },
		}
		dev := e.developer(t)
		app := e.app(t, dev)
		var rows []portal.ImportUser
		for i, v := range variants {
			rows = append(rows, portal.ImportUser{ExternalUserID: "k" + string(rune('a'+i)), Email: v(local, domain)},
				portal.ImportUser{ExternalUserID: "u" + string(rune('a'+i)), Email: v(unknownLocal, domain)})
		}
		res, err := e.svc.Import(dev, app.ID, portal.ImportRequest{Users: rows})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < len(res.Rows); i += 2 {
			k, u := res.Rows[i], res.Rows[i+1]
			// The unknown address's message names its own address; compare with it swapped.
			if k.Status != u.Status || strings.ReplaceAll(u.Message, unknownLocal, local) != k.Message {
				t.Errorf("%q answered %s %q, the same spelling of an unknown address %q answered %s %q",
					rows[i].Email, k.Status, k.Message, rows[i+1].Email, u.Status, u.Message)
			}
		}
		if n, err := e.db.AppConnection.Query().Where(appconnection.ApplicationID(app.ID)).Count(context.Background()); err != nil || n != 0 {
			t.Fatalf("the import made %d connections (%v), want none", n, err)
		}
	})
}

// TestAnImportOfAConnectedAddressRewritesNothingThePersonGave (review portal8): a person
// connected and showed the application their real address. An import row for that address
// (already_connected) with an earlier registration date, another name and an old last-login
// date may store the developer's externalUserId, but must not move the join date, change the
// shared address or the person's name, nor leave a pending link that a later sign-in could
// apply.
func TestAnImportOfAConnectedAddressRewritesNothingThePersonGave(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		dev := e.developer(t)
		app := e.app(t, dev)
		p := e.person(t)
		conn, err := e.db.AppConnection.Get(context.Background(), e.connect(t, p, app, p.Email).ID) // as stored
		if err != nil {
			t.Fatal(err)
		}
		res, err := e.svc.Import(dev, app.ID, portal.ImportRequest{Users: []portal.ImportUser{{ExternalUserID: "crm-1",
			Email: strings.ToUpper(p.Email), Name: "Mallory", RegistrationDate: "2001-01-01", LastLoginDate: "2002-02-02"}}})
		if err != nil {
			t.Fatal(err)
		}
		if got := statuses(res.Rows); got != portal.ImportAlreadyConnected {
			t.Fatalf("statuses %s, want already_connected", got)
		}
		ctx := context.Background()
		after, err := e.db.AppConnection.Get(ctx, conn.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !after.JoinedAt.Equal(conn.JoinedAt) || after.AppEmail != conn.AppEmail || after.AliasEmail != conn.AliasEmail {
			t.Errorf("the import moved the join date %v → %v or the addresses %q/%q → %q/%q",
				conn.JoinedAt, after.JoinedAt, conn.AppEmail, conn.AliasEmail, after.AppEmail, after.AliasEmail)
		}
		u, err := e.id.User(ctx, p.ID)
		if err != nil || u.Name != p.Name || u.Email != p.Email {
			t.Errorf("the person after the import: %+v, %v; want name %q, address %q", u, err, p.Name, p.Email)
		}
		if n, err := e.db.PendingLink.Query().Where(pendinglink.ApplicationID(app.ID)).Count(ctx); err != nil || n != 0 {
			t.Errorf("the import left %d pending links (%v) for an address already connected", n, err)
		}
	})
}

// TestTheDevelopersRecordOfAnAddressIsNoImportOracle (review portal8): the developer may
// store any address as its own record of a person (PATCH appEmail → developer_email) on a
// connection that shows it only the alias. Guessing the person's real address there and then
// importing it must not answer already_connected (which would confirm the guess), nor touch the
// connection.
func TestTheDevelopersRecordOfAnAddressIsNoImportOracle(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		dev := e.developer(t)
		app := e.app(t, dev)
		p := e.person(t)
		conn := e.connect(t, p, app, "")
		guess := p.Email
		if _, err := e.svc.UpdateConnection(dev, app.ID, conn.ID, portal.ConnectionPatch{AppEmail: &guess}); err != nil {
			t.Fatal(err)
		}
		res, err := e.svc.Import(dev, app.ID, portal.ImportRequest{Users: []portal.ImportUser{
			{ExternalUserID: "g", Email: guess}, {ExternalUserID: "alias", Email: conn.AliasEmail}}})
		if err != nil {
			t.Fatal(err)
		}
		if got := statuses(res.Rows); got != "imported,imported" {
			t.Errorf("importing the guessed address and the alias answered %s, want imported,imported", got)
		}
		after, err := e.db.AppConnection.Get(context.Background(), conn.ID)
		if err != nil {
			t.Fatal(err)
		}
		if after.ExternalUserID != conn.ExternalUserID || after.AppEmail != "" {
			t.Errorf("the alias-only connection took externalUserId %q, shared address %q from an import", after.ExternalUserID, after.AppEmail)
		}
	})
}

// TestAnInvalidRowKeepsABoundedMessage (review portal8): a row's report echoes what the
// developer sent at most 255 bytes per value (externalUserId, email), but an invalid row's
// message quotes the whole address or date it could not read. A free developer sending one
// row whose lastLoginDate (or email) is megabytes long has all of it stored as the row's
// message, %q-escaped (an invisible character grows from 3 to 6 bytes), in a run that stays
// until 100,000 rows are kept: the rows are trimmed by count, not by size, so 30 runs an hour
// of one such row each store up to 30 bodies (8 MiB each through REST) an hour, for ever.
// Every message must stay short whatever the value.
func TestAnInvalidRowKeepsABoundedMessage(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		dev := e.developer(t)
		app := e.app(t, dev)
		huge := strings.Repeat("9\u200b", 1<<18) // 1 MiB: digits and zero-width spaces
		res, err := e.svc.Import(dev, app.ID, portal.ImportRequest{Users: []portal.ImportUser{
			{ExternalUserID: "d", Email: "d@example.com", LastLoginDate: huge},
			{ExternalUserID: "r", Email: "r@example.com", RegistrationDate: huge},
			{ExternalUserID: "e", Email: huge + "@"},
		}})
		if err != nil {
			t.Fatal(err)
		}
		stored, err := e.svc.ImportSource(dev, app.ID, res.Source.ID)
		if err != nil {
			t.Fatal(err)
		}
		const bound = 1024
		for _, r := range stored.Rows {
			if r.Status != portal.ImportInvalidRow || r.Message == "" {
				t.Errorf("row %d: %s %q, want invalid_row with a message", r.Row, r.Status, r.Message)
			}
			if len(r.Message) > bound {
				t.Errorf("row %d of a %d-byte value keeps a %d-byte message (want at most %d): a free developer stores "+
					"whatever it sends, unbounded by the rows' trim", r.Row, len(huge), len(r.Message), bound)
			}
		}
	})
}

// TestTheUsersListConfirmsNoGuessOfAHiddenAddressOrName (review portal8): a person connected
// showing the application only the relay alias and granting no profile scope. The developer
// guesses their real address and name and asks the users list for them (search on the whole
// address, its local part, the name; a where filter on appEmail): every answer must be empty,
// while a search for the alias, which the application sees, finds the person.
func TestTheUsersListConfirmsNoGuessOfAHiddenAddressOrName(t *testing.T) {
	t.Parallel()
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		dev := e.developer(t)
		app := e.app(t, dev)
		p := e.person(t)
		conn := e.connect(t, p, app, "")
		local, _, _ := strings.Cut(p.Email, "@")
		count := func(pg portal.UserPage) int {
			t.Helper()
			first := 10
			pg.First = &first
			list, err := e.svc.ConnectedUsers(dev, app.ID, pg)
			if err != nil {
				t.Fatal(err)
			}
			return list.TotalCount
		}
		if n := count(portal.UserPage{Filter: &portal.UserFilter{Search: conn.AliasEmail}}); n != 1 {
			t.Fatalf("searching the alias found %d people, want 1", n)
		}
		for _, q := range []string{p.Email, strings.ToUpper(p.Email), local, p.Name} {
			if n := count(portal.UserPage{Filter: &portal.UserFilter{Search: q}}); n != 0 {
				t.Errorf("searching %q, which the application is not shown, found %d people", q, n)
			}
		}
		real := p.Email
		if n := count(portal.UserPage{Where: &ent.AppConnectionWhereInput{AppEmail: &real}}); n != 0 {
			t.Errorf("filtering appEmail = the hidden address found %d people", n)
		}
		if n := count(portal.UserPage{Where: &ent.AppConnectionWhereInput{AppEmailContainsFold: &local}}); n != 0 {
			t.Errorf("filtering appEmail containing the hidden local part found %d people", n)
		}
	})
}
