package pipeline

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wirestate/wirestate/capture"
	"github.com/wirestate/wirestate/report"
	"github.com/wirestate/wirestate/tracker"
	"github.com/wirestate/wirestate/tracker/detect"
	tt "github.com/wirestate/wirestate/tracker/trackertest"
)

// TestLatencyViewMeasuresAsFull checks that the text report's reduced
// measuring (tracker.Config.SkipMetrics) gives every connection the same
// handshake round trip and application response times as the full
// measuring the JSON output asks for, on every sample capture, so that the
// latency view is the same whichever output is chosen.
func TestLatencyViewMeasuresAsFull(t *testing.T) {
	paths, err := filepath.Glob("../pcaps/*.pcap")
	if err != nil || len(paths) < 20 {
		t.Fatalf("sample captures: %v (%d)", err, len(paths))
	}
	track := func(segs []tracker.Segment, skip bool) []tracker.Record {
		col := &tt.Collector{}
		tr := tracker.New(tracker.Config{MSL: int64(30 * time.Second), IdleTimeout: int64(time.Hour), Shards: 1, Sink: col, SkipMetrics: skip})
		for i := range segs {
			tr.Feed(&segs[i])
		}
		tr.Close()
		return col.Sorted()
	}
	analyze := func(path, format string) *report.Result {
		st, err := report.NewStream(format, io.Discard, report.StreamOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cfg := &Config{Files: []string{path}, MSL: 30 * time.Second, IdleTimeout: time.Hour,
			Shards: 1, Detect: detect.Defaults(), Outputs: []Output{{Stream: st}}}
		res, err := Analyze(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	handshakes, turns := 0, 0
	for _, path := range paths {
		src, err := capture.Open([]string{path}, capture.FileOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var segs []tracker.Segment
		for {
			var seg tracker.Segment
			if err := src.Next(&seg); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			segs = append(segs, seg)
		}
		src.Close()
		full, text := track(segs, false), track(segs, true)
		if len(full) != len(text) {
			t.Fatalf("%s: %d records measured in full, %d for text", path, len(full), len(text))
		}
		for i := range full {
			f, x := full[i].MetricsOrZero(), text[i].MetricsOrZero()
			fh, fok := f.HandshakeRTT()
			xh, xok := x.HandshakeRTT()
			if fh != xh || fok != xok || f.App != x.App || f.On() != x.On() {
				t.Errorf("%s %s: handshake %d %v / %d %v, app %+v / %+v, on %v / %v", filepath.Base(path), full[i].Conn.UID,
					fh, fok, xh, xok, f.App, x.App, f.On(), x.On())
			}
			if fok {
				handshakes++
			}
			turns += int(f.App.N)
		}
		// The outputs' per-listener views agree too.
		fr, _ := analyze(path, "json").Latency.Top(-1)
		xr, _ := analyze(path, "text").Latency.Top(-1)
		if len(fr) != len(xr) {
			t.Errorf("%s: %d listeners in full, %d for text", path, len(fr), len(xr))
		}
		for i := range min(len(fr), len(xr)) {
			if a, b := fr[i], xr[i]; a.Listener != b.Listener || a.Conns != b.Conns || a.Handshakes != b.Handshakes ||
				a.Handshake.Count() != b.Handshake.Count() || a.AppResponse.Count() != b.AppResponse.Count() {
				t.Errorf("%s: listener %d: full %+v, text %+v", path, i, a.Listener, b.Listener)
			}
		}
	}
	if handshakes < 2000 || turns < 2000 {
		t.Errorf("only %d handshakes and %d turns compared", handshakes, turns)
	}
	t.Logf("%d captures: %d handshakes, %d request/response turns alike", len(paths), handshakes, turns)
}

// TestTextTimelinesShowMetrics: the text report measures every connection
// only as far as its latency view needs, and the connections it shows with
// a timeline in full (the second pass): each of those that completed its
// handshake keeps its metrics, and the report prints them under the
// timeline, on every sample capture.
func TestTextTimelinesShowMetrics(t *testing.T) {
	paths, err := filepath.Glob("../pcaps/*.pcap")
	if err != nil || len(paths) < 20 {
		t.Fatalf("sample captures: %v (%d)", err, len(paths))
	}
	shown := 0
	for _, path := range paths {
		var out strings.Builder
		st, err := report.NewStream("text", &out, report.StreamOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cfg := &Config{Files: []string{path}, MSL: 30 * time.Second, IdleTimeout: time.Hour,
			Detect: detect.Defaults(), Outputs: []Output{{Stream: st}}}
		res, err := Analyze(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := writeOutputs(cfg.Outputs, res, true); err != nil {
			t.Fatal(err)
		}
		for i := range res.Records {
			r := &res.Records[i]
			if r.Timeline == nil {
				continue
			}
			if _, ok := r.MetricsOrZero().HandshakeRTT(); !ok {
				continue
			}
			shown++
			if !strings.Contains(out.String(), "latency: handshake") {
				t.Errorf("%s: %s has a timeline and a handshake round trip, but the report shows no latency line", filepath.Base(path), r.Conn.UID)
				break
			}
		}
	}
	if shown < 20 {
		t.Errorf("only %d timelines with a measured handshake", shown)
	}
	t.Logf("%d timelines with a measured handshake", shown)
}
