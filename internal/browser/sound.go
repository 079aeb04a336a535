package browser

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// soundStartTimeout bounds how long a private sound server takes to
// listen.
const soundStartTimeout = 10 * time.Second

// soundServer is a private PulseAudio with one null sink, for a browser
// on a machine without a sound device: Firefox's AudioContext does not run
// without an output (it stays "suspended"), so neither Web Audio playback
// nor a capture worklet would. Chromium needs none (its headless mode
// renders audio to a fake output).
type soundServer struct {
	proc   *process
	server string // the PULSE_SERVER value that reaches it
}

// startSoundServer starts a soundServer with its socket and state in dir
// (made, and left for the caller to remove), or returns
// nil (and no error) when there is no need or no way: PULSE_SERVER is set
// already (the machine's own server), or pulseaudio is not installed (the
// Debian package pulseaudio; a desktop's own server is then found the usual
// way, and on a machine without one Web Audio stays silent in Firefox).
func startSoundServer(dir string) (*soundServer, error) {
	if os.Getenv("PULSE_SERVER") != "" {
		return nil, nil
	}
	path, ok := lookPath("pulseaudio")
	if !ok {
		return nil, nil
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, err
	}
	sock := filepath.Join(dir, "pulse-native")
	cmd := exec.Command(path, "--daemonize=no", "-n", "--exit-idle-time=-1", "--disallow-exit", "--use-pid-file=no",
		"--disable-shm", "--log-target=stderr",
		"--load=module-null-sink sink_name=amlive",
		"--load=module-native-protocol-unix auth-anonymous=1 socket="+sock)
	// Its state and runtime directories in dir, not the user's.
	cmd.Env = append(os.Environ(), ownerEnv, "HOME="+dir, "XDG_RUNTIME_DIR="+dir, "XDG_CONFIG_HOME="+dir)
	proc, err := startProcess("pulseaudio", cmd, nil)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(soundStartTimeout)
	for {
		if _, err := os.Stat(sock); err == nil {
			return &soundServer{proc: proc, server: "unix:" + sock}, nil
		}
		if proc.exited() || time.Now().After(deadline) {
			proc.stop(closeTimeout)
			return nil, fmt.Errorf("pulseaudio did not listen on %s within %v:\n%s", sock, soundStartTimeout, proc.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// close stops the server.
func (s *soundServer) close() {
	if s != nil {
		s.proc.stop(closeTimeout)
	}
}
