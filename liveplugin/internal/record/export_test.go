package record

// BreakFile closes w's media file behind its back, so that the next write to
// the OS fails.
func BreakFile(w *Writer) error { return w.f.Close() }

// FailSidecars makes every sidecar write of s fail with err, or succeed
// again when err is nil. Call it only while s is idle.
func FailSidecars(s *Store, err error) {
	s.metaFault = func() error { return err }
}
