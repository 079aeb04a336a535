// Package mediatest holds test helpers shared by the container readers'
// tests (packages webm and mp4): ways to split a stream into the pieces a
// Reader is fed, and a lookup of the external tools that check sealed
// files. Only tests import it.
package mediatest

import (
	"math/rand/v2"
	"os"
	"os/exec"
	"testing"
)

// SplitEvery splits b into pieces of n bytes, the last one shorter.
func SplitEvery(b []byte, n int) [][]byte {
	var out [][]byte
	for len(b) > n {
		out = append(out, b[:n])
		b = b[n:]
	}
	return append(out, b)
}

// SplitRandom splits b into pieces of 1 to max bytes, chosen by seed: the
// same seed gives the same pieces.
func SplitRandom(b []byte, seed uint64, max int) [][]byte {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var out [][]byte
	for len(b) > 0 {
		n := min(1+rng.IntN(max), len(b))
		out = append(out, b[:n])
		b = b[n:]
	}
	return out
}

// Tool returns the path of the external program name, skipping the test
// when it is missing, except in CI (CI=true), where that is a failure.
func Tool(tb testing.TB, name string) string {
	tb.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("%s not installed: %v", name, err)
		}
		tb.Skipf("%s not installed", name)
	}
	return p
}
