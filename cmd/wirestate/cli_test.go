package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestUsageErrors checks that every error in the command line exits with
// status 2 and one line in the user's terms on stderr, and nothing on
// stdout.
func TestUsageErrors(t *testing.T) {
	capture := filepath.Join(pcapDir, "refused.pcap")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--port", "http", "-r", capture}, "--port http: not a port number (1-65535)"},
		{[]string{"--port", "70000", "-r", capture}, "--port 70000: not a port number (1-65535)"},
		{[]string{"--host", "nothost", "-r", capture}, "--host nothost: not an IP address"},
		{[]string{"--conn", "XYZ", "-r", capture}, `--conn "XYZ": not a connection uid`},
		{[]string{"--at", "yesterday", "-r", capture}, `--at "yesterday"`},
		{[]string{"--count", "many", "-r", capture}, "--count many: not a whole number"},
		{[]string{"--msl", "5", "-r", capture}, "--msl 5: not a duration"},
		{[]string{"-r", capture, "-w", "out.pcap"}, "--write is for live capture"},
		{[]string{"-r", capture, "--duration", "5s"}, "--duration is for live capture"},
		{[]string{"-r", capture, "-B", "4096"}, "--buffer-size is for live capture"},
		{[]string{"-r", capture, "--workers", "2"}, "--workers is for live capture"},
		{[]string{"-r", capture, "--capture-engine", "libpcap"}, "--capture-engine is for live capture"},
		{[]string{"-r", capture, "this", "is", "not", "bpf"}, `bad capture filter "this is not bpf"`},
		{[]string{"-r", capture, "-f", "tcp", "port", "80"}, "not both"},
		{[]string{"--format", "xml", "-r", capture}, "--format"},
		{[]string{capture}, "did you mean -r " + capture + "?"},
		{[]string{}, "nothing to read"},
		{[]string{"--no-such-flag"}, "unknown flag: --no-such-flag"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(tc.args, &out, &errb)
			msg := errb.String()
			if code != 2 {
				t.Errorf("exit %d, want 2 (stderr %q)", code, msg)
			}
			if out.Len() != 0 {
				t.Errorf("stdout %q, want nothing", out.String())
			}
			if !strings.HasPrefix(msg, "wirestate: ") || strings.Count(msg, "\n") != 1 || !strings.Contains(msg, tc.want) {
				t.Errorf("stderr %q: want one line with %q", msg, tc.want)
			}
			for _, leak := range []string{"strconv.", "ParseAddr", "ParseUint", "time: "} {
				if strings.Contains(msg, leak) {
					t.Errorf("stderr %q leaks Go internals (%s)", msg, leak)
				}
			}
		})
	}
}

// summaryOf runs the command with args and returns its JSON summary.
func jsonSummary(t *testing.T, args ...string) map[string]any {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run(append(args, "--format", "json"), &out, &errb); code != 0 {
		t.Fatalf("%v: exit %d: %s", args, code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var sum map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil || sum["type"] != "summary" {
		t.Fatalf("last line %q is no summary: %v", lines[len(lines)-1], err)
	}
	return sum
}

// tcpdumpCount returns how many packets tcpdump -r reads through filter
// (with -c count when positive).
func tcpdumpCount(t *testing.T, path, filter string, count int) int {
	t.Helper()
	args := []string{"-nn", "-r", path}
	if count > 0 {
		args = append(args, "-c", itoa(count))
	}
	out, err := exec.Command("tcpdump", append(args, filter)...).Output()
	if err != nil {
		t.Fatalf("tcpdump %v: %v", args, err)
	}
	return strings.Count(string(out), "\n")
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestFilterOffline checks the BPF filter and -c on capture files against
// tcpdump's counts on the same files and filters: the packets wirestate
// analyses are the packets tcpdump prints.
func TestFilterOffline(t *testing.T) {
	if _, err := exec.LookPath("tcpdump"); err != nil {
		t.Skip("tcpdump is not installed: the oracle is missing")
	}
	cases := []struct{ file, filter string }{
		{"abortive-close-server.pcap", "port 52706"},
		{"abortive-close-server.pcap", "tcp[tcpflags] & tcp-rst != 0"},
		{"syn-flood.pcap", "tcp[tcpflags] == tcp-syn"},
		{"ipv6.pcap", "ip6 and dst port 8080"},
		{"midstream.pcap", "src host 10.77.0.2"},
		{"port-reuse.pcap", "greater 80"},
	}
	for _, tc := range cases {
		t.Run(tc.file+" "+tc.filter, func(t *testing.T) {
			path := filepath.Join(pcapDir, tc.file)
			sum := jsonSummary(t, "-r", path, tc.filter)
			read, filtered := sum["packets"].(float64), sum["filtered"].(float64)
			want := tcpdumpCount(t, path, tc.filter, 0)
			if want == 0 || int(read-filtered) != want {
				t.Errorf("%d packets read, %d filtered: %d passed; tcpdump prints %d", int(read), int(filtered), int(read-filtered), want)
			}
			if sum["filter"] != tc.filter {
				t.Errorf("summary filter %q, want %q", sum["filter"], tc.filter)
			}
			for _, c := range []int{1, 3} {
				sum := jsonSummary(t, "-r", path, "-c", itoa(c), tc.filter)
				passed := int(sum["packets"].(float64) - sum["filtered"].(float64))
				if want := tcpdumpCount(t, path, tc.filter, c); passed != want {
					t.Errorf("-c %d: %d packets passed, tcpdump -c %d prints %d", c, passed, c, want)
				}
			}
		})
	}
	// Without a filter, -c counts every packet.
	sum := jsonSummary(t, "-r", filepath.Join(pcapDir, "lost-final-ack.pcap"), "-c", "5")
	if sum["packets"].(float64) != 5 {
		t.Errorf("-c 5 read %v packets", sum["packets"])
	}
	if _, ok := sum["filter"]; ok {
		t.Errorf("summary names a filter though none was given")
	}
}

// TestQuietAndNumeric checks tcpdump's -n, -nn and -q: accepted, and -q
// prints the findings only.
func TestQuietAndNumeric(t *testing.T) {
	path := filepath.Join(pcapDir, "lost-final-ack.pcap")
	var full, quiet, errb bytes.Buffer
	if code := run([]string{"-nn", "-r", path}, &full, &errb); code != 0 {
		t.Fatalf("-nn: exit %d: %s", code, errb.String())
	}
	if code := run([]string{"-n", "-q", "-r", path}, &quiet, &errb); code != 0 {
		t.Fatalf("-n -q: exit %d: %s", code, errb.String())
	}
	q := quiet.String()
	if !strings.Contains(q, "lost-final-ack") || strings.Contains(q, "Timeline ") || strings.Contains(q, "packets:") {
		t.Errorf("-q output is not the findings alone:\n%s", q)
	}
	if len(q) >= full.Len() || !strings.Contains(full.String(), strings.TrimSpace(q)) {
		t.Errorf("-q output (%d bytes) is not the findings part of the full report (%d bytes)", len(q), full.Len())
	}
}

// TestReadDirectorySkipsOthers checks that -r DIR reads the captures in a
// directory and skips, counts and names the files that are not captures.
func TestReadDirectorySkipsOthers(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"refused.pcap", "lost-final-ack.pcap"} {
		b, err := os.ReadFile(filepath.Join(pcapDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "README"), []byte("captures of the outage\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"-r", dir, "--format", "json"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if msg := errb.String(); !strings.Contains(msg, "skipped 1 files that are not captures") || !strings.Contains(msg, "README") {
		t.Errorf("stderr %q: want the README named as skipped", msg)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if !strings.Contains(lines[len(lines)-1], "refused.pcap") || !strings.Contains(lines[len(lines)-1], "lost-final-ack.pcap") {
		t.Errorf("summary does not name both captures: %s", lines[len(lines)-1])
	}
	// A directory without a capture is an error.
	empty := t.TempDir()
	os.WriteFile(filepath.Join(empty, "notes.txt"), []byte("nothing\n"), 0o644)
	if code := run([]string{"-r", empty}, new(bytes.Buffer), new(bytes.Buffer)); code != 1 {
		t.Errorf("a directory of no capture: exit %d, want 1", code)
	}
}

// TestStdinReadOnce checks that -r - reads standard input once, as it
// streams, with no temporary copy, and gives the same report as -r FILE,
// timelines included (replayed from the kept segments).
func TestStdinReadOnce(t *testing.T) {
	bin := buildWirestate(t, t.TempDir())
	tmp := t.TempDir()
	for _, name := range []string{"lost-final-ack.pcap", "port-reuse.pcap", "stale-segment.pcap", "accept-queue-overflow-drop.pcap"} {
		path, _ := filepath.Abs(filepath.Join(pcapDir, name))
		for _, args := range [][]string{{}, {"--format", "json", "--timeline", "all"}} {
			fromFile, err := exec.Command(bin, append([]string{"-r", path}, args...)...).Output()
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(bin, append([]string{"-r", "-"}, args...)...)
			in, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			cmd.Stdin = in
			cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
			fromStdin, err := cmd.Output()
			in.Close()
			if err != nil {
				t.Fatalf("%s from stdin: %v", name, err)
			}
			a := strings.ReplaceAll(string(fromFile), path, "SRC")
			b := strings.ReplaceAll(string(fromStdin), "stdin", "SRC")
			if a != b {
				t.Errorf("%s %v: the report from stdin differs from the file's", name, args)
			}
		}
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("files left in TMPDIR: %v", left)
	}
	var errb bytes.Buffer
	if code := run([]string{"-r", "-", "--write-findings", filepath.Join(tmp, "f.pcap")}, new(bytes.Buffer), &errb); code != 2 {
		t.Errorf("--write-findings with -r -: exit %d, want 2 (%s)", code, errb.String())
	}
}

// TestStdinInterrupt checks that Ctrl-C while standard input is still open
// (a capture streaming in) ends the run with a report of what was read.
func TestStdinInterrupt(t *testing.T) {
	bin := buildWirestate(t, t.TempDir())
	data, err := os.ReadFile(filepath.Join(pcapDir, "lost-final-ack.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-r", "-", "--format", "json")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stdin.Write(data) // and keep it open, as a live tcpdump -w - would
	time.Sleep(500 * time.Millisecond)
	cmd.Process.Signal(os.Interrupt)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit: %v", err)
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("still waiting for standard input 20 s after Ctrl-C")
	}
	stdin.Close()
	if !strings.Contains(out.String(), `"type":"summary"`) || !strings.Contains(out.String(), "lost-final-ack") {
		t.Errorf("no complete report after Ctrl-C:\n%s", out.String())
	}
}
