package report

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/wirestate/wirestate/tracker"
	"github.com/wirestate/wirestate/tracker/trackertest"
)

// referenceBusiest is the obvious version of BusiestHosts's selection, kept
// to check it: it returns at most n hosts: those with the most open connections
// (listeners first among equals), in address order, and the number left
// out. A capture with a flood from spoofed sources can name a million hosts.
func referenceBusiest(hosts []HostStates, n int) ([]HostStates, int) {
	if len(hosts) <= n {
		return hosts, 0
	}
	load := make([]int, len(hosts))
	order := make([]int, len(hosts))
	for i := range hosts {
		load[i] = hosts[i].Total() + len(hosts[i].Listening)
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool { return load[order[i]] > load[order[j]] })
	order = order[:n]
	sort.Ints(order) // back to address order
	kept := make([]HostStates, n)
	for i, k := range order {
		kept[i] = hosts[k]
	}
	return kept, len(hosts) - n
}

// hostRecords makes records between many hosts with uneven loads: a few
// busy servers, many clients, and a flood of one-connection sources whose
// loads tie.
func hostRecords(rng *rand.Rand, n int) []tracker.Record {
	addr := func(i int) tracker.Addr {
		if i%7 == 0 {
			var a tracker.Addr
			a[0], a[1], a[14], a[15] = 0x20, 0x01, byte(i>>8), byte(i)
			return a
		}
		return tracker.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
	}
	states := []tracker.State{tracker.Established, tracker.SynSent, tracker.TimeWait, tracker.CloseWait, tracker.Closed}
	rs := make([]tracker.Record, n)
	for i := range rs {
		c := &rs[i].Conn
		c.UID = tracker.UID(i + 1)
		c.Orig = tracker.Endpoint{Addr: addr(rng.IntN(n)), Port: uint16(1024 + i)}
		c.Resp = tracker.Endpoint{Addr: addr(rng.IntN(5) * 1000), Port: uint16(80 + rng.IntN(3))}
		c.Peers[tracker.Orig].State = states[rng.IntN(len(states))]
		c.Peers[tracker.Resp].State = states[rng.IntN(len(states))]
	}
	return rs
}

func TestBusiestHostsMatchesFullSort(t *testing.T) {
	for _, tc := range []struct{ records, n int }{
		{0, 5}, {10, 50}, {200, 1}, {200, 7}, {5000, 50}, {5000, 1000}, {20000, 3},
	} {
		t.Run(fmt.Sprintf("%d records, %d hosts", tc.records, tc.n), func(t *testing.T) {
			rs := hostRecords(rand.New(rand.NewPCG(uint64(tc.records), uint64(tc.n))), tc.records)
			// A third of the servers' ends answered with a SYN-ACK, as a
			// real handshake leaves them, so that some hosts listen.
			answered := trackertest.Run(trackertest.Handshake().Segs, tracker.Config{}).Recs[0].Conn.Peers[tracker.Resp]
			if !answered.SawSYNACK() {
				t.Fatal("the handshake's responder did not answer with a SYN-ACK")
			}
			for i := range rs {
				if i%3 == 0 {
					st := rs[i].Conn.Peers[tracker.Resp].State
					rs[i].Conn.Peers[tracker.Resp] = answered
					rs[i].Conn.Peers[tracker.Resp].State = st
				}
			}
			all := Hosts(rs, nil)
			want, wantOmitted := referenceBusiest(all, tc.n)
			got, omitted := BusiestHosts(rs, nil, nil, tc.n)
			if omitted != wantOmitted || len(got) != len(want) {
				t.Fatalf("got %d hosts, %d omitted; want %d, %d", len(got), omitted, len(want), wantOmitted)
			}
			for i := range want {
				if fmt.Sprint(got[i]) != fmt.Sprint(want[i]) {
					t.Fatalf("host %d: got %+v, want %+v", i, got[i], want[i])
				}
			}
		})
	}
}
