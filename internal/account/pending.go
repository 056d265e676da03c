package account

import (
	"context"
	"time"

	"loginsign/ent"
	"loginsign/ent/application"
	"loginsign/ent/pendinglink"
	"loginsign/internal/activity"
	"loginsign/internal/apperr"
	"loginsign/internal/auth"
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
// person's verified addresses, neither accepted nor refused), newest first. userID must be
// the signed-in person: anyone else gets NotFound.
func (s *Service) PendingLinks(ctx context.Context, userID string) ([]PendingLink, error) {
	uid, err := auth.RequireUser(ctx)
	if err != nil {
		return nil, err
	}
	if uid != userID {
		return nil, apperr.New(apperr.NotFound, "user not found")
	}
	u, err := s.DB.User.Get(ctx, uid)
	if err != nil {
		return nil, store.Err(err, "user")
	}
	addrs, err := s.Identity.VerifiedAddresses(ctx, u)
	if err != nil {
		return nil, err
	}
	links, err := s.DB.PendingLink.Query().Where(pendinglink.EmailIn(addrs...), pendinglink.RefusedAtIsNil()).
		Order(ent.Desc(pendinglink.FieldUpdatedAt)).Limit(MaxPendingLinks).All(ctx)
	if err != nil {
		return nil, err
	}
	appIDs := make([]string, 0, len(links))
	for _, l := range links {
		appIDs = append(appIDs, l.ApplicationID)
	}
	apps, err := s.DB.Application.Query().Where(application.IDIn(appIDs...)).All(ctx)
	if err != nil {
		return nil, err
	}
	byID := map[string]*ent.Application{}
	for _, a := range apps {
		byID[a.ID] = a
	}
	out := make([]PendingLink, 0, len(links))
	for _, l := range links {
		a := byID[l.ApplicationID]
		if a == nil {
			continue
		}
		out = append(out, PendingLink{ID: l.ID, ApplicationID: a.ID, ApplicationName: a.Name,
			ExternalUserID: l.ExternalUserID, Email: l.Email, ProposedAt: l.UpdatedAt})
	}
	return out, nil
}

// RefusePendingLink refuses one of the signed-in person's open pending links: it stays
// stored as refused, so the application's later imports of the address cannot revive it,
// and it never becomes a connection. A link that is not the person's answers NotFound.
func (s *Service) RefusePendingLink(ctx context.Context, id string) error {
	uid, err := auth.RequireUser(ctx)
	if err != nil {
		return err
	}
	u, err := s.DB.User.Get(ctx, uid)
	if err != nil {
		return store.Err(err, "user")
	}
	addrs, err := s.Identity.VerifiedAddresses(ctx, u)
	if err != nil {
		return err
	}
	return s.DB.Tx(ctx, func(tx *ent.Tx) error {
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
