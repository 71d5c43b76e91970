package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wirestate/wirestate/internal/synth"
	"github.com/wirestate/wirestate/tracker"
)

// htmlTestdata holds fixed copies of sample captures, so that re-recorded
// captures in pcaps/ do not move the expectations.
const htmlTestdata = "../../pcaps"

// chromiumPath returns the Chromium binary, or skips the test.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("chromium is not installed (Debian: apt-get install chromium); skipping the browser test")
	return ""
}

// headless runs Chromium headless with no network access on url with the
// extra arguments and returns its standard output.
func headless(t *testing.T, bin, url string, extra ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-extensions",
		"--disable-dev-shm-usage", "--hide-scrollbars",
		// Nothing may be fetched: every host resolves nowhere.
		"--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9",
		"--user-data-dir=" + t.TempDir(), "--virtual-time-budget=2000"}
	args = append(append(args, extra...), url)
	cmd := exec.CommandContext(ctx, bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", extra, err, lastLines(errb.String(), 20))
	}
	return out.String()
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

// makeHTML runs the command on capture with --html and returns the path of
// the report and the analysis.
func makeHTML(t *testing.T, capture string, extra ...string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "report.html")
	var stdout, stderr bytes.Buffer
	args := append([]string{"-r", capture, "--html", out}, extra...)
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("wirestate %v: exit %d: %s", args, code, stderr.String())
	}
	return out
}

// TestHTMLBrowser opens the report of two sample captures in headless
// Chromium: the ladder diagram of the lost-final-ack connection shows the
// retransmitted FIN, evidence of the finding, highlighted; the states chart
// of the server has a LAST_ACK series; close-wait-stuck's has CLOSE_WAIT.
// It saves screenshots in the test's directory and, when
// WIRESTATE_SCREENSHOT_DIR is set, there too.
func TestHTMLBrowser(t *testing.T) {
	bin := chromiumPath(t)
	capture := filepath.Join(htmlTestdata, "lost-final-ack.pcap")
	res := analyzeFor(t, capture)
	if len(res.Records) != 1 {
		t.Fatalf("want one connection, got %d", len(res.Records))
	}
	var evidence uint64
	for _, f := range res.Findings {
		if f.Kind == tracker.AnomLostFinalACK {
			for _, e := range f.Evidence {
				if strings.Contains(e.What, "retransmitted") {
					evidence = e.Frame
				}
			}
		}
	}
	if evidence == 0 {
		t.Fatal("no lost-final-ack finding with a retransmitted FIN as evidence")
	}
	c := &res.Records[0].Conn
	uid, server := c.UID.String(), c.Resp.Addr.String()
	page := makeHTML(t, capture)
	url := "file://" + page

	dom := headless(t, bin, url+"#conn="+uid, "--dump-dom")
	if !strings.Contains(dom, `id="ladder"`) {
		t.Fatalf("no ladder diagram in the connection view:\n%s", lastLines(dom, 30))
	}
	ev := regexp.MustCompile(`<g class="pkt evidence" data-frame="(\d+)"`).FindAllStringSubmatch(dom, -1)
	var frames []string
	for _, m := range ev {
		frames = append(frames, m[1])
	}
	if !containsString(frames, fmt.Sprint(evidence)) {
		t.Errorf("evidence frame %d not highlighted in the ladder (highlighted: %v)", evidence, frames)
	}
	if n := len(regexp.MustCompile(`<g class="pkt( evidence)?" data-frame=`).FindAllString(dom, -1)); n != 13 {
		t.Errorf("ladder has %d packets, want 13", n)
	}
	for _, want := range []string{`data-state="LAST_ACK" data-side="resp"`, `data-state="TIME_WAIT" data-side="orig"`, `data-inferred="1"`} {
		if !strings.Contains(dom, want) {
			t.Errorf("ladder lacks %s", want)
		}
	}

	dom = headless(t, bin, url+"#states="+server, "--dump-dom")
	if !strings.Contains(dom, `id="states-chart" data-host="`+server+`"`) {
		t.Fatalf("no states chart for %s", server)
	}
	for _, st := range []string{"LAST_ACK", "CLOSE_WAIT", "ESTABLISHED"} {
		if !strings.Contains(dom, `class="area" data-state="`+st+`"`) {
			t.Errorf("states chart of %s lacks the %s series", server, st)
		}
	}
	if !strings.Contains(dom, `class="fmark" data-kind="lost-final-ack"`) {
		t.Errorf("states chart does not mark the lost-final-ack finding")
	}

	shots := []string{filepath.Join(t.TempDir(), "ladder.png")}
	if d := os.Getenv("WIRESTATE_SCREENSHOT_DIR"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		shots = append(shots, filepath.Join(d, "lost-final-ack-ladder.png"))
	}
	for _, s := range shots {
		headless(t, bin, url+"#conn="+uid, "--screenshot="+s, "--window-size=1400,1000")
		checkPNG(t, s)
	}

	cw := filepath.Join(htmlTestdata, "close-wait-stuck.pcap")
	res = analyzeFor(t, cw)
	server = res.Records[0].Conn.Resp.Addr.String()
	page = makeHTML(t, cw)
	dom = headless(t, bin, "file://"+page+"#states="+server, "--dump-dom")
	m := regexp.MustCompile(`class="area" data-state="CLOSE_WAIT" data-peak="(\d+)"`).FindStringSubmatch(dom)
	if m == nil || m[1] != "1" {
		t.Errorf("close-wait-stuck: no CLOSE_WAIT series peaking at 1 on %s (%v)", server, m)
	}
	if d := os.Getenv("WIRESTATE_SCREENSHOT_DIR"); d != "" {
		s := filepath.Join(d, "close-wait-stuck-states.png")
		headless(t, bin, "file://"+page+"#states="+server, "--screenshot="+s, "--window-size=1400,1000")
		checkPNG(t, s)
	}
}

func containsString(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// checkPNG checks that path holds a PNG image of a plausible size.
func checkPNG(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if len(b) < 24 || string(b[1:4]) != "PNG" {
		t.Fatalf("screenshot %s is not a PNG", path)
	}
	if w, h := binary.BigEndian.Uint32(b[16:20]), binary.BigEndian.Uint32(b[20:24]); w < 1000 || h < 600 {
		t.Errorf("screenshot %s is %dx%d", path, w, h)
	}
	t.Logf("screenshot: %s (%d bytes)", path, len(b))
}

// TestWriteFindings checks that --write-findings writes exactly the packets
// of the connections with a warning or critical finding.
func TestWriteFindings(t *testing.T) {
	dir := t.TempDir()
	capture := filepath.Join(dir, "synth.pcap")
	f, err := os.Create(capture)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := synth.Write(f, synth.Config{Seed: 3, Conns: 400, Concurrency: 50, DataSegments: 2,
		RSTFraction: 0.05, RefusedFraction: 0.05, Snaplen: 96, Start: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
	f.Close()

	res := analyzeFor(t, capture)
	flagged := map[tracker.UID]bool{}
	for _, f := range res.Findings {
		if f.UID != 0 && f.Severity >= tracker.SevWarning {
			flagged[f.UID] = true
		}
	}
	want := 0
	for i := range res.Records {
		if c := &res.Records[i].Conn; flagged[c.UID] {
			want += int(c.Peers[0].Pkts + c.Peers[1].Pkts)
		}
	}
	if len(flagged) == 0 || want == 0 {
		t.Fatal("the synthetic capture has no warning or critical finding")
	}

	out := filepath.Join(dir, "findings.pcap")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-r", capture, "--write-findings", out, "--format", "json"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	// Reading the written file back gives exactly those connections and
	// packets.
	back := analyzeFor(t, out)
	got := 0
	for i := range back.Records {
		c := &back.Records[i].Conn
		got += int(c.Peers[0].Pkts + c.Peers[1].Pkts)
	}
	if got != want || len(back.Records) != len(flagged) {
		t.Errorf("wrote %d packets of %d connections, want %d packets of %d", got, len(back.Records), want, len(flagged))
	}
	if int(back.Input.Packets) != want {
		t.Errorf("file holds %d packets, want %d", back.Input.Packets, want)
	}
}
