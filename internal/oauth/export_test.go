package oauth

import (
	"context"
	"database/sql"
	"time"
)

// OnRotationConn runs f on the connection the refresh rotations keep, between their batches,
// and reports whether there was one.
func (s *Service) OnRotationConn(f func(*sql.Conn)) bool {
	ran := false
	s.rotations.q.Idle(func() {
		if s.rotations.conn != nil {
			f(s.rotations.conn)
			ran = true
		}
	})
	return ran
}

// FamilyTokensKey names the set of a family's access tokens that expire in a bucket.
var FamilyTokensKey = familyTokensKey

// TokenBucket is the bucket of an access token that expires at exp.
func (s *Service) TokenBucket(exp time.Time) int64 { return s.tokenBucket(exp) }

// OnTokenWritten runs f after each rotation's access-token write, with the family.
func (s *Service) OnTokenWritten(f func(family string)) { s.testHookTokenWritten = f }

// FamilyTokensKeys are the keys of the family's sets of access tokens that revokeFamily reads.
func (s *Service) FamilyTokensKeys(family string) []string {
	return s.familyTokensKeys(family, s.Now())
}

// SignedIn records a finished sign-in (signedIn).
func (s *Service) SignedIn(ctx context.Context, userID, flowID, browser, method string) (string, error) {
	return s.signedIn(ctx, userID, flowID, browser, method)
}
