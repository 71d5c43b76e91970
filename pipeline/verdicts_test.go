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

// TestSelectionNarrowsFindings checks that --host and --port narrow the
// findings as they narrow the connections (#18): on the abortive-close
// capture, one connection's port keeps that connection's findings only.
func TestSelectionNarrowsFindings(t *testing.T) {
	all := analyzeCapture(t, "abortive-close-server.pcap", Selection{})
	if len(all.Records) < 2 || len(all.Findings) < 2 {
		t.Fatalf("want several connections and findings, got %d and %d", len(all.Records), len(all.Findings))
	}
	r := &all.Records[0]
	sel, err := NewSelection(nil, nil, []uint{uint(r.Conn.Orig.Port)})
	if err != nil {
		t.Fatal(err)
	}
	res := analyzeCapture(t, "abortive-close-server.pcap", sel)
	if len(res.Records) != 1 || res.Records[0].Conn.UID != r.Conn.UID {
		t.Fatalf("port %d selected %d records", r.Conn.Orig.Port, len(res.Records))
	}
	if len(res.Findings) == 0 || len(res.Findings) >= len(all.Findings) {
		t.Fatalf("port %d kept %d of %d findings", r.Conn.Orig.Port, len(res.Findings), len(all.Findings))
	}
	for _, f := range res.Findings {
		if f.UID != 0 && f.UID != r.Conn.UID {
			t.Errorf("finding %s on %s kept for port %d", f.Kind, f.UID, r.Conn.Orig.Port)
		}
		if f.UID == 0 && f.Resp != r.Conn.Resp && f.Orig != r.Conn.Orig {
			member := false
			for _, u := range f.UIDs {
				member = member || u == r.Conn.UID
			}
			if !member {
				t.Errorf("aggregate %s (%s) kept without the selected connection", f.Kind, f.Scope)
			}
		}
	}
	host, err := NewSelection(nil, []string{"192.0.2.99"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res := analyzeCapture(t, "abortive-close-server.pcap", host); len(res.Findings) != 0 || len(res.Records) != 0 {
		t.Errorf("an absent host kept %d findings and %d records", len(res.Findings), len(res.Records))
	}
}
