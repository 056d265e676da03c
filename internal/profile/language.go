package profile

import (
	"context"
	"strings"

	"loginsign/internal/apperr"
	"loginsign/internal/auth"
	"loginsign/internal/i18n"
	"loginsign/internal/store"
)

// Language is userID's chosen language ("" for automatic), to the signed-in person userID
// only: anyone else gets NotFound.
func (s *Service) Language(ctx context.Context, userID string) (string, error) {
	uid, err := auth.RequireUser(ctx)
	if err != nil {
		return "", err
	}
	if uid != userID {
		return "", apperr.New(apperr.NotFound, "user not found")
	}
	u, err := s.DB.User.Get(ctx, uid)
	if err != nil {
		return "", store.Err(err, "user")
	}
	return u.Language, nil
}

// ParseLanguage checks a language setting: one of i18n.Supported's tags (any case, trimmed),
// or "" for automatic. Anything else is invalid_language.
func ParseLanguage(tag string) (string, error) {
	tag = strings.ToLower(strings.TrimSpace(tag))
	if tag == "" {
		return "", nil
	}
	for _, t := range i18n.Supported {
		if t.String() == tag {
			return tag, nil
		}
	}
	return "", apperr.WithReason(apperr.Invalid, "invalid_language", "the language must be one of %s, or empty for automatic", i18n.SupportedList())
}

// SetLanguage sets the signed-in person's language (see ParseLanguage) and returns it.
func (s *Service) SetLanguage(ctx context.Context, tag string) (string, error) {
	uid, err := auth.RequireUser(ctx)
	if err != nil {
		return "", err
	}
	if tag, err = ParseLanguage(tag); err != nil {
		return "", err
	}
	up := s.DB.User.UpdateOneID(uid).SetUpdatedAt(s.Now())
	if tag == "" {
		up.ClearLanguage()
	} else {
		up.SetLanguage(tag)
	}
	if err := up.Exec(ctx); err != nil {
		return "", store.Err(err, "user")
	}
	return tag, nil
}
