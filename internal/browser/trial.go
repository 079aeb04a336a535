package browser

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// Trial is the outcome of Try: whether the body failed or skipped, and
// what it said when it did.
type Trial struct {
	Failed  bool
	Skipped bool
	// Errors are the messages of the body's Error, Errorf, Fatal and
	// Fatalf calls, in order; SkipReason that of its Skip.
	Errors     []string
	SkipReason string
}

// String lists the trial's errors, one to a line.
func (r Trial) String() string { return strings.Join(r.Errors, "\n") }

// Report makes tb fail with the trial's errors, or skip with its reason,
// as if the body had run on tb itself.
func (r Trial) Report(tb testing.TB) {
	tb.Helper()
	for _, msg := range r.Errors {
		tb.Error(msg)
	}
	switch {
	case r.Failed && len(r.Errors) == 0:
		tb.Fail()
	case !r.Failed && r.Skipped:
		tb.Skip(r.SkipReason)
	}
}

// Try runs body with a testing.TB that stands for tb but keeps its
// failures instead of reporting them: the caller decides, from the Trial
// and what it knows of the cause, whether to report them (Trial.Report)
// or to run body again. It is for the one failure a test may retry: a
// browser that stopped answering its driver (Browser.Wedged), which says
// nothing of the page it was showing.
//
// The body's logs go to tb at once. Its cleanups run, last registered
// first, when it returns (after a Fatal or Skip too), and its Context is
// canceled just before them. Like tb's, its FailNow, Fatal and Skip must
// be called from the goroutine running body; Try runs body on a goroutine
// of its own and waits for it.
func Try(tb testing.TB, body func(testing.TB)) Trial {
	tb.Helper()
	ctx, cancel := context.WithCancel(tb.Context())
	tr := &trialTB{TB: tb, ctx: ctx}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer tr.cleanup(cancel)
		body(tr)
	}()
	<-done
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.res
}

// trialTB is the testing.TB of Try's body. The embedded TB serves what it
// does not override: logging, Helper, Name, TempDir and the like.
type trialTB struct {
	testing.TB
	ctx context.Context

	mu       sync.Mutex
	res      Trial
	cleanups []func()
}

func (tr *trialTB) fail(msg string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.res.Failed = true
	if msg != "" {
		tr.res.Errors = append(tr.res.Errors, msg)
	}
}

func (tr *trialTB) Error(args ...any) { tr.fail(strings.TrimSuffix(fmt.Sprintln(args...), "\n")) }
func (tr *trialTB) Errorf(format string, args ...any) {
	tr.fail(fmt.Sprintf(format, args...))
}
func (tr *trialTB) Fail()             { tr.fail("") }
func (tr *trialTB) FailNow()          { tr.fail(""); runtime.Goexit() }
func (tr *trialTB) Fatal(args ...any) { tr.Error(args...); runtime.Goexit() }
func (tr *trialTB) Fatalf(format string, args ...any) {
	tr.Errorf(format, args...)
	runtime.Goexit()
}

func (tr *trialTB) Failed() bool {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.res.Failed
}

func (tr *trialTB) skip(msg string) {
	tr.mu.Lock()
	tr.res.Skipped = true
	tr.res.SkipReason = msg
	tr.mu.Unlock()
	runtime.Goexit()
}

func (tr *trialTB) Skip(args ...any) { tr.skip(strings.TrimSuffix(fmt.Sprintln(args...), "\n")) }
func (tr *trialTB) Skipf(format string, args ...any) {
	tr.skip(fmt.Sprintf(format, args...))
}
func (tr *trialTB) SkipNow() { tr.skip("") }

func (tr *trialTB) Skipped() bool {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.res.Skipped
}

func (tr *trialTB) Cleanup(f func()) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.cleanups = append(tr.cleanups, f)
}

func (tr *trialTB) Context() context.Context { return tr.ctx }

// cleanup cancels the context, then runs the cleanups, the last
// registered first, each even when one before it calls FailNow.
func (tr *trialTB) cleanup(cancel context.CancelFunc) {
	cancel()
	for {
		tr.mu.Lock()
		n := len(tr.cleanups)
		if n == 0 {
			tr.mu.Unlock()
			return
		}
		f := tr.cleanups[n-1]
		tr.cleanups = tr.cleanups[:n-1]
		tr.mu.Unlock()
		tr.runCleanup(f)
	}
}

// runCleanup runs f on a goroutine of its own, so that a FailNow in it
// ends f alone.
func (tr *trialTB) runCleanup(f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	<-done
}

// CleanupOn returns a testing.TB that stands for tb but registers its
// cleanups on owner: for a browser that a subtest starts in place of a
// wedged one, which the subtests after it use and owner's end must close.
func CleanupOn(tb, owner testing.TB) testing.TB { return cleanupOn{tb, owner} }

type cleanupOn struct {
	testing.TB
	owner testing.TB
}

func (c cleanupOn) Cleanup(f func()) { c.owner.Cleanup(f) }

// Retry runs body on *b in a Try. When body failed and the browser is
// wedged (Browser.Wedged), or broken, where not nil, finds the trial's
// failure to be the browser's rather than the page's, Retry logs why,
// closes *b, starts another browser of its engine whose cleanups run at
// owner's end (CleanupOn), stores it in *b for the tests after this one,
// and runs body once more on it, on tb. Otherwise it reports the trial on
// tb (Trial.Report).
func Retry(tb, owner testing.TB, b *Browser, broken func(Trial) error, body func(testing.TB, Browser)) {
	tb.Helper()
	first := *b
	tr := Try(tb, func(tb testing.TB) { body(tb, first) })
	why := first.Wedged()
	if why == nil && tr.Failed && broken != nil {
		why = broken(tr)
	}
	if !tr.Failed || why == nil {
		tr.Report(tb)
		return
	}
	tb.Logf("%v; the first attempt failed with:\n%s\nrunning it again on a new browser", why, tr)
	if err := first.Close(); err != nil {
		tb.Logf("closing the wedged browser: %v", err)
	}
	*b = Start(CleanupOn(tb, owner), first.Engine())
	body(tb, *b)
}
