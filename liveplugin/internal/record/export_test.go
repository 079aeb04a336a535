package record

// BreakFile closes w's media file behind its back, so that the next write to
// the OS fails.
func BreakFile(w *Writer) error { return w.f.Close() }
