package webm

import "testing"

func BenchmarkReader(b *testing.B) {
	fx := loadFixture(b, "vp8-opus-250ms-kf2s")
	for _, bc := range []struct {
		name   string
		blocks bool
	}{
		{name: "blocks=off", blocks: false},
		{name: "blocks=on", blocks: true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(fx.Full)))
			b.ReportAllocs()
			evs := make([]Event, 0, 256)
			for b.Loop() {
				r := NewReader(Limits{})
				r.Blocks = bc.blocks
				for _, c := range fx.Chunks {
					var err error
					if evs, err = r.Feed(evs[:0], c); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
