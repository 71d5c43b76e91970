package pipeline

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/wirestate/wirestate/report"
	"github.com/wirestate/wirestate/tracker"
	"github.com/wirestate/wirestate/tracker/detect"
)

// analyzeCapture runs a sample capture through the pipeline with the
// default settings and the given selection.
func analyzeCapture(t *testing.T, name string, sel Selection) *report.Result {
	t.Helper()
	text, _ := report.NewStream("text", io.Discard, report.StreamOptions{})
	cfg := &Config{Files: []string{"../pcaps/" + name}, MSL: 30 * time.Second, IdleTimeout: time.Hour,
		MaxConns: 1 << 20, Detect: detect.Defaults(), Select: sel, Outputs: []Output{{Stream: text}}}
	res, err := Analyze(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestStaleSegmentDiscarded checks the real kernel's answer to a stale
// segment: Linux rejected it (PAWS) and D-SACKed its range in frame 20, so
// the finding is a warning that cites the reply.
func TestStaleSegmentDiscarded(t *testing.T) {
	res := analyzeCapture(t, "stale-segment.pcap", Selection{})
	n := 0
	for _, f := range res.Findings {
		if f.Kind != tracker.AnomStaleSegment {
			continue
		}
		n++
		if f.Severity != tracker.SevWarning || !strings.Contains(f.Summary, "D-SACK") {
			t.Errorf("stale-segment %s: %s %q, want a warning naming the D-SACK", f.UID, f.Severity, f.Summary)
		}
		if len(f.Evidence) != 2 || f.Evidence[1].Frame != 20 {
			t.Errorf("evidence %+v: want the stale segment and the D-SACK reply (frame 20)", f.Evidence)
		}
	}
	if n != 2 {
		t.Fatalf("%d stale-segment findings, want 2", n)
	}
}
