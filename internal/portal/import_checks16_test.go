package portal_test

import (
	"context"
	"testing"

	"loginsign/ent/importrow"
	"loginsign/ent/pendinglink"
	"loginsign/internal/portal"
)

// TestAnImportedIdCannotCarryASentenceIntoLoginSignsPages: a pending link's externalUserId is
// shown by LoginSign, inside its own sentences, on the dashboard and the consent page of
// whoever holds the imported address ("Knows you@… as its user …"), a person who never used
// the application. An id that is a sentence ("Your LoginSign account is locked, call …") or
// that spells LoginSign is an invalid row and proposes nothing; ordinary ids, addresses used
// as ids among them, are imported. Before, every row below was imported as sent.
func TestAnImportedIdCannotCarryASentenceIntoLoginSignsPages(t *testing.T) {
	forPortalBackends(t, func(t *testing.T, e *portalEnv) {
		ctx := context.Background()
		refused := []portal.ImportUser{
			{ExternalUserID: "Your LoginSign account is locked, call +1 555 0100 to keep it", Email: "r1@example.com"},
			{ExternalUserID: "ACCOUNT SUSPENDED - call support at +1 555 0100", Email: "r2@example.com"},
			{ExternalUserID: "locked\u00a0call\u00a0+15550100", Email: "r3@example.com"}, // no-break spaces
			{ExternalUserID: "locked\u3000call\u3000+15550100", Email: "r4@example.com"}, // ideographic space
			{ExternalUserID: "LoginSign-Security-Team", Email: "r5@example.com"},         // the brand
			{ExternalUserID: "Login_S1gn-support-desk", Email: "r6@example.com"},         // spelled with a digit
			{ExternalUserID: "ＬｏｇｉｎＳｉｇｎ-verify", Email: "r7@example.com"},                // fullwidth
		}
		accepted := []portal.ImportUser{
			{ExternalUserID: "u-10042", Email: "a1@example.com"},
			{ExternalUserID: "ann@crm.example", Email: "a2@example.com"},
			{ExternalUserID: "6f1c2a9e-3b7d-4c55-9a0e-2d1f0b8c7e41", Email: "a3@example.com"},
			{ExternalUserID: "  CUST_000017  ", Email: "a4@example.com"}, // trimmed
		}
		dev := e.developer(t)
		res, err := e.svc.Import(dev, e.app(t, dev).ID, portal.ImportRequest{Users: append(append([]portal.ImportUser{}, refused...), accepted...), SourceName: "CRM"})
		if err != nil {
			t.Fatalf("import: %v", err)
		}
		if n := res.Source.Counts[portal.ImportInvalidRow]; n != len(refused) {
			t.Errorf("counts %v, want %d invalid rows", res.Source.Counts, len(refused))
		}
		if n := res.Source.Counts[portal.ImportImported]; n != len(accepted) {
			t.Errorf("counts %v, want %d imported rows", res.Source.Counts, len(accepted))
		}
		for _, u := range refused {
			if n, _ := e.db.PendingLink.Query().Where(pendinglink.Email(u.Email)).Count(ctx); n != 0 {
				t.Errorf("id %q was proposed to %s: its dashboard would show it as LoginSign's text", u.ExternalUserID, u.Email)
			}
		}
		rows, err := e.db.ImportRow.Query().Where(importrow.SourceID(res.Source.ID), importrow.StatusEQ(importrow.StatusInvalidRow)).All(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if r.Message == "" {
				t.Errorf("row %d is invalid without a message", r.Row)
			}
		}
	})
}
