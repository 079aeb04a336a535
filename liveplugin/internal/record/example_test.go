package record_test

import (
	"fmt"
	"log"
	"os"
	"time"

	"github.com/amlive/amlive/liveplugin/internal/record"
)

func Example() {
	dir, err := os.MkdirTemp("", "record-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	s, err := record.Open(dir)
	if err != nil {
		log.Fatal(err)
	}
	start := time.Date(2026, 2, 1, 12, 0, 0, 0, time.UTC)
	w, err := s.Create("alice", "20260201T120000Z", "video/webm;codecs=vp8,opus", start)
	if err != nil {
		log.Fatal(err)
	}
	for _, chunk := range [][]byte{[]byte("\x1a\x45\xdf\xa3"), []byte("...media...")} {
		if _, err := w.Write(chunk); err != nil {
			// Recording stopped (disk error); a live stream would go on.
			log.Print(err)
			break
		}
	}
	fmt.Println("live:", w.Meta().Live())
	m, err := w.Finish(start.Add(90*time.Second), 90*time.Second)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("live:", m.Live(), "bytes:", m.Bytes, "duration:", m.Duration)

	list, err := s.List("alice")
	if err != nil {
		log.Fatal(err)
	}
	for _, m := range list {
		fmt.Println(m.Room, m.Broadcast, m.MIMEType)
	}
	// Output:
	// live: true
	// live: false bytes: 15 duration: 1m30s
	// alice 20260201T120000Z video/webm;codecs=vp8,opus
}

func ExampleValidName() {
	for _, name := range []string{"alice", "20260201T120000Z.1", "../etc", ".hidden", "a/b"} {
		fmt.Println(name, record.ValidName(name))
	}
	// Output:
	// alice true
	// 20260201T120000Z.1 true
	// ../etc false
	// .hidden false
	// a/b false
}
