package team_test

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	"loginsign/ent"
	"loginsign/internal/mail"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
	"loginsign/internal/team"
)

// TestInviteReadsTheSameForAnAddressWithOrWithoutAnAccount (review helper gql17, checks17):
// an invitation's mail is written in the invitee's language, read from the account whose
// address is invited. The lookup read the whole account row when there was one and built a
// not-found error when there was not: a few microseconds more on every invitation of an
// address with an account (measured 7 µs of 165 on PostgreSQL), the kind of difference the
// top rule forbids an answer to carry. The lookup is now one aggregate that answers one value
// (the setting, or ”) either way: Invite runs the same statements, and the invitee's lookup
// reads nothing of the account but its language.
func TestInviteReadsTheSameForAnAddressWithOrWithoutAnAccount(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var mu sync.Mutex
		var log []string
		counted := &store.DB{SQL: db.SQL, Dialect: db.Dialect, Client: ent.NewClient(ent.Driver(
			dialect.DebugWithContext(entsql.OpenDB(db.Dialect, db.SQL), func(_ context.Context, v ...any) {
				mu.Lock()
				defer mu.Unlock()
				log = append(log, fmt.Sprint(v...))
			})))}
		e := newTeamEnv(t, counted)
		e.svc.Limiter = nil
		subjects := &subjectBox{}
		e.svc.Mail = subjects
		dev, apps := e.developer(t, "App")
		have := e.person(t)
		if err := db.User.UpdateOne(have).SetLanguage("de").Exec(ctx); err != nil {
			t.Fatal(err)
		}
		args, txID := regexp.MustCompile(`args=.*$`), regexp.MustCompile(`Tx\([^)]*\)`)
		invite := func(addr string) []string {
			mu.Lock()
			log = nil
			mu.Unlock()
			if _, err := e.svc.Invite(dev, apps[0].ID, addr, team.Developer); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			out := make([]string, len(log))
			for i, l := range log {
				out[i] = txID.ReplaceAllString(args.ReplaceAllString(l, ""), "Tx")
			}
			return out
		}
		withAccount, without := invite(have.Email), invite("nobody-has-this@example.com")
		if !slices.Equal(withAccount, without) {
			t.Errorf("Invite ran\n%s\nfor an address with an account, and\n%s\nfor one without", strings.Join(withAccount, "\n"), strings.Join(without, "\n"))
		}
		invitee := regexp.MustCompile("WHERE [`\"]users[`\"].[`\"]email[`\"] =")
		for _, q := range withAccount {
			if invitee.MatchString(q) && !strings.Contains(q, "COALESCE(MAX(") {
				t.Errorf("the invitee's lookup reads more than one value of the account, whether or not there is one: %s", q)
			}
		}
		// Still in the invitee's language where they have an account, else in English.
		if len(subjects.got) != 2 || subjects.got[0] == subjects.got[1] {
			t.Errorf("the invitations' subjects: %q, want the first in German and the second in English", subjects.got)
		}
	})
}

// subjectBox records the subjects of the mails it is given.
type subjectBox struct {
	mu  sync.Mutex
	got []string
}

func (b *subjectBox) Send(_ context.Context, m mail.Message) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.got = append(b.got, m.Subject)
	return nil
}
