package mp4_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/amlive/amlive/liveplugin/internal/mp4"
)

func Example() {
	// The chunks Chromium's MediaRecorder handed over for
	// video/mp4;codecs=avc1,opus: ftyp and moov, then whole fragments.
	dir := filepath.Join("..", "..", "..", "internal", "fixture", "testdata", "mp4-avc1-opus-250ms-kf2s")
	r := mp4.NewReader(mp4.Limits{})
	var events []mp4.Event
	for i := 0; ; i++ {
		chunk, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("chunk-%04d.bin", i)))
		if err != nil {
			break
		}
		// Feed may rewrite bytes of chunk (the Opus repair): pass the
		// chunk on after Feed returns.
		if events, err = r.Feed(events, chunk); err != nil {
			fmt.Println(err)
			return
		}
	}
	for _, ev := range events {
		if ev.Kind != mp4.KindSample {
			fmt.Println(ev.Kind, ev.Offset, ev.Timecode)
		}
	}
	fmt.Println(r.MIMEType(), len(r.Init()), r.Playable())
	fmt.Println("repaired", r.Repairs(), "missed", r.MissedRepairs())
	// Output:
	// init 1222 0s
	// fragment 1222 0s
	// sync 1222 0s
	// fragment 48989 2.00525s
	// sync 48989 2.00525s
	// fragment 104137 4.0054s
	// sync 104137 4.0054s
	// fragment 160676 6.00565s
	// sync 160676 6.00565s
	// fragment 218696 8.0556s
	// sync 218696 8.0556s
	// fragment 277697 10.1057s
	// sync 277697 10.1057s
	// video/mp4; codecs="avc1.42C01F,opus" 1222 <nil>
	// repaired 6 missed 0
}
