package licenses_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"loginsign/ent"
	"loginsign/ent/appconnection"
	"loginsign/ent/licensecode"
	"loginsign/internal/connections"
	"loginsign/internal/licenses"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

func TestCodeKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
		ok             bool
	}{
		{"hyphens and case are ignored", "abcd-efgh-2345", "ABCDEFGH2345", true},
		{"spaces are ignored", " AB CD ", "ABCD", true},
		{"underscore is kept", "a_b", "A_B", true},
		{"punctuation is refused", "ABCD!", "", false},
		{"non-ASCII is refused", "ÄBCD", "", false},
		{"empty is refused", " - ", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := licenses.CodeKey(tt.in)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("CodeKey(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

var codeFormat = regexp.MustCompile(`^([A-Z0-9]{1,16}-)?[` + licenses.CodeAlphabet + `]{4}(-[` + licenses.CodeAlphabet + `]{4}){3}$`)

// An application has at most MaxVariants license variants (the list is not paged, and each
// variant's counts are a query of their own), exactly, however many creations race.
func TestVariantsPerApplicationAreBounded(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		ctx := as(w.rival)
		errs := make(chan error, licenses.MaxVariants+10)
		var wg sync.WaitGroup
		for i := range licenses.MaxVariants + 10 {
			wg.Go(func() {
				_, err := w.svc.CreateVariant(ctx, w.rivalApp.ID, licenses.VariantInput{Name: fmt.Sprintf("Plan %d", i)})
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		created := 0
		for err := range errs {
			if err == nil {
				created++
				continue
			}
			wantErr(t, err, "invalid_request")
		}
		vs, err := w.svc.ListVariants(ctx, w.rivalApp.ID)
		if err != nil || created != licenses.MaxVariants || len(vs) != licenses.MaxVariants {
			t.Fatalf("%d created, %d listed (%v); want %d", created, len(vs), err, licenses.MaxVariants)
		}
		// Another application's count is its own.
		if _, err := w.svc.CreateVariant(as(w.dev), w.app.ID, licenses.VariantInput{Name: "Plan 0"}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestVariants(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		ctx := as(w.dev)
		v, err := w.svc.CreateVariant(ctx, w.app.ID, licenses.VariantInput{Name: " Premium ", Description: "All features", Duration: "year"})
		if err != nil {
			t.Fatal(err)
		}
		if v.Name != "Premium" || v.Duration != "YEAR" || v.Description != "All features" {
			t.Fatalf("created %+v", v)
		}
		t.Run("duplicate name in another case is refused", func(t *testing.T) {
			_, err := w.svc.CreateVariant(ctx, w.app.ID, licenses.VariantInput{Name: "PREMIUM"})
			wantErr(t, err, "variant_name_taken")
		})
		t.Run("same name in another application is fine", func(t *testing.T) {
			if _, err := w.svc.CreateVariant(as(w.rival), w.rivalApp.ID, licenses.VariantInput{Name: "Premium"}); err != nil {
				t.Fatal(err)
			}
		})
		for _, tt := range []struct {
			name string
			ctx  context.Context
			app  string
			in   licenses.VariantInput
			want string
		}{
			{"no session", context.Background(), w.app.ID, licenses.VariantInput{Name: "X"}, "unauthorized"},
			{"another developer's application", as(w.rival), w.app.ID, licenses.VariantInput{Name: "X"}, "not_found"},
			{"unknown application", ctx, "app_nope", licenses.VariantInput{Name: "X"}, "not_found"},
			{"empty name", ctx, w.app.ID, licenses.VariantInput{Name: "  "}, "invalid_request"},
			{"long name", ctx, w.app.ID, licenses.VariantInput{Name: strings.Repeat("n", 101)}, "invalid_request"},
			{"bad duration", ctx, w.app.ID, licenses.VariantInput{Name: "X", Duration: "WEEK"}, "invalid_request"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				_, err := w.svc.CreateVariant(tt.ctx, tt.app, tt.in)
				wantErr(t, err, tt.want)
			})
		}
		t.Run("update", func(t *testing.T) {
			name, dur := "Premium Plus", "MONTH"
			got, err := w.svc.UpdateVariant(ctx, w.app.ID, v.ID, licenses.VariantPatch{Name: &name, Duration: &dur})
			if err != nil || got.Name != "Premium Plus" || got.Duration != "MONTH" || got.Description != "All features" {
				t.Fatalf("update = %+v, %v", got, err)
			}
			_, err = w.svc.UpdateVariant(ctx, w.app.ID, v.ID, licenses.VariantPatch{})
			wantErr(t, err, "invalid_request")
			_, err = w.svc.UpdateVariant(as(w.rival), w.app.ID, v.ID, licenses.VariantPatch{Name: &name})
			wantErr(t, err, "not_found")
			other := w.variant(t, "Basic", "")
			_, err = w.svc.UpdateVariant(ctx, w.app.ID, other.ID, licenses.VariantPatch{Name: &name})
			wantErr(t, err, "variant_name_taken")
		})
		t.Run("list is by name and only the owner's", func(t *testing.T) {
			vs, err := w.svc.ListVariants(ctx, w.app.ID)
			if err != nil || len(vs) != 2 || vs[0].Name != "Basic" || vs[1].Name != "Premium Plus" {
				t.Fatalf("list = %v, %v", vs, err)
			}
			_, err = w.svc.ListVariants(as(w.rival), w.app.ID)
			wantErr(t, err, "not_found")
		})
		t.Run("delete refuses while codes are active unless forced", func(t *testing.T) {
			codes := w.codes(t, v, 3)
			person := w.person(t, "buyer")
			conn := w.connect(t, person, w.app)
			if _, err := w.svc.Redeem(asToken(conn), "", codes[0]); err != nil {
				t.Fatal(err)
			}
			counts := must[map[string]licenses.CodeCounts](t)(w.svc.CodeCounts(ctx, v.ID))
			if c := counts[v.ID]; c != (licenses.CodeCounts{Unused: 2, Active: 1}) {
				t.Fatalf("codeCounts = %+v", c)
			}
			wantErr(t, w.svc.DeleteVariant(ctx, w.app.ID, v.ID, false), "variant_has_active_codes")
			if n := must[int](t)(db.LicenseCode.Query().Where(licensecode.VariantID(v.ID)).Count(context.Background())); n != 3 {
				t.Fatalf("a refused delete left %d codes, want 3", n)
			}
			wantErr(t, w.svc.DeleteVariant(as(w.rival), w.app.ID, v.ID, true), "not_found")
			if err := w.svc.DeleteVariant(ctx, w.app.ID, v.ID, true); err != nil {
				t.Fatal(err)
			}
			if n := must[int](t)(db.LicenseCode.Query().Where(licensecode.VariantID(v.ID)).Count(context.Background())); n != 0 {
				t.Fatalf("forced delete left %d codes", n)
			}
			wantErr(t, w.svc.DeleteVariant(ctx, w.app.ID, v.ID, true), "not_found")
		})
		t.Run("delete of a variant whose codes are unused or expired needs no force", func(t *testing.T) {
			v := w.variant(t, "Trial", "MONTH")
			codes := w.codes(t, v, 2)
			conn := w.connect(t, w.person(t, "trier"), w.app)
			if _, err := w.svc.Redeem(asToken(conn), "", codes[0]); err != nil {
				t.Fatal(err)
			}
			w.clock.Add(32 * 24 * time.Hour) // the month is over
			if err := w.svc.DeleteVariant(w.signedIn(w.dev), w.app.ID, v.ID, false); err != nil {
				t.Fatal(err)
			}
		})
	})
}

func TestGenerateCodes(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		v := w.variant(t, "Pro", "")
		ctx := as(w.dev)
		g, err := w.svc.GenerateCodes(ctx, w.app.ID, licenses.GenerateInput{VariantID: v.ID, Count: licenses.MaxGenerate, Prefix: "pro"})
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, c := range g.Codes {
			if !codeFormat.MatchString(c) || !strings.HasPrefix(c, "PRO-") {
				t.Fatalf("code %q has the wrong format", c)
			}
			seen[c] = true
		}
		if len(seen) != licenses.MaxGenerate {
			t.Fatalf("%d distinct codes, want %d", len(seen), licenses.MaxGenerate)
		}
		n := must[int](t)(db.LicenseCode.Query().Where(licensecode.VariantID(v.ID), licensecode.StateEQ(licensecode.StateUNUSED)).Count(context.Background()))
		if n != licenses.MaxGenerate {
			t.Fatalf("%d UNUSED codes stored, want %d", n, licenses.MaxGenerate)
		}
		// A generated code is stored exactly as shown, and its key matches it.
		c := must[*ent.LicenseCode](t)(db.LicenseCode.Query().Where(licensecode.Code(g.Codes[17])).Only(context.Background()))
		if k, _ := licenses.CodeKey(g.Codes[17]); c.CodeKey != k || c.ApplicationID != w.app.ID || c.CreatedAt.IsZero() {
			t.Fatalf("stored %+v", c)
		}
		for _, tt := range []struct {
			name string
			ctx  context.Context
			in   licenses.GenerateInput
			want string
		}{
			{"zero codes", ctx, licenses.GenerateInput{VariantID: v.ID, Count: 0}, "invalid_request"},
			{"more than 10,000", ctx, licenses.GenerateInput{VariantID: v.ID, Count: 10001}, "invalid_request"},
			{"prefix with punctuation", ctx, licenses.GenerateInput{VariantID: v.ID, Count: 1, Prefix: "PR-O"}, "invalid_request"},
			{"prefix too long", ctx, licenses.GenerateInput{VariantID: v.ID, Count: 1, Prefix: strings.Repeat("P", 17)}, "invalid_request"},
			{"unknown variant", ctx, licenses.GenerateInput{VariantID: "var_nope", Count: 1}, "not_found"},
			{"another developer", as(w.rival), licenses.GenerateInput{VariantID: v.ID, Count: 1}, "not_found"},
			{"no session", context.Background(), licenses.GenerateInput{VariantID: v.ID, Count: 1}, "unauthorized"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				_, err := w.svc.GenerateCodes(tt.ctx, w.app.ID, tt.in)
				wantErr(t, err, tt.want)
			})
		}
		t.Run("a variant of another application is not found", func(t *testing.T) {
			rv, err := w.svc.CreateVariant(as(w.rival), w.rivalApp.ID, licenses.VariantInput{Name: "R"})
			if err != nil {
				t.Fatal(err)
			}
			_, err = w.svc.GenerateCodes(ctx, w.app.ID, licenses.GenerateInput{VariantID: rv.ID, Count: 1})
			wantErr(t, err, "not_found")
		})
	})
}

func TestUploadCodes(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		pro, team := w.variant(t, "Pro", ""), w.variant(t, "Team", "YEAR")
		ctx := as(w.dev)
		if _, err := w.svc.UploadCodes(ctx, w.app.ID, pro.ID, []licenses.UploadRow{{Code: "EXISTING-1"}}); err != nil {
			t.Fatal(err)
		}
		rows := []licenses.UploadRow{
			{Line: 2, Code: "GOOD-0001"},
			{Line: 3, Code: "good_0002", Variant: "team"},
			{Line: 4, Code: "existing1"},                  // already in the application (hyphen and case differ)
			{Line: 5, Code: "GOOD0001"},                   // repeats line 2
			{Line: 6, Code: "abc"},                        // too short
			{Line: 7, Code: "bad code!"},                  // punctuation
			{Line: 8, Code: strings.Repeat("X", 65)},      // too long
			{Line: 9, Code: "GOOD-0003", Variant: "Gold"}, // unknown variant
			{Line: 10, Code: "GOOD-0004", Variant: team.ID},
		}
		got, err := w.svc.UploadCodes(ctx, w.app.ID, pro.ID, rows)
		if err != nil {
			t.Fatal(err)
		}
		if got.Created != 3 {
			t.Errorf("created = %d, want 3", got.Created)
		}
		if strings.Join(got.Duplicates, ",") != "GOOD0001,existing1" {
			t.Errorf("duplicates = %q", got.Duplicates)
		}
		var lines []int
		for _, r := range got.Invalid {
			lines = append(lines, r.Line)
			if r.Reason == "" {
				t.Errorf("invalid row %d has no reason", r.Line)
			}
		}
		if len(lines) != 4 || lines[0] != 6 || lines[1] != 7 || lines[2] != 8 || lines[3] != 9 {
			t.Errorf("invalid lines = %v, want [6 7 8 9]", lines)
		}
		byVariant := map[string]int{}
		for _, c := range must[[]*ent.LicenseCode](t)(db.LicenseCode.Query().All(context.Background())) {
			byVariant[c.VariantID]++
		}
		if byVariant[pro.ID] != 2 || byVariant[team.ID] != 2 {
			t.Errorf("codes per variant = %v, want pro 2 (EXISTING-1, GOOD-0001), team 2", byVariant)
		}
		t.Run("rows without a variant and no default are invalid", func(t *testing.T) {
			got, err := w.svc.UploadCodes(ctx, w.app.ID, "", []licenses.UploadRow{{Line: 1, Code: "NOVARIANT1"}})
			if err != nil || got.Created != 0 || len(got.Invalid) != 1 {
				t.Fatalf("got %+v, %v", got, err)
			}
		})
		t.Run("errors", func(t *testing.T) {
			_, err := w.svc.UploadCodes(ctx, w.app.ID, pro.ID, nil)
			wantErr(t, err, "invalid_request")
			_, err = w.svc.UploadCodes(ctx, w.app.ID, pro.ID, make([]licenses.UploadRow, licenses.MaxUpload+1))
			wantErr(t, err, "invalid_request")
			_, err = w.svc.UploadCodes(ctx, w.app.ID, "var_nope", []licenses.UploadRow{{Code: "ABCD1"}})
			wantErr(t, err, "not_found")
			_, err = w.svc.UploadCodes(as(w.rival), w.app.ID, pro.ID, []licenses.UploadRow{{Code: "ABCD1"}})
			wantErr(t, err, "not_found")
		})
	})
}

func TestRedeem(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		month := w.variant(t, "Monthly", "MONTH")
		life := w.variant(t, "Forever", "LIFETIME")
		codes := w.codes(t, month, 5)
		lifeCode := w.codes(t, life, 1)[0]
		ann, bob := w.person(t, "ann"), w.person(t, "bob")
		annConn, bobConn := w.connect(t, ann, w.app), w.connect(t, bob, w.app)
		stranger := w.person(t, "stranger")
		rv, _ := w.svc.CreateVariant(as(w.rival), w.rivalApp.ID, licenses.VariantInput{Name: "R"})
		rivalCode := must[*licenses.Generated](t)(w.svc.GenerateCodes(as(w.rival), w.rivalApp.ID, licenses.GenerateInput{VariantID: rv.ID, Count: 1})).Codes[0]
		w.connect(t, ann, w.rivalApp)

		now := w.clock.Now()
		c, err := w.svc.Redeem(as(ann), w.app.ID, strings.ToLower(strings.ReplaceAll(codes[0], "-", " ")))
		if err != nil {
			t.Fatal(err)
		}
		if c.State != licensecode.StateACTIVE || *c.LinkedConnectionID != annConn.ID || !c.ActivatedAt.Equal(now) ||
			c.ExpiresAt == nil || !c.ExpiresAt.Equal(now.AddDate(0, 1, 0)) || c.Code != codes[0] {
			t.Fatalf("redeemed %+v", c)
		}
		stored := must[*ent.LicenseCode](t)(db.LicenseCode.Get(context.Background(), c.ID))
		if stored.State != licensecode.StateACTIVE || *stored.LinkedConnectionID != annConn.ID || !stored.ExpiresAt.Equal(now.AddDate(0, 1, 0)) {
			t.Fatalf("stored %+v", stored)
		}
		lc, err := w.svc.Redeem(asToken(bobConn), "", lifeCode)
		if err != nil || lc.ExpiresAt != nil || *lc.LinkedConnectionID != bobConn.ID {
			t.Fatalf("lifetime redeem = %+v, %v", lc, err)
		}

		for _, tt := range []struct {
			name string
			ctx  context.Context
			app  string
			code string
			want string
		}{
			{"malformed code", as(bob), w.app.ID, "no!", "invalid_code"},
			{"too short", as(bob), w.app.ID, "AB-C", "invalid_code"},
			{"unknown code", as(bob), w.app.ID, "ZZZZ-ZZZZ-ZZZZ-ZZZZ", "code_not_found"},
			{"another application's code", as(ann), w.app.ID, rivalCode, "code_not_found"},
			{"code used by someone else", as(bob), w.app.ID, codes[0], "code_already_used"},
			{"no session and no token", context.Background(), w.app.ID, codes[1], "unauthorized"},
			{"session without an application", as(bob), "", codes[1], "invalid_request"},
			{"person not connected to the application", as(stranger), w.app.ID, codes[1], "not_found"},
			{"token of another application", asToken(bobConn), w.rivalApp.ID, codes[1], "forbidden"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				_, err := w.svc.Redeem(tt.ctx, tt.app, tt.code)
				wantErr(t, err, tt.want)
			})
		}
		t.Run("the holder redeeming again gets the same license", func(t *testing.T) {
			again, err := w.svc.Redeem(asToken(annConn), "", codes[0])
			if err != nil || again.ID != c.ID {
				t.Fatalf("again = %+v, %v", again, err)
			}
		})
		t.Run("a token of a deleted connection is refused", func(t *testing.T) {
			gone := w.connect(t, w.person(t, "gone"), w.app)
			db.AppConnection.DeleteOneID(gone.ID).ExecX(context.Background())
			_, err := w.svc.Redeem(asToken(gone), "", codes[2])
			wantErr(t, err, "invalid_token")
		})
		t.Run("expiry is exact and read everywhere", func(t *testing.T) {
			w.clock.Add(c.ExpiresAt.Sub(w.clock.Now()) - time.Millisecond)
			_, subs, err := w.svc.Subscriptions(as(ann), w.app.ID)
			if err != nil || len(subs) != 1 || licenses.EffectiveState(subs[0], w.clock.Now()) != licensecode.StateACTIVE {
				t.Fatalf("just before expiry: %v, %v", subs, err)
			}
			w.clock.Add(time.Millisecond)
			_, subs, _ = w.svc.Subscriptions(as(ann), w.app.ID)
			if got := licenses.EffectiveState(subs[0], w.clock.Now()); got != licensecode.StateEXPIRED {
				t.Fatalf("at expiry: state %s, want EXPIRED", got)
			}
			_, err = w.svc.Redeem(as(ann), w.app.ID, codes[0])
			wantErr(t, err, "code_expired")
			page, err := w.svc.ListCodes(as(w.dev), w.app.ID, licenses.CodeQuery{State: "EXPIRED"})
			if err != nil || page.TotalCount != 1 || page.Edges[0].Node.ID != c.ID {
				t.Fatalf("EXPIRED filter = %+v, %v", page, err)
			}
			counts := must[map[string]licenses.CodeCounts](t)(w.svc.CodeCounts(as(w.dev), month.ID))
			if counts[month.ID] != (licenses.CodeCounts{Unused: 4, Expired: 1}) {
				t.Fatalf("counts = %+v", counts[month.ID])
			}
		})
		t.Run("subscriptions by session need the application", func(t *testing.T) {
			_, _, err := w.svc.Subscriptions(as(ann), "")
			wantErr(t, err, "invalid_request")
			_, _, err = w.svc.Subscriptions(as(stranger), w.app.ID)
			wantErr(t, err, "not_found")
			conn, subs, err := w.svc.Subscriptions(asToken(bobConn), "")
			if err != nil || conn.ID != bobConn.ID || len(subs) != 1 || subs[0].Edges.Variant.Name != "Forever" {
				t.Fatalf("bob's subscriptions = %v, %v", subs, err)
			}
		})
	})
}

// TestRedeemRace: 1,000 people race for 100 codes, ten per code. Exactly one redemption of
// each code wins, and no code ends up held twice.
func TestRedeemRace(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		v := w.variant(t, "Launch", "YEAR")
		codes := w.codes(t, v, 100)
		conns := w.connectMany(t, w.app, 1000)
		type result struct {
			conn, code string
			err        error
		}
		results := make(chan result, len(conns))
		start := make(chan struct{})
		for i, conn := range conns {
			go func() {
				<-start
				code := codes[i%len(codes)]
				_, err := w.svc.Redeem(asToken(conn), "", code)
				results <- result{conn.ID, code, err}
			}()
		}
		close(start)
		winners := map[string]string{} // code → connection
		for range conns {
			r := <-results
			if r.err == nil {
				if prev, dup := winners[r.code]; dup {
					t.Fatalf("code %s won by %s and %s", r.code, prev, r.conn)
				}
				winners[r.code] = r.conn
				continue
			}
			wantErr(t, r.err, "code_already_used")
		}
		if len(winners) != 100 {
			t.Fatalf("%d winners, want 100", len(winners))
		}
		stored := must[[]*ent.LicenseCode](t)(db.LicenseCode.Query().Where(licensecode.VariantID(v.ID)).All(context.Background()))
		holders := map[string]bool{}
		for _, c := range stored {
			if c.State != licensecode.StateACTIVE || c.LinkedConnectionID == nil || winners[c.Code] != *c.LinkedConnectionID {
				t.Fatalf("stored %s: state %s holder %v, winner %s", c.Code, c.State, c.LinkedConnectionID, winners[c.Code])
			}
			if holders[*c.LinkedConnectionID] {
				t.Fatalf("connection %s holds two codes", *c.LinkedConnectionID)
			}
			holders[*c.LinkedConnectionID] = true
		}
	})
}

func TestListCodes(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		pro, team := w.variant(t, "Pro", "YEAR"), w.variant(t, "Team", "")
		proCodes := w.codes(t, pro, 30)
		w.clock.Add(time.Second)
		teamCodes := w.codes(t, team, 5)
		ann := w.person(t, "ann")
		annConn := w.connect(t, ann, w.app)
		db.AppConnection.UpdateOne(annConn).SetAppEmail("ann@work.example").ExecX(context.Background())
		w.clock.Add(time.Second)
		if _, err := w.svc.Redeem(as(ann), w.app.ID, teamCodes[2]); err != nil {
			t.Fatal(err)
		}
		ctx := as(w.dev)
		q := func(in licenses.CodeQuery) *ent.LicenseCodeConnection {
			t.Helper()
			p, err := w.svc.ListCodes(ctx, w.app.ID, in)
			if err != nil {
				t.Fatal(err)
			}
			return p
		}
		if p := q(licenses.CodeQuery{}); p.TotalCount != 35 || len(p.Edges) != 35 || p.Edges[0].Node.VariantID != team.ID {
			t.Fatalf("all: total %d, %d edges", p.TotalCount, len(p.Edges))
		}
		if p := q(licenses.CodeQuery{VariantID: pro.ID}); p.TotalCount != 30 {
			t.Fatalf("variant filter: %d", p.TotalCount)
		}
		if p := q(licenses.CodeQuery{State: "active"}); p.TotalCount != 1 {
			t.Fatalf("ACTIVE filter: %d", p.TotalCount)
		}
		if p := q(licenses.CodeQuery{State: "UNUSED"}); p.TotalCount != 34 {
			t.Fatalf("UNUSED filter: %d", p.TotalCount)
		}
		if p := q(licenses.CodeQuery{Q: strings.ToLower(proCodes[7][5:14])}); p.TotalCount != 1 || p.Edges[0].Node.Code != proCodes[7] {
			t.Fatalf("text filter on the code: %d", p.TotalCount)
		}
		p := q(licenses.CodeQuery{Q: strings.ToLower(ann.GlobalID)})
		if p.TotalCount != 1 {
			t.Fatalf("text filter on the owner's globalId: %d", p.TotalCount)
		}
		// The owner's name shows only where the person shares their profile with the app.
		owner, err := w.svc.OwnerOf(ctx, p.Edges[0].Node)
		if err != nil || *owner != (licenses.Owner{ConnectionID: annConn.ID, GlobalID: ann.GlobalID, Name: "", Email: "ann@work.example"}) {
			t.Fatalf("owner without the profile scope = %+v, %v", owner, err)
		}
		w.db.Consent.Create().SetConnectionID(annConn.ID).SetScopes([]string{"openid", "profile"}).ExecX(ctx)
		// A page read after the consent (the one above loaded the connection without it).
		p = q(licenses.CodeQuery{Q: strings.ToLower(ann.GlobalID)})
		owner, err = w.svc.OwnerOf(ctx, p.Edges[0].Node)
		if err != nil || *owner != (licenses.Owner{ConnectionID: annConn.ID, GlobalID: ann.GlobalID, Name: "ann", Email: "ann@work.example"}) {
			t.Fatalf("owner = %+v, %v", owner, err)
		}
		if p := q(licenses.CodeQuery{Q: "work.example"}); p.TotalCount != 1 {
			t.Fatalf("text filter on the owner's address: %d", p.TotalCount)
		}
		t.Run("pages keep the total and cover everything once", func(t *testing.T) {
			seen := map[string]bool{}
			first := 10
			in := licenses.CodeQuery{First: &first}
			for pages := 0; ; pages++ {
				p := q(in)
				if p.TotalCount != 35 {
					t.Fatalf("page %d: total %d", pages, p.TotalCount)
				}
				for _, e := range p.Edges {
					if seen[e.Node.ID] {
						t.Fatalf("%s twice", e.Node.Code)
					}
					seen[e.Node.ID] = true
				}
				if !p.PageInfo.HasNextPage {
					break
				}
				in.After = p.PageInfo.EndCursor
			}
			if len(seen) != 35 {
				t.Fatalf("saw %d codes", len(seen))
			}
		})
		t.Run("errors", func(t *testing.T) {
			zero, big := 0, licenses.MaxPage+1
			for _, in := range []licenses.CodeQuery{{State: "LOST"}, {First: &zero}, {First: &big}, {Q: strings.Repeat("q", 255)}} {
				_, err := w.svc.ListCodes(ctx, w.app.ID, in)
				wantErr(t, err, "invalid_request")
			}
			_, err := w.svc.ListCodes(as(w.rival), w.app.ID, licenses.CodeQuery{})
			wantErr(t, err, "not_found")
		})
	})
}

func TestDeleteCode(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		v := w.variant(t, "Pro", "")
		codes := w.codes(t, v, 2)
		ann := w.person(t, "ann")
		w.connect(t, ann, w.app)
		used := must[*ent.LicenseCode](t)(w.svc.Redeem(as(ann), w.app.ID, codes[0]))
		unused := must[*ent.LicenseCode](t)(db.LicenseCode.Query().Where(licensecode.Code(codes[1])).Only(context.Background()))
		ctx := as(w.dev)
		wantErr(t, w.svc.DeleteCode(ctx, w.app.ID, used.ID), "code_not_unused")
		wantErr(t, w.svc.DeleteCode(as(w.rival), w.app.ID, unused.ID), "not_found")
		wantErr(t, w.svc.DeleteCode(ctx, w.app.ID, "lic_nope"), "not_found")
		if err := w.svc.DeleteCode(ctx, w.app.ID, unused.ID); err != nil {
			t.Fatal(err)
		}
		wantErr(t, w.svc.DeleteCode(ctx, w.app.ID, unused.ID), "not_found")
	})
}

// TestConnectionDeleteEndsLicenses: deleting a connection (connections.Delete) expires and
// unlinks what it held, so the code can never be redeemed again and nobody holds it.
func TestConnectionDeleteEndsLicenses(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		v := w.variant(t, "Pro", "LIFETIME")
		code := w.codes(t, v, 1)[0]
		ann := w.person(t, "ann")
		conn := w.connect(t, ann, w.app)
		c := must[*ent.LicenseCode](t)(w.svc.Redeem(as(ann), w.app.ID, code))
		synced := must[*licenses.StatusResult](t)(w.svc.SyncStatus(asClient(w.app), w.app.ID, ann.GlobalID, licenses.StatusInput{Status: "PREMIUM"}))
		ctx := context.Background()
		err := db.Tx(ctx, func(tx *ent.Tx) error {
			full, err := tx.AppConnection.Query().Where(appconnection.ID(conn.ID)).WithApplication().WithUser().Only(ctx)
			if err != nil {
				return err
			}
			if full.ID != conn.ID {
				t.Fatalf("loaded %s", full.ID)
			}
			return connections.Delete(ctx, tx, full, connections.DeletedByDeveloper, w.clock.Now())
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{c.ID, synced.License.ID} {
			got := must[*ent.LicenseCode](t)(db.LicenseCode.Get(ctx, id))
			if got.State != licensecode.StateEXPIRED || got.LinkedConnectionID != nil || !got.ExpiresAt.Equal(w.clock.Now()) {
				t.Fatalf("after the connection ended: %+v", got)
			}
		}
		// Reconnecting does not bring the code back; it stays spent.
		w.connect(t, ann, w.app)
		_, err = w.svc.Redeem(as(ann), w.app.ID, code)
		wantErr(t, err, "code_expired")
		_, subs, err := w.svc.Subscriptions(as(ann), w.app.ID)
		if err != nil || len(subs) != 0 {
			t.Fatalf("new connection's subscriptions = %v, %v", subs, err)
		}
	})
}
