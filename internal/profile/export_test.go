package profile

// SetDecodeHooks makes s call wait when an upload starts waiting for a free decode, start when
// it has taken one (before decoding) and end when it gives it back (after scaling). A nil
// function is not called.
func SetDecodeHooks(s *Service, wait, start, end func()) {
	s.onWait, s.onDecode, s.onDecoded = wait, start, end
}
