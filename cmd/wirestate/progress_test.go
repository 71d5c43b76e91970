package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestProgressOnTerminalOnly runs the command under a pseudo-terminal
// (script(1)) and through a pipe: progress is drawn on the terminal's
// stderr and cleared at the end, and never written into a pipe.
func TestProgressOnTerminalOnly(t *testing.T) {
	script, err := exec.LookPath("script")
	if err != nil {
		t.Skip("script(1) is not installed: no pseudo-terminal to test with")
	}
	bin := buildWirestate(t, t.TempDir())
	capture, _ := filepath.Abs(filepath.Join(pcapDir, "mixed.pcap"))
	// Under a terminal (stdout to a file, so that what the terminal shows
	// is stderr alone).
	out := filepath.Join(t.TempDir(), "report.txt")
	cmd := exec.Command(script, "-qec", bin+" -r "+capture+" -o "+out, "/dev/null")
	cmd.Env = append(os.Environ(), "WIRESTATE_PROGRESS_AFTER=0s")
	tty, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("under script: %v\n%s", err, tty)
	}
	if !bytes.Contains(tty, []byte("\rwirestate: ")) || !bytes.Contains(tty, []byte("packets/s")) || !bytes.Contains(tty, []byte("\r\033[K")) {
		t.Errorf("no progress line, or not cleared, on the terminal: %q", tty)
	}
	// Through pipes: nothing but the report.
	cmd = exec.Command(bin, "-r", capture)
	cmd.Env = append(os.Environ(), "WIRESTATE_PROGRESS_AFTER=0s")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if stderr.Len() != 0 || strings.Contains(stdout.String(), "packets/s") {
		t.Errorf("progress written into a pipe: stderr %q", stderr.String())
	}
}
