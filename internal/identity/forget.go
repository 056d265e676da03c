package identity

import (
	"context"
	"fmt"
	"strings"

	"loginsign/ent"
	"loginsign/ent/auditevent"
	"loginsign/ent/emailchange"
	"loginsign/ent/predicate"
)

// ForgetAddresses removes, inside the transaction tx that deletes the account userID (Global
// User ID globalID), the copies of the person's addresses that the identity domain keeps apart
// from the account's own rows. Their address change requests are deleted: each holds the old
// and the new address, and no edge deletes it with the user. The audit events they caused or
// that concern them (actor userID, or target globalID) lose every address in their data but
// stay: that the account's primary address changed, when, why and at whose request remains
// worth keeping about an account that is gone, and without its addresses it names nobody.
// The caller locks (or deletes) the user row in tx first, so that an address change running at
// the same time either commits before this reads, or finds the account gone.
func ForgetAddresses(ctx context.Context, tx *ent.Tx, userID, globalID string) error {
	if _, err := tx.EmailChange.Delete().Where(emailchange.UserID(userID)).Exec(ctx); err != nil {
		return fmt.Errorf("deleting address change requests: %w", err)
	}
	// An empty id would match every event of the system (actor "") or without a target.
	var concerns []predicate.AuditEvent
	if userID != "" {
		concerns = append(concerns, auditevent.ActorID(userID))
	}
	if globalID != "" {
		concerns = append(concerns, auditevent.Target(globalID))
	}
	if len(concerns) == 0 {
		return nil
	}
	events, err := tx.AuditEvent.Query().Where(auditevent.Or(concerns...)).All(ctx)
	if err != nil {
		return fmt.Errorf("reading audit events: %w", err)
	}
	for _, ev := range events {
		data, changed := withoutAddresses(ev.Data)
		if !changed {
			continue
		}
		if err := tx.AuditEvent.UpdateOne(ev).SetData(data.(map[string]any)).Exec(ctx); err != nil {
			return fmt.Errorf("removing addresses from audit event %s: %w", ev.ID, err)
		}
	}
	return nil
}

// withoutAddresses is the JSON value v with every string that holds an address left out (a map
// entry whose key or value is one, a list element that is one), at any depth; changed reports
// whether anything was. An address is recognised by its '@' rather than by the keys today's
// writers use (user.email_changed's "old" and "new"): audit data is free-form and written by
// several packages, and besides addresses it holds reasons, counts and ids, none with an '@',
// so an address a future writer stores under another key is removed too.
func withoutAddresses(v any) (out any, changed bool) {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			if isAddress(k) || isAddress(x) {
				changed = true
				continue
			}
			y, c := withoutAddresses(x)
			m[k], changed = y, changed || c
		}
		return m, changed
	case []any:
		l := make([]any, 0, len(v))
		for _, x := range v {
			if isAddress(x) {
				changed = true
				continue
			}
			y, c := withoutAddresses(x)
			l, changed = append(l, y), changed || c
		}
		return l, changed
	}
	return v, false
}

// isAddress reports whether v is a string that holds an address.
func isAddress(v any) bool {
	s, ok := v.(string)
	return ok && strings.Contains(s, "@")
}
