package liveplugin

import (
	"errors"

	"github.com/amlive/amlive/liveplugin/internal/webm"
)

// validLen returns how many bytes of a chunk of n bytes, which began at
// stream offset start, are valid WebM, given the error the reader's Feed
// returned for it: those before the element at fault, which a viewer's
// parser and the recording's sealing can take as they are. It is 0 when
// the fault lies at or before start, or err is not a syntax error.
func validLen(err error, start int64, n int) int {
	var se *webm.SyntaxError
	if !errors.As(err, &se) || se.Offset <= start {
		return 0
	}
	return int(min(se.Offset-start, int64(n)))
}
