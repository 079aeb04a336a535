package hub

import (
	"testing"
	"time"
)

func TestSetPublisherLost(t *testing.T) {
	h := newHub(Config{})
	b, err := h.Start("room", "b1", time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	b.SetInit("video/webm", []byte("I"))
	b.Write([]byte{1}, []int64{0})
	early, err := h.Subscribe("room")
	if err != nil {
		t.Fatal(err)
	}
	defer early.Close()

	b.SetPublisherLost(true)
	b.SetPublisherLost(true) // no change: no second event
	if !b.Info().PublisherLost {
		t.Error("Info().PublisherLost = false while lost")
	}
	late, err := h.Subscribe("room") // joins while the publisher is away
	if err != nil {
		t.Fatal(err)
	}
	defer late.Close()
	b.SetPublisherLost(false)
	b.Write([]byte{2}, nil)
	b.End("")

	// Viewer counts are coalesced: both read after the late one joined.
	wantEarly := []string{"hello", "viewers:2", "init", "01", "reconnecting", "resumed", "02", "end", "ERR EOF"}
	if got := describe(drain(t, early)); !equal(got, wantEarly) {
		t.Errorf("early viewer got %q; want %q", got, wantEarly)
	}
	wantLate := []string{"hello", "viewers:2", "init", "01", "reconnecting", "resumed", "02", "end", "ERR EOF"}
	if got := describe(drain(t, late)); !equal(got, wantLate) {
		t.Errorf("late joiner got %q; want %q", got, wantLate)
	}
	b.SetPublisherLost(true) // after End: nothing
	if b.Info().PublisherLost {
		t.Error("Info().PublisherLost = true after End")
	}
}
