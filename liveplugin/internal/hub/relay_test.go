package hub

import (
	"testing"
	"time"
)

func TestRelayStartsMidStream(t *testing.T) {
	h := newHub(Config{})
	b, _ := h.Start("r", "b", time.Now())
	b.SetInit("video/webm", []byte("I"))
	b.SetOffset(100)
	if got := b.Offset(); got != 100 {
		t.Errorf("Offset() after SetOffset(100) = %d; want 100", got)
	}
	if _, _, ok := b.GOP(); ok {
		t.Error("GOP() ok before any join point")
	}
	b.Write([]byte{1, 1}, []int64{100})
	b.SetOffset(5) // no effect after the first Write
	b.Write([]byte{2}, nil)
	if got := b.Offset(); got != 103 {
		t.Errorf("Offset() = %d; want 103", got)
	}
	start, chunks, ok := b.GOP()
	if !ok || start != 100 || len(chunks) != 2 || string(chunks[0]) != "\x01\x01" || string(chunks[1]) != "\x02" {
		t.Errorf("GOP() = %d, %x, %v; want 100, [0101 02], true", start, chunks, ok)
	}
	s, _ := h.Subscribe("r")
	defer s.Close()
	if got, want := describe(drain(t, s)), []string{"hello", "viewers:1", "init", "0101", "02"}; !equal(got, want) {
		t.Errorf("joiner got %q; want %q", got, want)
	}
}

func TestGapSkipsToTheNextJoinPoint(t *testing.T) {
	tests := []struct {
		name string
		read bool // the subscriber read hello before the gap
		want []string
	}{
		{name: "after hello", read: true, want: []string{"skip", "init", "05", "06"}},
		{name: "before hello", want: []string{"hello", "viewers:1", "init", "05", "06"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHub(Config{})
			b, _ := h.Start("r", "b", time.Now())
			b.SetInit("video/webm", []byte("I"))
			s, _ := h.Subscribe("r")
			defer s.Close()
			b.Write([]byte{1}, []int64{0})
			if tc.read {
				if got, want := describe(drain(t, s)), []string{"hello", "viewers:1", "init", "01"}; !equal(got, want) {
					t.Fatalf("before the gap got %q; want %q", got, want)
				}
			}
			b.Gap(10) // bytes 1-9 lost
			if _, _, ok := b.GOP(); ok {
				t.Error("GOP() ok after a gap")
			}
			b.Write([]byte{4}, nil) // no join point: not delivered
			b.Write([]byte{5}, []int64{11})
			b.Write([]byte{6}, nil)
			if got := b.Offset(); got != 13 {
				t.Errorf("Offset() = %d; want 13", got)
			}
			if got := describe(drain(t, s)); !equal(got, tc.want) {
				t.Errorf("after the gap got %q; want %q", got, tc.want)
			}
			if n := s.Skips(); n != 0 {
				t.Errorf("Skips() = %d; a gap must not count", n)
			}
		})
	}
}

func TestOtherViewersAddUp(t *testing.T) {
	h := newHub(Config{})
	b, _ := h.Start("r", "b", time.Now())
	s, _ := h.Subscribe("r")
	defer s.Close()
	<-b.ViewersChanged()
	b.SetOtherViewers(4)
	select {
	case <-b.ViewersChanged():
	default:
		t.Error("no ViewersChanged after SetOtherViewers")
	}
	if got, local, info := b.Viewers(), b.LocalViewers(), b.Info().Viewers; got != 5 || local != 1 || info != 5 {
		t.Errorf("Viewers, LocalViewers, Info().Viewers = %d, %d, %d; want 5, 1, 5", got, local, info)
	}
	b.SetOtherViewers(-3)
	if got := b.Viewers(); got != 1 {
		t.Errorf("Viewers() after SetOtherViewers(-3) = %d; want 1", got)
	}
}
