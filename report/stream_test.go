package report

import (
	"strings"
	"testing"
	"time"
)

func TestStatsLine(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		name string
		rec  Stats
		want []string
	}{
		{"quiet", Stats{Packets: 10, TCPPackets: 9, Received: 10}, []string{"03:04:05.000000 STATS", "packets 10 (9 TCP)", "0 dropped", "findings: none"}},
		{"drops and hosts", Stats{Packets: 10, Received: 15, Dropped: 4, IfDropped: 1, Connections: 3, Evicted: 2,
			Hosts:    []StatsHost{{Host: "10.0.0.2", States: map[string]int{"TIME_WAIT": 1, "ESTABLISHED": 2}}},
			Findings: map[string]uint64{"syn-unanswered": 2, "connection-refused": 1}},
			[]string{"4 dropped, 1 dropped by the interface", "3 held", "2 evicted", "10.0.0.2: ESTABLISHED 2, TIME_WAIT 1", "findings: connection-refused 1, syn-unanswered 2"}},
		{"afpacket workers", Stats{Packets: 30, Received: 31, Dropped: 1, Freezes: 2, Engine: "afpacket",
			Workers: []StatsWorker{{Packets: 10}, {Packets: 20, Dropped: 1}}},
			[]string{"1 dropped, 0 dropped by the interface, 2 ring freezes (per worker: 10/0, 20/1 packets/dropped)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.rec.Time = now.UnixNano()
			l := tc.rec.line(false)
			if strings.Count(l, "\n") != 1 || !strings.HasSuffix(l, "\n") {
				t.Errorf("not one line: %q", l)
			}
			for _, w := range tc.want {
				if !strings.Contains(l, w) {
					t.Errorf("%q lacks %q", l, w)
				}
			}
		})
	}
}
