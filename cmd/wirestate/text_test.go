package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wirestate/wirestate/internal/synth"
)

// TestTextReportBounded checks that the default text report of a capture
// of 20,000 connections (thousands of client hosts, each a time-wait-load
// aggregate) stays short, and that --all lists every connection.
func TestTextReportBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode: 20,000 connections")
	}
	const conns = 20000
	path := filepath.Join(t.TempDir(), "big.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg := synth.Config{Seed: 1, Conns: conns, IPv6Fraction: 0.1, RSTFraction: 0.02, RefusedFraction: 0.01}
	if _, err := synth.Write(f, cfg); err != nil {
		t.Fatal(err)
	}
	f.Close()

	code, out, errOut := runTimed(t, time.Minute, "-r", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(out, "\n")
	// Each section lists its top few (findings 10 per group, hosts 20,
	// connections 20, listeners' latency 5): about 200 lines whatever the
	// capture's size (191 before the latency view's 9 lines).
	if len(lines) >= 210 {
		t.Errorf("default report: %d lines, want under 210", len(lines))
	}
	for _, want := range []string{"time-wait-load", "more hosts (--top N or --all", "connections without findings (--all lists them)", "Connections with findings:"} {
		if !strings.Contains(out, want) {
			t.Errorf("default report lacks %q", want)
		}
	}
	if n := strings.Count(out, "▸ "); n > 4*10 {
		t.Errorf("default report lists %d aggregates", n)
	}

	code, out, errOut = runTimed(t, time.Minute, "-r", path, "--top", "3")
	if code != 0 {
		t.Fatalf("--top 3: exit %d: %s", code, errOut)
	}
	if got := len(strings.Split(out, "\n")); got >= len(lines) {
		t.Errorf("--top 3: %d lines, no fewer than the default's %d", got, len(lines))
	}

	code, out, errOut = runTimed(t, time.Minute, "-r", path, "--all", "--timeline", "none")
	if code != 0 {
		t.Fatalf("--all: exit %d: %s", code, errOut)
	}
	_, table, ok := strings.Cut(out, "\nConnections:\n")
	if !ok {
		t.Fatal("--all: no connection table")
	}
	rows := strings.Split(strings.TrimSuffix(table, "\n"), "\n")[1:] // after the heading
	if len(rows) != conns {
		t.Errorf("--all: %d rows in the connection table, want %d", len(rows), conns)
	}
	if strings.Contains(out, "… and") {
		t.Errorf("--all left something out: %q", out[strings.Index(out, "… and"):][:80])
	}
}

// TestTextColor checks --color: ANSI colours for CRITICAL and WARNING with
// always, none with never, none with auto on a pipe, and NO_COLOR.
func TestTextColor(t *testing.T) {
	critical := filepath.Join(pcapDir, "accept-queue-overflow-rst.pcap")
	warning := filepath.Join(pcapDir, "refused.pcap")
	for _, tc := range []struct {
		capture, color, want string
	}{
		{critical, "always", "\x1b[1;31mCRITICAL\x1b[0m"},
		{warning, "always", "\x1b[1;33mWARNING\x1b[0m"},
		{critical, "never", ""},
		{warning, "auto", ""},
	} {
		t.Run(filepath.Base(tc.capture)+" "+tc.color, func(t *testing.T) {
			code, out, errOut := runTimed(t, time.Minute, "-r", tc.capture, "--color", tc.color)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if tc.want != "" && !strings.Contains(out, tc.want) {
				t.Errorf("no %q in:\n%s", tc.want, out)
			}
			if tc.want == "" && strings.Contains(out, "\x1b[") {
				t.Errorf("ANSI codes with --color %s:\n%q", tc.color, out)
			}
		})
	}

	// auto on a real pipe, with and without NO_COLOR.
	for _, noColor := range []string{"", "1"} {
		t.Setenv("NO_COLOR", noColor)
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		got := make(chan string)
		go func() { b, _ := io.ReadAll(r); got <- string(b) }()
		code := run([]string{"-r", critical}, w, io.Discard)
		w.Close()
		out := <-got
		r.Close()
		if code != 0 || !strings.Contains(out, "CRITICAL") {
			t.Fatalf("NO_COLOR=%q: exit %d, output %q", noColor, code, out)
		}
		if strings.Contains(out, "\x1b[") {
			t.Errorf("NO_COLOR=%q: ANSI codes on a pipe", noColor)
		}
	}

	// NO_COLOR leaves auto uncoloured even on a terminal; textLook decides.
	t.Setenv("NO_COLOR", "1")
	if _, colored := textLook(os.Stdout, "auto"); colored {
		t.Error("NO_COLOR set: auto colours")
	}
	if _, colored := textLook(io.Discard, "always"); !colored {
		t.Error("always: no colour")
	}
}

// TestTextNoTrailingSpaces checks every capture's text report, by default
// and with --all and colours, for lines ending in spaces, and that the
// findings (--quiet) wrap within 100 columns.
func TestTextNoTrailingSpaces(t *testing.T) {
	caps, err := filepath.Glob(filepath.Join(pcapDir, "*.pcap"))
	if err != nil || len(caps) == 0 {
		t.Fatalf("no captures in %s: %v", pcapDir, err)
	}
	for _, c := range caps {
		for _, args := range [][]string{nil, {"--all", "--color", "always"}, {"--quiet"}} {
			code, out, errOut := runTimed(t, time.Minute, append([]string{"-r", c}, args...)...)
			if code != 0 {
				t.Fatalf("%s %v: exit %d: %s", c, args, code, errOut)
			}
			for i, l := range strings.Split(out, "\n") {
				if strings.HasSuffix(l, " ") {
					t.Errorf("%s %v: line %d ends in a space: %q", filepath.Base(c), args, i+1, l)
				}
				if len(args) == 1 && len([]rune(l)) > 100 {
					t.Errorf("%s --quiet: line %d is %d columns: %q", filepath.Base(c), i+1, len([]rune(l)), l)
				}
			}
		}
	}
}

// TestTextFlagErrors checks that bad --top and --color values are usage
// errors (exit 2, one line).
func TestTextFlagErrors(t *testing.T) {
	capture := filepath.Join(pcapDir, "refused.pcap")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-r", capture, "--top", "0"}, "--top 0: want 1 or more"},
		{[]string{"-r", capture, "--top", "x"}, "--top x: not a whole number"},
		{[]string{"-r", capture, "--color", "rainbow"}, "--color rainbow: want auto, always or never"},
	} {
		var out, errb strings.Builder
		if code := run(tc.args, &out, &errb); code != 2 || out.Len() != 0 || strings.Count(errb.String(), "\n") != 1 || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 2 and %q", tc.args, code, out.String(), errb.String(), tc.want)
		}
	}
}
