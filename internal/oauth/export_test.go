package oauth

import (
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
