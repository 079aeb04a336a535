package liveplugin

import (
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/amlive/amlive/liveplugin/internal/webm"
)

// TestEndedWhy checks EndedEvent.Why for each way a broadcast ends.
func TestEndedWhy(t *testing.T) {
	tests := []struct {
		name string
		give error
		want string
	}{
		{name: "publisher's end", give: errEnd, want: EndedByPublisher},
		{name: "publisher closed", give: websocket.CloseError{Code: websocket.StatusNormalClosure}, want: EndedByPublisher},
		{name: "site", give: fmt.Errorf("%w: %w", errStopped, &endedBySiteError{reason: "x"}), want: EndedBySite},
		{name: "site while lost", give: &endedBySiteError{}, want: EndedBySite},
		{name: "lost", give: errLost, want: EndedLost},
		{name: "idle", give: fmt.Errorf("%w: %w", errStopped, errIdle), want: EndedIdle},
		{name: "too long", give: fmt.Errorf("%w: %w", errStopped, errTooLong), want: EndedLimit},
		{name: "bitrate", give: &limitError{Name: "MaxBitrate", Max: 1}, want: EndedLimit},
		{name: "shutdown", give: fmt.Errorf("%w: %w", errStopped, ErrClosed), want: EndedShutdown},
		{name: "fenced", give: errFenced, want: EndedFenced},
		{name: "too large", give: &tooLargeError{max: 1}, want: EndedInvalid},
		{name: "not WebM", give: webm.ErrNotWebM, want: EndedInvalid},
		{name: "network", give: io.ErrUnexpectedEOF, want: EndedError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := endedWhy(tc.give); got != tc.want {
				t.Errorf("endedWhy(%v) = %q; want %q", tc.give, got, tc.want)
			}
		})
	}
}

// TestCleanReason checks that reasons are cut to MaxEndReason bytes at a
// character boundary and lose their control characters.
func TestCleanReason(t *testing.T) {
	tests := []struct {
		name string
		give string
		want string
	}{
		{name: "plain", give: " spam ", want: "spam"},
		{name: "control", give: "a\nb\x00c", want: "a?b?c"},
		{name: "long", give: strings.Repeat("é", MaxEndReason), want: strings.Repeat("é", MaxEndReason/2)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := cleanReason(tc.give); got != tc.want || len(got) > MaxEndReason {
				t.Errorf("cleanReason(%q) = %q; want %q", tc.give, got, tc.want)
			}
		})
	}
}
