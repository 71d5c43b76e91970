package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wirestate/wirestate/internal/synth"
	"github.com/wirestate/wirestate/report"
	"github.com/wirestate/wirestate/tracker"
	"github.com/wirestate/wirestate/tracker/detect"
)

var update = flag.Bool("update", false, "rewrite the golden files of TestHTMLGolden")

// analyzeForHTML runs a capture through the pipeline as the command does
// for --html --timeline all.
func analyzeForHTML(t testing.TB, path string) *report.Result {
	t.Helper()
	html, _ := report.NewStream("html", io.Discard, report.StreamOptions{})
	cfg := &Config{Files: []string{path}, MSL: 30 * time.Second, IdleTimeout: time.Hour, MaxConns: 1 << 20,
		Shards: 1, Detect: detect.Defaults(), Timelines: TimelinesAll, Outputs: []Output{{Stream: html}}}
	res, err := Analyze(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	res.Input.Sources = []string{filepath.Base(path)} // the goldens name the file alone
	return res
}

// synthCapture writes a small deterministic synthetic capture with refused
// and reset connections.
func synthCapture(t testing.TB, conns int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "synth.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, err = synth.Write(f, synth.Config{Seed: 7, Conns: conns, Concurrency: 20, DataSegments: 2,
		RSTFraction: 0.1, RefusedFraction: 0.1, Snaplen: 96, Start: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// htmlDoc is the part of the HTML report's embedded data the tests read.
type htmlDoc struct {
	T0     int64 `json:"t0"`
	States struct {
		Start, Step int64
		Hosts       []struct {
			Host   string
			Series map[string][]int32
		}
	}
}

// htmlDocOf decodes the document report.HTMLData built.
func htmlDocOf(t testing.TB, res *report.Result) (*htmlDoc, []byte) {
	t.Helper()
	data, err := report.HTMLData(res, report.HTMLOptions{Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	var doc htmlDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("HTMLData is not JSON: %v", err)
	}
	return &doc, data
}

// TestHTMLGolden compares the data the HTML report embeds with golden
// files; -update rewrites them.
func TestHTMLGolden(t *testing.T) {
	cases := []struct{ name, path string }{
		{"lost-final-ack", "../pcaps/lost-final-ack.pcap"},
		{"close-wait-stuck", "../pcaps/close-wait-stuck.pcap"},
		{"synth-40", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := c.path
			if path == "" {
				path = synthCapture(t, 40)
			}
			res := analyzeForHTML(t, path)
			_, data := htmlDocOf(t, res)
			var got bytes.Buffer
			if err := json.Indent(&got, data, "", " "); err != nil {
				t.Fatal(err)
			}
			got.WriteByte('\n')
			golden := filepath.Join("testdata", c.name+".golden.json")
			if *update {
				if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./pipeline -run TestHTMLGolden -update)", err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				gl, wl := strings.Split(got.String(), "\n"), strings.Split(string(want), "\n")
				for i := 0; i < len(gl) || i < len(wl); i++ {
					var g, w string
					if i < len(gl) {
						g = gl[i]
					}
					if i < len(wl) {
						w = wl[i]
					}
					if g != w {
						t.Fatalf("%s differs at line %d:\n got: %s\nwant: %s\n(rerun with -update if the change is intended)", golden, i+1, g, w)
					}
				}
			}
		})
	}
}

// seriesAt returns the peak of state on host in the bucket holding time
// (ns since the epoch).
func seriesAt(t *testing.T, doc *htmlDoc, host, state string, at int64) int32 {
	t.Helper()
	for _, h := range doc.States.Hosts {
		if h.Host != host {
			continue
		}
		s := h.Series[state]
		if s == nil {
			return 0
		}
		b := (at/1000 - doc.T0 - doc.States.Start) / doc.States.Step
		if b < 0 || int(b) >= len(s) {
			t.Fatalf("time %d outside the chart", at)
		}
		return s[b]
	}
	t.Fatalf("host %s not charted", host)
	return 0
}

// TestHTMLStatesLostFinalACK checks that the passive closer shows LAST_ACK
// during the seconds it sent its FIN and its retransmission, and the
// active closer TIME_WAIT from its FIN's acknowledgement to the end.
func TestHTMLStatesLostFinalACK(t *testing.T) {
	res := analyzeForHTML(t, "../pcaps/lost-final-ack.pcap")
	doc, _ := htmlDocOf(t, res)
	if len(res.Records) != 1 || len(res.Records[0].Timeline) == 0 {
		t.Fatalf("want one recorded connection, got %d", len(res.Records))
	}
	r := &res.Records[0]
	server, client := r.Conn.Resp.Addr.String(), r.Conn.Orig.Addr.String()
	var lastAck []int64
	for _, tr := range r.Transitions {
		if tr.Side == tracker.Resp && tr.To == tracker.LastAck {
			lastAck = append(lastAck, tr.Time)
		}
	}
	if len(lastAck) < 2 {
		t.Fatalf("want the server to enter LAST_ACK twice, got %d", len(lastAck))
	}
	for _, at := range lastAck {
		if n := seriesAt(t, doc, server, "LAST_ACK", at); n != 1 {
			t.Errorf("LAST_ACK on %s at %s: %d, want 1", server, time.Unix(0, at).UTC().Format(time.RFC3339Nano), n)
		}
	}
	// The server never enters LAST_ACK before its first FIN.
	first := doc.States.Start + doc.T0
	if lastAck[0]/1000-first >= doc.States.Step {
		if n := seriesAt(t, doc, server, "LAST_ACK", first*1000); n != 0 {
			t.Errorf("LAST_ACK counted before the FIN: %d", n)
		}
	}
	if n := seriesAt(t, doc, client, "TIME_WAIT", res.Input.Last); n != 1 {
		t.Errorf("TIME_WAIT on %s at the end: %d, want 1", client, n)
	}
	if _, ok := doc.States.Hosts[0].Series["CLOSE_WAIT"]; !ok && doc.States.Hosts[0].Host == server {
		t.Errorf("the server passed through CLOSE_WAIT but the chart has no such series")
	}
}

// TestHTMLStatesCloseWait checks that close-wait-stuck's server shows
// CLOSE_WAIT for at least 7 seconds, up to the end of the capture.
func TestHTMLStatesCloseWait(t *testing.T) {
	res := analyzeForHTML(t, "../pcaps/close-wait-stuck.pcap")
	doc, _ := htmlDocOf(t, res)
	server := res.Records[0].Conn.Resp.Addr.String()
	var s []int32
	for _, h := range doc.States.Hosts {
		if h.Host == server {
			s = h.Series["CLOSE_WAIT"]
		}
	}
	n := 0
	for _, v := range s {
		if v > 0 {
			n++
		}
	}
	if secs := int64(n) * doc.States.Step / 1e6; secs < 7 {
		t.Errorf("CLOSE_WAIT on %s for %d s, want at least 7 (series %v)", server, secs, s)
	}
	if len(s) == 0 || s[len(s)-1] != 1 {
		t.Errorf("CLOSE_WAIT should last to the end of the capture: %v", s)
	}
}

// TestHTMLStatesMatchHosts checks, on a synthetic capture, that the states
// chart's last bucket agrees with the per-host view of the text report
// (what ss would list at the end) for every charted host, and that a
// TIME_WAIT released by the 2MSL timer leaves the count.
func TestHTMLStatesMatchHosts(t *testing.T) {
	res := analyzeForHTML(t, synthCapture(t, 300))
	doc, _ := htmlDocOf(t, res)
	hosts := report.Hosts(res.Records, nil)
	byHost := map[string]*report.HostStates{}
	for i := range hosts {
		byHost[hosts[i].Host.String()] = &hosts[i]
	}
	if len(doc.States.Hosts) == 0 {
		t.Fatal("no host charted")
	}
	for _, h := range doc.States.Hosts {
		hs := byHost[h.Host]
		for st := tracker.State(0); int(st) < tracker.NumStates; st++ {
			if !st.Open() {
				continue
			}
			// The last bucket's peak is at least the count at the end.
			var last int32
			if s := h.Series[st.String()]; s != nil {
				last = s[len(s)-1]
			}
			want := 0
			if hs != nil {
				want = int(hs.Counts[st])
			}
			if int(last) < want {
				t.Errorf("%s %s: chart ends at %d, ss would list %d", h.Host, st, last, want)
			}
		}
	}
}
