package detect

import (
	"testing"

	"github.com/wirestate/wirestate/tracker"
	tt "github.com/wirestate/wirestate/tracker/trackertest"
)

// TestScansAreInfo checks internet background radiation (#18): stateless
// scans and crafted handshakes are a scan (info), never a half-open
// connection or an accept-queue overflow; a real client whose late SYN-ACK
// its kernel resets is no scan.
func TestScansAreInfo(t *testing.T) {
	for _, tc := range []struct {
		name  string
		convo *tt.Convo
		scan  int
	}{
		{"stateless scanner: the SYN-ACK reset by the scanner's kernel, a banner grab 3 s later reset by the listener",
			tt.New().Add("A", "S", 0, 0, 0, 1e6).Add("B", "S.", 5000, 1, 0, 1e5).Add("A", "R", 1, 0, 0, 1e5).
				Add("A", "P.", 1, 5001, 20, 3e9).Add("B", "R", 5001, 0, 0, 1e5), 1},
		{"FIN in the handshake's ACK, reset 303 ms later",
			tt.New().Add("A", "S", 1000, 0, 0, 1e6).Add("B", "S.", 5000, 1001, 0, 1e5).Add("A", "F.", 1001, 5001, 0, 1e5).
				Add("B", "R.", 5001, 1002, 0, 303e6), 1},
		{"FIN in the handshake's ACK, bare RST 303 ms later",
			tt.New().Add("A", "S", 1000, 0, 0, 1e6).Add("B", "S.", 5000, 1001, 0, 1e5).Add("A", "F.", 1001, 5001, 0, 1e5).
				Add("B", "R", 5001, 0, 0, 303e6), 1},
		{"a client that retried its SYN resets the late SYN-ACK",
			tt.New().Add("A", "S", 1000, 0, 0, 1e6).Add("A", "S", 1000, 0, 0, 1e9).Add("A", "S", 1000, 0, 0, 2e9).
				Add("B", "S.", 5000, 1001, 0, 1e9).Add("A", "R", 1001, 0, 0, 1e5), 0},
		{"a normal handshake and close",
			tt.Handshake().Add("A", "F.", 1001, 5001, 0, 1e6).Add("B", "F.", 5001, 1002, 0, 1e6).Add("A", ".", 1002, 5002, 0, 1e5), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			col := runDetect(tc.convo.Segs, Config{})
			got := kinds(col.Findings)
			if got["scan"] != tc.scan {
				t.Errorf("%d scan findings, want %d (all: %v)", got["scan"], tc.scan, got)
			}
			for _, f := range col.Findings {
				if tc.scan > 0 && f.Severity > tracker.SevInfo {
					t.Errorf("%s %s on a scan: %s", f.Severity, f.Kind, f.Summary)
				}
			}
		})
	}
	// Two probes from one source make a per-source summary.
	c := tt.New().Add("A", "S", 0, 0, 0, 1e6).Add("B", "S.", 5000, 1, 0, 1e5).Add("A", "R", 1, 0, 0, 1e5)
	c.EndB.Port = 22
	c.Add("A", "S", 0, 0, 0, 1e6).Add("B", "S.", 7000, 1, 0, 1e5).Add("A", "R", 1, 0, 0, 1e5)
	col := runDetect(c.Segs, Config{})
	per := 0
	for _, f := range col.Findings {
		if f.Kind == tracker.AnomScan && f.UID == 0 {
			per++
			if f.Count != 2 || f.Scope != tt.A.Addr.String() {
				t.Errorf("per-source scan %q counts %d, want %s and 2", f.Scope, f.Count, tt.A.Addr)
			}
		}
	}
	if per != 1 {
		t.Errorf("%d per-source scan findings, want 1", per)
	}
}
