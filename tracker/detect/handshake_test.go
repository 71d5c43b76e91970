package detect

import (
	"testing"

	"github.com/wirestate/wirestate/tracker"
	tt "github.com/wirestate/wirestate/tracker/trackertest"
)

// TestOverflowRSTIsTheKernelsReset checks that accept-queue-overflow-rst is
// reported only for what Linux sends when a handshake's ACK finds the accept
// queue full (tcp_abort_on_overflow=1): a RST that acknowledges none of the
// client's data, from a listener that sent nothing but its SYN-ACK, within
// overflowRSTWindow of the client's handshake ACK (plus the SYN to SYN-ACK
// time of the capture point). Resets from established sockets (application
// aborts) and from late answers to scanners and odd clients are not
// overflows.
func TestOverflowRSTIsTheKernelsReset(t *testing.T) {
	const ms = int64(1e6)
	overflow := "accept-queue-overflow-rst"
	// near is a handshake captured near the listener: the SYN-ACK follows
	// the SYN by 20 µs, the client's ACK comes a 1 ms round trip later.
	near := func() *tt.Convo {
		return tt.New().Add("A", "S", 1000, 0, 0, ms).Add("B", "S.", 5000, 1001, 0, 20e3).Add("A", ".", 1001, 5001, 0, ms)
	}
	cases := []struct {
		name     string
		convo    *tt.Convo
		overflow bool     // accept-queue-overflow-rst must (or must not) be reported
		want     []string // kinds that must also be reported
	}{
		{
			name:     "bare RST 6 µs after the handshake ACK (the lab capture)",
			convo:    near().Add("B", "R", 5001, 0, 0, 6e3),
			overflow: true,
		},
		{
			name:     "bare RST after the handshake ACK and early client data",
			convo:    tt.Handshake().Add("A", "P.", 1001, 5001, 100, 1e5).Add("B", "R", 5001, 0, 0, 1e5),
			overflow: true,
		},
		{
			name:     "RST with an ACK of nothing but the SYN, 1 ms after the ACK",
			convo:    tt.Handshake().Add("B", "R.", 5001, 1001, 0, ms),
			overflow: true,
		},
		{
			name:     "bare RST 9 ms after the ACK",
			convo:    near().Add("B", "R", 5001, 0, 0, 9*ms),
			overflow: true,
		},
		{
			name: "captured near the client: the RST takes a 30 ms round trip",
			convo: tt.New().Add("A", "S", 1000, 0, 0, ms).Add("B", "S.", 5000, 1001, 0, 30*ms).
				Add("A", ".", 1001, 5001, 0, 1e5).Add("B", "R", 5001, 0, 0, 30*ms),
			overflow: true,
		},
		{
			name: "application abort: RST-ACK covering the 169-byte request 44 µs after it",
			convo: tt.Handshake().Add("A", "P.", 1001, 5001, 169, 1e5).
				Add("B", "R.", 5001, 1170, 0, 44e3),
			want: []string{"abortive-close"},
		},
		{
			name: "application abort: the request rides on the handshake ACK",
			convo: tt.New().Add("A", "S", 1000, 0, 0, ms).Add("B", "S.", 5000, 1001, 0, ms).
				Add("A", "P.", 1001, 5001, 169, ms).Add("B", "R.", 5001, 1170, 0, 44e3),
			want: []string{"abortive-close"},
		},
		{
			name:  "bare RST 11 ms after the ACK",
			convo: near().Add("B", "R", 5001, 0, 0, 11*ms),
		},
		{
			name: "scanner: banner-grab data 3 s after the handshake, reset with an ACK of it",
			convo: tt.Handshake().Add("A", "P.", 1001, 5001, 20, 3e9).
				Add("B", "R.", 5001, 1021, 0, 50e3),
			want: []string{"abortive-close"},
		},
		{
			name: "scanner: banner-grab data 3 s after the handshake, bare RST",
			convo: tt.Handshake().Add("A", "P.", 1001, 5001, 20, 3e9).
				Add("B", "R", 5001, 0, 0, 50e3),
		},
		{
			name: "client FIN before the handshake completes, RST-ACK 303 ms later",
			convo: tt.New().Add("A", "S", 1000, 0, 0, ms).Add("B", "S.", 5000, 1001, 0, ms).
				Add("A", "F.", 1001, 5001, 0, 1e5).Add("B", "R.", 5001, 1002, 0, 303*ms),
		},
		{
			name: "client FIN before the handshake completes, bare RST 303 ms later",
			convo: tt.New().Add("A", "S", 1000, 0, 0, ms).Add("B", "S.", 5000, 1001, 0, ms).
				Add("A", "F.", 1001, 5001, 0, 1e5).Add("B", "R", 5001, 0, 0, 303*ms),
		},
		{
			name: "captured near the client: RST 100 ms after the ACK on a 30 ms path",
			convo: tt.New().Add("A", "S", 1000, 0, 0, ms).Add("B", "S.", 5000, 1001, 0, 30*ms).
				Add("A", ".", 1001, 5001, 0, 1e5).Add("B", "R", 5001, 0, 0, 100*ms),
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			col := runDetect(tc.convo.Segs, Config{})
			got := kinds(col.Findings)
			if (got[overflow] > 0) != tc.overflow {
				t.Errorf("%s reported %d times, want it %v; findings %v", overflow, got[overflow], tc.overflow, col.Findings)
			}
			for _, k := range tc.want {
				if got[k] == 0 {
					t.Errorf("no %s finding; got %v", k, got)
				}
			}
			if !tc.overflow {
				for _, f := range col.Findings {
					if f.Severity >= tracker.SevCritical {
						t.Errorf("critical %s finding: %s", f.Kind, f.Summary)
					}
				}
			}
		})
	}
}
