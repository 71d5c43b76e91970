package report

import (
	"bytes"
	"sort"

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
	// Counts accumulate in a pointer-free slice indexed through a map: a
	// flood can bring a million spoofed hosts, and growing a slice of
	// structs holding slices would pay a write barrier per element moved.
	type acc struct {
		host             tracker.Addr
		counts, inferred [tracker.NumStates]int32
	}
	index := make(map[tracker.Addr]int32, min(len(records)+len(snap), 1<<22)+64)
	var hosts chunked[acc] // fixed chunks: growing never moves them
	at := func(i int32) *acc { return &hosts.chunks[i/collectorChunk][i%collectorChunk] }
	get := func(a tracker.Addr) int32 {
		i, ok := index[a]
		if !ok {
			i = int32(hosts.n)
			index[a] = i
			hosts.add(&acc{host: a})
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
			get(c.Resp.Addr)
		}
	}
	// Sort an index, not the structs, into address order.
	order := make([]int32, hosts.n)
	for i := range order {
		order[i] = int32(i)
	}
	sort.Slice(order, func(i, j int) bool { return addrLess(&at(order[i]).host, &at(order[j]).host) })
	pos := make([]int32, hosts.n)
	out := make([]HostStates, hosts.n)
	for k, i := range order {
		h := at(i)
		out[k] = HostStates{Host: h.host, Counts: h.counts, Inferred: h.inferred}
		pos[i] = int32(k)
	}
	for ep := range listen {
		h := &out[pos[index[ep.Addr]]]
		h.Listening = append(h.Listening, ep.Port)
	}
	for i := range out {
		if l := out[i].Listening; len(l) > 1 {
			sort.Slice(l, func(a, b int) bool { return l[a] < l[b] })
		}
	}
	return out
}

// addrLess orders addresses as net/netip does (IPv4 before IPv6, then by
// bytes) without converting them.
func addrLess(a, b *tracker.Addr) bool {
	if a4, b4 := a.Is4(), b.Is4(); a4 != b4 {
		return a4
	}
	return bytes.Compare(a[:], b[:]) < 0
}

// Busiest returns at most n hosts: those with the most open connections
// (listeners first among equals), in address order, and the number left
// out. A capture with a flood from spoofed sources can name a million hosts.
func Busiest(hosts []HostStates, n int) ([]HostStates, int) {
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
