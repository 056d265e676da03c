package oauth

import (
	"context"
	"errors"
	"strconv"

	"loginsign/internal/ids"
)

// RotateAsOneBatch writes the rotations of the refresh tokens raws (of the one-row-per-family
// layout), each to a successor of its own, as one batch of the rotations' queue: what the
// batch's leader commits (commitBatch), between the queue's batches. It returns each
// rotation's outcome, in the order of raws.
func (s *Service) RotateAsOneBatch(ctx context.Context, raws ...string) []error {
	now := s.Now()
	batch := make([]*rotationWrite, len(raws))
	for i, raw := range raws {
		ref, _ := parseRefreshToken(raw)
		batch[i] = &rotationWrite{id: ref.rowID, gen: ref.gen, hash: ids.Hash(raw), to: ref.gen + 1,
			next: ids.Hash(raw + "." + strconv.Itoa(i)), now: now}
	}
	s.rotations.q.Idle(func() {
		s.commitBatch(ctx, &s.rotations, batch)
		s.rotations.putConn()
	})
	errs := make([]error, len(batch))
	for i, w := range batch {
		errs[i] = w.err
	}
	return errs
}

// IsRaced reports whether err is a rotation's that lost a race for its token (errRaced).
func IsRaced(err error) bool { return errors.Is(err, errRaced) }

// RotateAlone writes the rotation of the refresh token raw (of the one-row-per-family
// layout) to a successor of its own through the rotations' queue, as a refresh does, and
// returns its outcome.
func (s *Service) RotateAlone(ctx context.Context, raw string) error {
	ref, _ := parseRefreshToken(raw)
	return s.writeRotation(ctx, &rotationWrite{id: ref.rowID, gen: ref.gen, hash: ids.Hash(raw), to: ref.gen + 1,
		next: ids.Hash(raw + ".alone"), now: s.Now()})
}
