package identity_test

import (
	"context"
	"strings"
	"testing"

	"loginsign/internal/identity"
	"loginsign/internal/store"
	"loginsign/internal/store/storetest"
)

// TestAProposalFromAnApplicationWithALongNameIsKept: an application's name is at most 200
// characters (600 bytes in CJK), and a proposal keeps a copy of it; the copy was limited to
// 200 bytes, so such an application's email-change proposal failed as an internal error.
func TestAProposalFromAnApplicationWithALongNameIsKept(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, db *store.DB) {
		e := newChangeEnv(t, db)
		ctx := context.Background()
		pat, dev := e.person(t), e.person(t)
		name := strings.Repeat("店", 200)
		app := db.Application.Create().SetOwnerID(dev).SetName(name).SetSecretHash("h").SaveX(ctx)
		conn := db.AppConnection.Create().SetUserID(pat).SetApplicationID(app.ID).SetAliasEmail("shop@relay.example.com").SaveX(ctx)
		if _, err := e.s.RequestEmailChange(ctx, pat, "new-mailbox@example.com",
			identity.EmailChangeRequester{ApplicationID: app.ID, ApplicationName: name, ConnectionID: conn.ID}); err != nil {
			t.Fatalf("a proposal from an application named with 200 characters (%d bytes): %v, want it kept", len(name), err)
		}
	})
}
