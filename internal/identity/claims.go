package identity

import (
	"context"
	"fmt"
	"time"

	"loginsign/ent"
	"loginsign/ent/addressclaim"
	"loginsign/ent/user"
	"loginsign/ent/useremail"
	"loginsign/internal/apperr"
	"loginsign/internal/store"
)

// errAddressTaken is the Conflict of an address another account holds. Only the person sees
// it (adding or confirming an address of their own); developer routes never reach it.
func errAddressTaken() error {
	return apperr.WithReason(apperr.Conflict, "email_taken", "this address belongs to another LoginSign account")
}

// ClaimAddress gives addr (normalised) to userID inside tx: nil when the account already holds
// it or nobody did; Conflict "email_taken" when another account holds it. The unique index on
// address_claims.address decides between concurrent attempts: the loser's insert fails and
// its transaction rolls back, so two accounts never hold one address.
func ClaimAddress(ctx context.Context, tx *ent.Tx, userID, addr string, now time.Time) error {
	c, err := tx.AddressClaim.Query().Where(addressclaim.Address(addr)).Only(ctx)
	switch {
	case err == nil && c.UserID == userID:
		return nil
	case err == nil:
		return errAddressTaken()
	case !store.NotFound(err):
		return err
	}
	err = tx.AddressClaim.Create().SetAddress(addr).SetUserID(userID).SetCreatedAt(now).Exec(ctx)
	if store.Conflict(err) {
		return errAddressTaken()
	}
	if err != nil {
		return fmt.Errorf("claiming address: %w", err)
	}
	return nil
}

// ReleaseAddress gives up userID's claim on addr inside tx (an alternative address removed).
func ReleaseAddress(ctx context.Context, tx *ent.Tx, userID, addr string) error {
	if _, err := tx.AddressClaim.Delete().Where(addressclaim.Address(addr), addressclaim.UserID(userID)).Exec(ctx); err != nil {
		return fmt.Errorf("releasing address: %w", err)
	}
	return nil
}

// ReleaseAllAddresses drops every claim of userID (the account is deleted).
func ReleaseAllAddresses(ctx context.Context, tx *ent.Tx, userID string) error {
	if _, err := tx.AddressClaim.Delete().Where(addressclaim.UserID(userID)).Exec(ctx); err != nil {
		return fmt.Errorf("releasing addresses: %w", err)
	}
	return nil
}

// AccountByAddress returns the account that holds addr as its primary address or as a
// verified alternative (either signs in to it); NotFound when none does. addr is normalised.
func (s *Service) AccountByAddress(ctx context.Context, addr string) (*ent.User, error) {
	addr, err := NormalizeEmail(addr)
	if err != nil {
		return nil, err
	}
	u, err := s.DB.User.Query().Where(user.Email(addr)).Only(ctx)
	if err == nil || !store.NotFound(err) {
		return u, store.Err(err, "user")
	}
	ue, err := s.DB.UserEmail.Query().Where(useremail.Email(addr), useremail.VerifiedAtNotNil()).
		WithUser().First(ctx)
	if err != nil {
		return nil, store.Err(err, "user")
	}
	return ue.Edges.User, nil
}

// HoldsAddress reports whether addr is u's primary address or one of its verified
// alternatives.
func (s *Service) HoldsAddress(ctx context.Context, u *ent.User, addr string) (bool, error) {
	if u.Email == addr {
		return true, nil
	}
	return s.DB.UserEmail.Query().Where(useremail.UserID(u.ID), useremail.Email(addr), useremail.VerifiedAtNotNil()).Exist(ctx)
}

// VerifiedAddresses are u's primary address followed by its verified alternatives.
func (s *Service) VerifiedAddresses(ctx context.Context, u *ent.User) ([]string, error) {
	return VerifiedAddressesOf(ctx, s.DB.Client, u)
}

// VerifiedAddressesOf is VerifiedAddresses read through c (a transaction's client).
func VerifiedAddressesOf(ctx context.Context, c *ent.Client, u *ent.User) ([]string, error) {
	alts, err := c.UserEmail.Query().Where(useremail.UserID(u.ID), useremail.VerifiedAtNotNil()).
		Order(ent.Asc(useremail.FieldEmail)).All(ctx)
	if err != nil {
		return nil, err
	}
	out := []string{u.Email}
	for _, a := range alts {
		if a.Email != u.Email {
			out = append(out, a.Email)
		}
	}
	return out, nil
}
