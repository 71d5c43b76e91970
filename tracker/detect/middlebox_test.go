package detect

import (
	"strings"
	"testing"

	"github.com/wirestate/wirestate/tracker"
	tt "github.com/wirestate/wirestate/tracker/trackertest"
)

// TestMiddleboxReset runs RSTs of every shape a kernel sends (an accept
// queue overflow, a lost connection, an abort) once with the claimed
// sender's TTL and once with another: only the second is middlebox-reset,
// and then the detectors that would blame the claimed sender stay quiet.
// The client's packets arrive with TTL 64, the server's with 63 (one
// router between the server and the capture point).
func TestMiddleboxReset(t *testing.T) {
	request := func() *tt.Convo { return tt.Handshake().Add("A", "P.", 1001, 5001, 100, 1e5) }
	established := func() *tt.Convo {
		return request().Add("B", "P.", 5001, 1101, 50, 1e6).Add("A", ".", 1101, 5051, 0, 1e5)
	}
	cases := []struct {
		name  string
		convo *tt.Convo
		v6    bool
		want  []string // kinds reported
		not   []string // kinds not reported
		text  []string // phrases of the middlebox-reset summary
		flag  bool     // ConnMiddleboxReset expected
	}{
		{
			name:  "the listener's RST on a full accept queue (same TTL)",
			convo: request().Add("B", "R", 5001, 0, 0, 1e5).TTLs(64, 63),
			want:  []string{"accept-queue-overflow-rst"},
			not:   []string{"middlebox-reset"},
		},
		{
			name:  "the same bare RST from a router (nftables reject with tcp reset)",
			convo: request().Add("B", "R", 5001, 0, 0, 1e5).TTL(64, 0).TTLs(64, 63),
			want:  []string{"middlebox-reset"},
			not:   []string{"accept-queue-overflow-rst", "half-open", "abortive-close"},
			text: []string{"RST injected by something with no router between it and the capture point, not sent by 10.0.0.2:80 (1 hop from the capture point): TTL 64 vs 63 on its other packets",
				"reset the connection to 10.0.0.1:40000", "in window"},
			flag: true,
		},
		{
			name:  "a kernel's RST for a connection it lost (IP ID 0, same TTL)",
			convo: established().Add("A", "P.", 1101, 5051, 10, 1e6).Add("B", "R", 5051, 0, 0, 1e5).TTL(63, 0).TTLs(64, 63),
			want:  []string{"half-open"},
			not:   []string{"middlebox-reset"},
		},
		{
			name:  "a bare RST from something 3 hops from the capture point",
			convo: established().Add("A", "P.", 1101, 5051, 10, 1e6).Add("B", "R", 5051, 0, 0, 1e5).TTL(61, 0).TTLs(64, 52),
			want:  []string{"middlebox-reset"},
			not:   []string{"half-open", "abortive-close"},
			text:  []string{"something 3 hops from the capture point, not sent by 10.0.0.2:80 (12 hops from the capture point): TTL 61 vs 52"},
			flag:  true,
		},
		{
			name:  "an application's abort (RST with ACK, same TTL)",
			convo: established().Add("B", "R.", 5051, 1101, 0, 1e6).TTLs(64, 63),
			want:  []string{"abortive-close"},
			not:   []string{"middlebox-reset"},
		},
		{
			name:  "a RST with ACK in the client's name from an appliance (initial TTL 255)",
			convo: established().Add("A", "R.", 1101, 5051, 0, 1e6).TTL(254, 0).TTLs(64, 63),
			want:  []string{"middlebox-reset"},
			not:   []string{"abortive-close"},
			text:  []string{"something 1 hop from the capture point, not sent by 10.0.0.1:40000 (with no router between it and the capture point): TTL 254 vs 64"},
			flag:  true,
		},
		{
			name:  "IPv6 says hop limit",
			convo: ipv6(established().Add("B", "R.", 5051, 1101, 0, 1e6).TTL(64, 0).TTLs(64, 63)),
			v6:    true,
			want:  []string{"middlebox-reset"},
			text:  []string{"hop limit 64 vs 63"},
			flag:  true,
		},
		{
			name: "a path that changed just before: not judged",
			convo: established().TTLs(64, 63).Add("B", ".", 5051, 1101, 0, 1e6).TTL(62, 0).
				Add("B", "R.", 5051, 1101, 0, 1e6).TTL(64, 0),
			want: []string{},
			not:  []string{"middlebox-reset"},
		},
		{
			name: "a path that changed and settled: judged against the new TTL",
			convo: established().TTLs(64, 63).Add("B", ".", 5051, 1101, 0, 1e6).TTL(62, 0).
				Add("B", ".", 5051, 1101, 0, 1e6).TTL(62, 0).Add("B", "R.", 5051, 1101, 0, 1e6).TTL(63, 0),
			want: []string{"middlebox-reset"},
			text: []string{"TTL 63 vs 62"},
			flag: true,
		},
		{
			name:  "no TTL known (synthetic segments)",
			convo: request().Add("B", "R", 5001, 0, 0, 1e5).TTL(64, 0),
			want:  []string{"accept-queue-overflow-rst"},
			not:   []string{"middlebox-reset"},
		},
		{
			name: "a middlebox resetting both ends: one finding",
			convo: established().Add("B", "R", 5051, 0, 0, 1e5).TTL(64, 0).
				Add("A", "R", 1101, 0, 0, 1e5).TTL(63, 0).TTLs(62, 61),
			want: []string{"middlebox-reset"},
			flag: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			col := runDetect(tc.convo.Segs, Config{})
			got := kinds(col.Findings)
			for _, k := range tc.want {
				if got[k] == 0 {
					t.Errorf("no %s finding: %v", k, got)
				}
			}
			for _, k := range tc.not {
				if got[k] != 0 {
					t.Errorf("unexpected %s finding: %v", k, got)
				}
			}
			if got["middlebox-reset"] > 1 {
				t.Errorf("%d middlebox-reset findings, want at most 1", got["middlebox-reset"])
			}
			for _, f := range col.Findings {
				if f.Kind != tracker.AnomMiddleboxReset {
					continue
				}
				for _, w := range tc.text {
					if !strings.Contains(f.Summary, w) {
						t.Errorf("summary %q lacks %q", f.Summary, w)
					}
				}
				if f.Severity != tracker.SevWarning {
					t.Errorf("severity %v, want warning", f.Severity)
				}
				if len(f.Evidence) != 2 || f.Evidence[0].Frame != f.Evidence[1].Frame || f.Evidence[0].Frame == 0 {
					t.Errorf("evidence %+v: want the RST's frame twice", f.Evidence)
				}
				if !tc.v6 && !strings.Contains(f.Evidence[0].What, "IP ID") {
					t.Errorf("IPv4 evidence %q lacks the IP ID", f.Evidence[0].What)
				}
			}
			if len(col.Recs) != 1 {
				t.Fatalf("%d records", len(col.Recs))
			}
			c := &col.Recs[0].Conn
			if c.MiddleboxReset() != tc.flag {
				t.Errorf("MiddleboxReset() = %v, want %v", c.MiddleboxReset(), tc.flag)
			}
			if c.Has(tracker.AnomMiddleboxReset) != tc.flag {
				t.Errorf("anomaly bit %v, want %v", c.Has(tracker.AnomMiddleboxReset), tc.flag)
			}
		})
	}
}

// ipv6 moves a conversation to IPv6 addresses.
func ipv6(c *tt.Convo) *tt.Convo {
	a := tracker.Endpoint{Addr: tracker.AddrFromSlice([]byte{0x20, 0x01, 0xd, 0xb8, 15: 1}), Port: tt.A.Port}
	b := tracker.Endpoint{Addr: tracker.AddrFromSlice([]byte{0x20, 0x01, 0xd, 0xb8, 15: 2}), Port: tt.B.Port}
	for i := range c.Segs {
		s := &c.Segs[i]
		if s.Src == tt.A {
			s.Src, s.Dst = a, b
		} else {
			s.Src, s.Dst = b, a
		}
	}
	return c
}

// TestMiddleboxResetDisabled checks that --no-middlebox-reset reports
// nothing and marks nothing, while the RST still is not blamed on its
// claimed sender as half-open.
func TestMiddleboxResetDisabled(t *testing.T) {
	c := tt.Handshake().Add("A", "P.", 1001, 5001, 100, 1e5).Add("B", "P.", 5001, 1101, 50, 1e6).Add("A", ".", 1101, 5051, 0, 1e5).
		Add("A", "P.", 1101, 5051, 10, 1e6).Add("B", "R", 5051, 0, 0, 1e5).TTL(64, 0).TTLs(64, 63)
	col := runDetect(c.Segs, Config{Disabled: map[string]bool{"middlebox-reset": true}})
	if got := kinds(col.Findings); got["middlebox-reset"] != 0 || got["half-open"] != 0 {
		t.Errorf("findings %v, want neither middlebox-reset nor half-open", got)
	}
	if col.Recs[0].Conn.MiddleboxReset() {
		t.Error("connection marked though the detector is off")
	}
}
