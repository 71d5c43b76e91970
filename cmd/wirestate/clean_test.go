package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wirestate/wirestate/internal/synth"
)

// noWarnings fails the test for every warning or critical finding in a
// JSON Lines report, allowing the kinds listed in expected.
func noWarnings(t *testing.T, out string, expected map[string]bool) int {
	t.Helper()
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		if m["type"] != "anomaly" || m["severity"] == "info" || expected[m["kind"].(string)] {
			continue
		}
		n++
		if n <= 5 {
			t.Errorf("false positive: %s %s: %s", m["severity"], m["kind"], m["summary"])
		}
	}
	return n
}

// TestBusyCleanTrafficIsClean checks that busy, healthy traffic (synthetic:
// thousands of interleaved handshakes, exchanges and closes from either
// side, some IPv6, some sequence numbers wrapping) gives no warning or
// critical finding.
func TestBusyCleanTrafficIsClean(t *testing.T) {
	path := filepath.Join(t.TempDir(), "clean.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg := synth.Config{Seed: 3, Conns: 5000, Concurrency: 500, IPv6Fraction: 0.1}
	if _, err := synth.Write(f, cfg); err != nil {
		t.Fatal(err)
	}
	f.Close()
	code, out, errOut := runTimed(t, time.Minute, "-r", path, "--format", "json", "--timeline", "none")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if sum := summaryOf(t, out); sum["connections"].(float64) != 5000 {
		t.Fatalf("%v connections, want 5000", sum["connections"])
	}
	if n := noWarnings(t, out, nil); n > 0 {
		t.Fatalf("%d false positives on clean traffic", n)
	}
}

// TestBenchmarkCaptureIsClean counts false positives on the real benchmark
// capture (make bench) when it has been recorded: its only warnings may be
// the load generator's deliberate connections to a closed port.
func TestBenchmarkCaptureIsClean(t *testing.T) {
	path := filepath.Join("..", "..", "bench", "out", "bench.pcap")
	if _, err := os.Stat(path); err != nil {
		t.Skip("skipped: bench/out/bench.pcap not recorded (sudo bash bench/record.sh)")
	}
	if testing.Short() {
		t.Skip("skipped in -short mode: 2.8M packets")
	}
	code, out, errOut := runTimed(t, 5*time.Minute, "-r", path, "--format", "json", "--timeline", "none")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if n := noWarnings(t, out, map[string]bool{"connection-refused": true}); n > 0 {
		t.Fatalf("%d false positives on the benchmark capture", n)
	}
}
