package detect

import (
	"testing"

	"github.com/wirestate/wirestate/tracker"
	"github.com/wirestate/wirestate/tracker/seqnum"
	tt "github.com/wirestate/wirestate/tracker/trackertest"
)

// staleConvo is a connection closed by the client, a new incarnation on the
// same 4-tuple, and a segment of the old one arriving inside 2MSL; reply, if
// set, adds the server's answer to it.
func staleConvo(reply func(c *tt.Convo)) *tt.Convo {
	c := tt.Handshake().Add("A", "P.", 1001, 5001, 20, 1e6).Add("B", ".", 5001, 1021, 0, 1e5).
		Add("A", "F.", 1021, 5001, 0, 1e6).Add("B", "F.", 5001, 1022, 0, 1e5).Add("A", ".", 1022, 5002, 0, 1e5).
		Add("A", "S", 90000, 0, 0, 500e6).Add("B", "S.", 70000, 90001, 0, 1e5).Add("A", ".", 90001, 70001, 0, 1e5).
		Add("A", "P.", 1001, 5001, 20, 100e6) // the old request, delayed
	if reply != nil {
		reply(c)
	}
	return c.Add("A", "P.", 90001, 70001, 10, 2e9).Add("B", ".", 70001, 90011, 0, 1e5)
}

// TestStaleSegmentVerdict checks that a stale segment the receiver
// demonstrably discarded (its reply D-SACKs the range) is a warning, and
// critical otherwise.
func TestStaleSegmentVerdict(t *testing.T) {
	dsack := func(left, right uint32) func(c *tt.Convo) {
		return func(c *tt.Convo) {
			c.Add("B", ".", 70001, 90001, 0, 1e5)
			s := &c.Segs[len(c.Segs)-1]
			s.Opts |= tracker.OptSACK
			s.SACKLeft, s.SACKRight = 1001, 1021
			if left != 0 {
				s.SACKLeft, s.SACKRight = seqnum.Value(left), seqnum.Value(right)
			}
		}
	}
	for _, tc := range []struct {
		name  string
		reply func(c *tt.Convo)
		want  tracker.Severity
	}{
		{"no reply", nil, tracker.SevCritical},
		{"a plain duplicate ACK", func(c *tt.Convo) { c.Add("B", ".", 70001, 90001, 0, 1e5) }, tracker.SevCritical},
		{"D-SACK of the stale range", dsack(0, 0), tracker.SevWarning},
		{"SACK of another range", dsack(1005, 1010), tracker.SevCritical},
	} {
		t.Run(tc.name, func(t *testing.T) {
			col := runDetect(staleConvo(tc.reply).Segs, Config{})
			n := 0
			for _, f := range col.Findings {
				if f.Kind != tracker.AnomStaleSegment {
					continue
				}
				n++
				if f.Severity != tc.want {
					t.Errorf("stale-segment on %s is %s, want %s: %s", f.UID, f.Severity, tc.want, f.Summary)
				}
			}
			if n != 2 {
				t.Fatalf("%d stale-segment findings, want one on each incarnation (all: %v)", n, kinds(col.Findings))
			}
			for _, r := range col.Recs {
				if !r.Conn.Has(tracker.AnomStaleSegment) {
					t.Errorf("record %s lacks the stale-segment mark", r.Conn.UID)
				}
			}
		})
	}
}
