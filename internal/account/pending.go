package account

import (
	"context"
	"fmt"
	"slices"
	"time"

	"loginsign/ent"
	"loginsign/ent/application"
	"loginsign/ent/importsource"
	"loginsign/ent/pendinglink"
	"loginsign/internal/activity"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/identity"
	"loginsign/internal/store"
)

// PendingLink is an application's open proposal to link the signed-in person, as their
// dashboard shows it. It carries no URL the developer chose (the application's icon, website,
// terms): a browser fetching one before the person agreed would tell the developer that the
// imported address has an account, and from where.
type PendingLink struct {
	ID                             string
	ApplicationID, ApplicationName string
	ExternalUserID, Email          string
	ProposedAt                     time.Time
}

// MaxPendingLinks bounds the list a person sees.
const MaxPendingLinks = 100

// PendingLinks lists the open pending links (imports that named one of the signed-in
// person's verified addresses, neither accepted nor refused), newest first, at most
// MaxPendingLinks. userID must be the signed-in person: anyone else gets NotFound.
func (s *Service) PendingLinks(ctx context.Context, userID string) ([]PendingLink, error) {
	links, _, err := s.PendingLinksUpTo(ctx, userID, MaxPendingLinks)
	return links, err
}

// PendingLinksUpTo is PendingLinks up to limit links, and reports whether the list is whole
// (false: the person has more than limit open links, the newest of which are listed). Any
// developer may propose an address for linking, from any number of applications, so a
// person's open links have no bound of their own: a reader that must not pass a part for
// the whole (the data export) says so with complete.
func (s *Service) PendingLinksUpTo(ctx context.Context, userID string, limit int) (out []PendingLink, complete bool, err error) {
	uid, err := auth.RequireUser(ctx)
	if err != nil {
		return nil, false, err
	}
	if uid != userID {
		return nil, false, apperr.New(apperr.NotFound, "user not found")
	}
	u, err := s.DB.User.Get(ctx, uid)
	if err != nil {
		return nil, false, store.Err(err, "user")
	}
	addrs, err := s.Identity.VerifiedAddresses(ctx, u)
	if err != nil {
		return nil, false, err
	}
	links, err := s.DB.PendingLink.Query().Where(pendinglink.EmailIn(addrs...), pendinglink.RefusedAtIsNil()).
		Order(ent.Desc(pendinglink.FieldUpdatedAt), ent.Desc(pendinglink.FieldID)).Limit(limit + 1).All(ctx)
	if err != nil {
		return nil, false, err
	}
	complete = len(links) <= limit
	links = links[:min(len(links), limit)]
	byID := map[string]*ent.Application{}
	var appIDs []string
	for _, l := range links {
		if _, ok := byID[l.ApplicationID]; !ok {
			byID[l.ApplicationID] = nil
			appIDs = append(appIDs, l.ApplicationID)
		}
	}
	for batch := range slices.Chunk(appIDs, store.PurgeBatch) {
		apps, err := s.DB.Application.Query().Where(application.IDIn(batch...)).All(ctx)
		if err != nil {
			return nil, false, err
		}
		for _, a := range apps {
			byID[a.ID] = a
		}
	}
	out = make([]PendingLink, 0, len(links))
	for _, l := range links {
		a := byID[l.ApplicationID]
		if a == nil {
			continue
		}
		out = append(out, PendingLink{ID: l.ID, ApplicationID: a.ID, ApplicationName: a.Name,
			ExternalUserID: l.ExternalUserID, Email: l.Email, ProposedAt: l.UpdatedAt})
	}
	return out, complete, nil
}

// RefusePendingLink refuses one of the signed-in person's open pending links: it stays
// stored as refused, so the application's later imports of the address cannot revive it,
// and it never becomes a connection, for as long as the person holds the address (see
// forgetRefusals). A link that is not the person's, or an account closed meanwhile, answers
// NotFound. It needs a recent sign-in (auth.RequireRecentSignIn), as the removal of a connected
// app does: the refusal cannot be undone, and from an old session cookie (a thief's copy) it
// took for good the link the person's records at the application were waiting for; the
// person's next sign-in there then started them as a stranger to it.
func (s *Service) RefusePendingLink(ctx context.Context, id string) error {
	uid, err := auth.RequireRecentSignIn(ctx, s.now())
	if err != nil {
		return err
	}
	return s.DB.Tx(ctx, func(tx *ent.Tx) error {
		// The person first (held: refusals do not wait for each other), and their addresses
		// read under the hold: the closing of the account and the removal of an address lock
		// the person, so a refusal either commits before they forget it or finds the account,
		// or the address, gone. Neither leaves a refusal, or its activity event, behind.
		u, err := store.HoldUser(ctx, tx, s.DB.Dialect, uid)
		if err != nil {
			return err
		}
		addrs, err := identity.VerifiedAddressesOf(ctx, tx.Client(), u)
		if err != nil {
			return err
		}
		l, err := tx.PendingLink.Query().Where(pendinglink.ID(id), pendinglink.EmailIn(addrs...), pendinglink.RefusedAtIsNil()).Only(ctx)
		if err != nil {
			return store.Err(err, "pending link")
		}
		n, err := tx.PendingLink.Update().Where(pendinglink.ID(l.ID), pendinglink.RefusedAtIsNil()).SetRefusedAt(s.now()).Save(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			return apperr.New(apperr.NotFound, "pending link not found")
		}
		return activity.Record(ctx, tx, activity.Event{Type: activity.PendingLinkRefused, Actor: activity.ByPerson,
			UserID: uid, ApplicationID: l.ApplicationID, At: s.now()})
	})
}

// forgetRefusals makes the refused pending links to addrs open again, inside tx: an address
// whose holder refused leaves them with it (the account closed, the alternative address
// removed), and whoever holds it next decides. They are cleared, not deleted: a rollback of
// the import that proposed one counts it among its withdrawn links either way, so the
// developer does not learn that the person left. A link of a run already rolled back, or of
// one deleted since (a rolled-back run is trimmed like a spent one), kept refused only so that
// a later run cannot revive it, is deleted: the developer withdrew it, and a run rolls back
// once, so nothing counts it again. The caller holds the links' applications
// (refusedApplications), which a rollback locks first.
func forgetRefusals(ctx context.Context, tx *ent.Tx, addrs ...string) error {
	refused, err := tx.PendingLink.Query().Where(pendinglink.EmailIn(addrs...), pendinglink.RefusedAtNotNil()).All(ctx)
	if err != nil || len(refused) == 0 {
		return err
	}
	var runs []string
	for _, l := range refused {
		if l.ImportSourceID != nil {
			runs = append(runs, *l.ImportSourceID)
		}
	}
	standing, err := tx.ImportSource.Query().Where(importsource.IDIn(runs...), importsource.RolledBackAtIsNil()).IDs(ctx)
	if err != nil {
		return err
	}
	var withdrawn, open []string
	for _, l := range refused {
		if l.ImportSourceID == nil || slices.Contains(standing, *l.ImportSourceID) {
			open = append(open, l.ID)
		} else {
			withdrawn = append(withdrawn, l.ID)
		}
	}
	if _, err := tx.PendingLink.Delete().Where(pendinglink.IDIn(withdrawn...)).Exec(ctx); err != nil {
		return fmt.Errorf("deleting withdrawn links: %w", err)
	}
	if _, err := tx.PendingLink.Update().Where(pendinglink.IDIn(open...)).ClearRefusedAt().Save(ctx); err != nil {
		return fmt.Errorf("forgetting refusals: %w", err)
	}
	return nil
}

// refusedApplications returns, in tx, the applications whose pending links to addrs were
// refused: forgetRefusals writes rows of theirs.
func refusedApplications(ctx context.Context, tx *ent.Tx, addrs []string) ([]string, error) {
	return tx.PendingLink.Query().Where(pendinglink.EmailIn(addrs...), pendinglink.RefusedAtNotNil()).
		Unique(true).Select(pendinglink.FieldApplicationID).Strings(ctx)
}
