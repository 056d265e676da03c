package authpages

import (
	"errors"

	"loginsign/internal/apperr"
	"loginsign/internal/oauth"
)

func asOAuth(err error, e **oauth.Error) bool { return errors.As(err, e) }
func asApp(err error, e **apperr.Error) bool  { return errors.As(err, e) }
