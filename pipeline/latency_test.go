package pipeline

import (
	"context"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/wirestate/wirestate/report"
	"github.com/wirestate/wirestate/tracker/detect"
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
		full, text := analyze(path, "json"), analyze(path, "text")
		if len(full.Records) != len(text.Records) {
			t.Fatalf("%s: %d records measured in full, %d for text", path, len(full.Records), len(text.Records))
		}
		for i := range full.Records {
			f, x := &full.Records[i].Metrics, &text.Records[i].Metrics
			fh, fok := f.HandshakeRTT()
			xh, xok := x.HandshakeRTT()
			if fh != xh || fok != xok || f.App != x.App || f.On() != x.On() {
				t.Errorf("%s %s: handshake %d %v / %d %v, app %+v / %+v, on %v / %v", filepath.Base(path), full.Records[i].Conn.UID,
					fh, fok, xh, xok, f.App, x.App, f.On(), x.On())
			}
			if fok {
				handshakes++
			}
			turns += int(f.App.N)
		}
		fr, _ := full.Latency.Top(-1)
		xr, _ := text.Latency.Top(-1)
		if len(fr) != len(xr) {
			t.Errorf("%s: %d listeners in full, %d for text", path, len(fr), len(xr))
		}
	}
	if handshakes < 2000 || turns < 2000 {
		t.Errorf("only %d handshakes and %d turns compared", handshakes, turns)
	}
	t.Logf("%d captures: %d handshakes, %d request/response turns alike", len(paths), handshakes, turns)
}
