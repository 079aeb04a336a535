package natscluster

import (
	"bytes"
	"errors"
	"slices"
	"testing"
)

func TestFramesJoinAgain(t *testing.T) {
	const mp = 4096
	room := mp - headerSize - 8*maxSyncs
	tests := []struct {
		name  string
		give  envelope
		wantN int // messages
	}{
		{name: "empty", give: envelope{kind: kindLost, seq: 7, off: 3}, wantN: 1},
		{name: "small", give: envelope{kind: kindMedia, seq: 1, off: 10, syncs: []int64{12}, payload: []byte("abc")}, wantN: 1},
		{name: "exactly one", give: envelope{kind: kindMedia, seq: 1, payload: bytes.Repeat([]byte{1}, room)}, wantN: 1},
		{name: "one more byte", give: envelope{kind: kindMedia, seq: 5, syncs: []int64{1, 2}, payload: bytes.Repeat([]byte{2}, room+1)}, wantN: 2},
		{name: "many", give: envelope{kind: kindReply, payload: bytes.Repeat([]byte("xyz"), 10*room)}, wantN: 30},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var msgs [][]byte
			var seqs []uint64
			err := frames(tc.give, mp, func(seq uint64, msg []byte) error {
				if len(msg) > mp {
					t.Errorf("message of %d bytes; max payload %d", len(msg), mp)
				}
				msgs, seqs = append(msgs, msg), append(seqs, seq)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(msgs) != tc.wantN || fragments(len(tc.give.payload), mp) != tc.wantN {
				t.Fatalf("%d messages, fragments() = %d; want %d", len(msgs), fragments(len(tc.give.payload), mp), tc.wantN)
			}
			var j joiner
			for i, m := range msgs {
				if seqs[i] != tc.give.seq+uint64(i) {
					t.Errorf("message %d seq %d; want %d", i, seqs[i], tc.give.seq+uint64(i))
				}
				f, err := parseFrame(m)
				if err != nil {
					t.Fatal(err)
				}
				e, ok := j.add(f)
				if ok != (i == len(msgs)-1) {
					t.Fatalf("joined after message %d of %d: %v", i, len(msgs), ok)
				}
				if ok && (e.kind != tc.give.kind || e.seq != tc.give.seq || e.off != tc.give.off ||
					!slices.Equal(e.syncs, tc.give.syncs) || !bytes.Equal(e.payload, tc.give.payload)) {
					t.Errorf("joined %+v; want %+v", e, tc.give)
				}
			}
		})
	}
}

func TestJoinerDropsAnInterruptedMessage(t *testing.T) {
	const mp = 4096
	var msgs [][]byte
	_ = frames(envelope{kind: kindMedia, seq: 1, payload: make([]byte, 3*mp)}, mp, func(_ uint64, m []byte) error {
		msgs = append(msgs, m)
		return nil
	})
	var j joiner
	f0, _ := parseFrame(msgs[0])
	f2, _ := parseFrame(msgs[2])
	j.add(f0)
	if _, ok := j.add(f2); ok || j.pending() {
		t.Errorf("a message missing its middle joined (%v) or stayed pending (%v)", ok, j.pending())
	}
}

func TestParseFrameRefusesGarbage(t *testing.T) {
	good := make([]byte, headerSize)
	good[0], good[1], good[21] = envVersion, byte(kindMedia), 1
	tests := []struct {
		name string
		give []byte
		ok   bool
	}{
		{name: "good", give: good, ok: true},
		{name: "short", give: good[:headerSize-1]},
		{name: "version", give: append([]byte{9}, good[1:]...)},
		{name: "no fragments", give: slices.Concat(good[:20], []byte{0, 0, 0})},
		{name: "index past count", give: slices.Concat(good[:18], []byte{0, 1, 0, 1, 0})},
		{name: "syncs past the end", give: slices.Concat(good[:22], []byte{3})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseFrame(tc.give)
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, errBadFrame)) {
				t.Errorf("parseFrame = %v; want ok %v", err, tc.ok)
			}
		})
	}
}

// FuzzParseFrame feeds arbitrary messages to a relay's parsing: it must
// never panic, and what it joins must be as long as its fragments say.
func FuzzParseFrame(f *testing.F) {
	_ = frames(envelope{kind: kindMedia, seq: 1, syncs: []int64{4}, payload: make([]byte, 9000)}, 4096, func(_ uint64, m []byte) error {
		f.Add(m)
		return nil
	})
	f.Fuzz(func(t *testing.T, msg []byte) {
		fr, err := parseFrame(msg)
		if err != nil {
			return
		}
		var j joiner
		if e, ok := j.add(fr); ok && len(e.payload) != len(fr.data) {
			t.Errorf("joined %d bytes of a %d-byte frame", len(e.payload), len(fr.data))
		}
		_, _, _ = parseInit(fr.data)
	})
}
