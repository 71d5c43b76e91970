package report

import (
	"slices"

	"github.com/wirestate/wirestate/internal/chunk"
	"github.com/wirestate/wirestate/internal/rank"
	"github.com/wirestate/wirestate/tracker"
)

// HostStates is what `ss -tan` run on one host would have listed: its
// connections counted by state, and the ports it was seen listening on.
type HostStates struct {
	Host tracker.Addr
	// Counts is indexed by tracker.State; Inferred counts how many of each
	// rest on assumed delivery.
	Counts   [tracker.NumStates]int32
	Inferred [tracker.NumStates]int32
	// Listening lists ports that answered a SYN with a SYN-ACK.
	Listening []uint16
}

// Total returns the number of open connections counted.
func (h *HostStates) Total() int {
	n := 0
	for st, c := range h.Counts {
		if tracker.State(st).Open() {
			n += int(c)
		}
	}
	return n
}

// Hosts builds the per-host view from a snapshot, or, when snap is nil, from
// the records' final states. Hosts are sorted by address.
func Hosts(records []tracker.Record, snap []tracker.ConnState) []HostStates {
	hosts, _ := BusiestHosts(records, snap, nil, -1)
	return hosts
}

// BusiestHosts is Hosts limited to at most n hosts (all when n < 0): those
// with the most open connections, listeners first among equals, then the
// lowest addresses, returned in address order with the number left out. A
// flood from spoofed sources can name a million hosts; only the n shown are
// ever sorted or built. Without a snapshot, folded flood members count for
// their victims (their spoofed sources are not listed).
func BusiestHosts(records []tracker.Record, snap []tracker.ConnState, folded []tracker.Folded, n int) ([]HostStates, int) {
	// Counts accumulate in a pointer-free slice indexed through a map.
	type acc struct {
		host             tracker.Addr
		counts, inferred [tracker.NumStates]int32
		listening        int32
	}
	index := make(map[tracker.Addr]int32, 1024) // a few hosts usually: grown, not presized per record
	var hosts chunk.List[acc]                   // fixed chunks: growing never moves them
	at := func(i int32) *acc { return hosts.At(int(i)) }
	get := func(a tracker.Addr) int32 {
		i, ok := index[a]
		if !ok {
			i = int32(hosts.N)
			index[a] = i
			hosts.Add(&acc{host: a})
		}
		return i
	}
	count := func(e tracker.Endpoint, st tracker.State, inferred bool) {
		if !st.Open() {
			return
		}
		h := at(get(e.Addr))
		h.counts[st]++
		if inferred {
			h.inferred[st]++
		}
	}
	if snap == nil {
		for i := range records {
			c := &records[i].Conn
			count(c.Orig, c.Peers[tracker.Orig].State, c.Peers[tracker.Orig].Inferred())
			count(c.Resp, c.Peers[tracker.Resp].State, c.Peers[tracker.Resp].Inferred())
		}
		for i := range folded {
			f := &folded[i]
			for st, k := range f.VictimStates {
				if k > 0 && tracker.State(st).Open() {
					at(get(f.Victim.Addr)).counts[st] += k
				}
			}
		}
	} else {
		for i := range snap {
			s := &snap[i]
			count(s.Orig, s.States[tracker.Orig], s.Inferred[tracker.Orig])
			count(s.Resp, s.States[tracker.Resp], s.Inferred[tracker.Resp])
		}
	}
	listen := map[tracker.Endpoint]bool{}
	for i := range records {
		c := &records[i].Conn
		if c.Peers[tracker.Resp].SawSYNACK() && !listen[c.Resp] {
			listen[c.Resp] = true
			at(get(c.Resp.Addr)).listening++
		}
	}
	load := func(h *acc) int {
		l := int(h.listening)
		for st, c := range h.counts {
			if tracker.State(st).Open() {
				l += int(c)
			}
		}
		return l
	}
	less := func(i, j int32) bool { return addrLess(&at(i).host, &at(j).host) }
	chosen := rank.Busiest(hosts.N, n, func(i int32) int { return load(at(i)) }, less)
	slices.SortFunc(chosen, func(a, b int32) int {
		if less(a, b) {
			return -1
		}
		if less(b, a) {
			return 1
		}
		return 0
	})
	out := make([]HostStates, len(chosen))
	pos := make(map[int32]int, len(chosen))
	for k, i := range chosen {
		h := at(i)
		out[k] = HostStates{Host: h.host, Counts: h.counts, Inferred: h.inferred}
		pos[i] = k
	}
	for ep := range listen {
		if k, ok := pos[index[ep.Addr]]; ok {
			out[k].Listening = append(out[k].Listening, ep.Port)
		}
	}
	for i := range out {
		if l := out[i].Listening; len(l) > 1 {
			slices.Sort(l)
		}
	}
	return out, hosts.N - len(chosen)
}

// addrLess orders addresses as net/netip does (IPv4 before IPv6, then by
// bytes) without converting them.
func addrLess(a, b *tracker.Addr) bool { return a.Less(b) }
