package account_test

import (
	"context"
	"testing"

	"loginsign/internal/store/storetest"
)

// TestAnAddedAddressReadsItsPerson (review helper gql15, checks15): the address
// AddAlternativeEmail answers was written in its transaction, and its edges were read through
// it after it committed: GraphQL's addEmail { email { user { id } } } answered an internal
// error. The address now reads its person.
func TestAnAddedAddressReadsItsPerson(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLite(t))
	ue, err := e.svc.AddAlternativeEmail(as(e.person), "second@example.org", "")
	if err != nil {
		t.Fatal(err)
	}
	u, err := ue.QueryUser().Only(context.Background())
	if err != nil {
		t.Fatalf("the added address's person: %v", err)
	}
	if u.ID != e.person.ID {
		t.Errorf("the added address's person is %s, want %s", u.ID, e.person.ID)
	}
}

// TestAVerifiedAddressReadsItsPerson (review helper gql15, checks15): as AddAlternativeEmail's,
// the address VerifyAlternativeEmail answers was read in its transaction: verifyEmail {
// email { user } } read the person through the committed transaction.
func TestAVerifiedAddressReadsItsPerson(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.SQLite(t))
	before := e.smtp.Count()
	if _, err := e.svc.AddAlternativeEmail(as(e.person), "second@example.org", ""); err != nil {
		t.Fatal(err)
	}
	msgs := e.smtp.Wait(t, before+1)
	tok := linkRE.FindStringSubmatch(msgs[len(msgs)-1].Text)
	if tok == nil {
		t.Fatal("no verification link")
	}
	ue, err := e.svc.VerifyAlternativeEmail(as(e.person), tok[1])
	if err != nil {
		t.Fatal(err)
	}
	u, err := ue.QueryUser().Only(context.Background())
	if err != nil {
		t.Fatalf("the verified address's person: %v", err)
	}
	if u.ID != e.person.ID {
		t.Errorf("the verified address's person is %s, want %s", u.ID, e.person.ID)
	}
}
