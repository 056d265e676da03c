package identity

import "context"

// EmailChangeCancelLanguage is the language setting ("" when none) of the account a pending
// email change's cancel link is for, so its page speaks the person's language: the link went to
// the account's primary address and identifies it. "" for a link that is not (or no longer)
// pending. (The confirm link went to the new, unproven address: its page does not use it.)
func (s *Service) EmailChangeCancelLanguage(ctx context.Context, raw string) string {
	ec, err := s.pendingChange(ctx, raw, true)
	if err != nil {
		return ""
	}
	u, err := s.DB.User.Get(ctx, ec.UserID)
	if err != nil {
		return ""
	}
	return u.Language
}
