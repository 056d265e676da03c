package oauth

import "database/sql"

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
