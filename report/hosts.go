package report

import (
	"sort"

	"github.com/wirestate/wirestate/tracker"
)

// HostStates is what `ss -tan` run on one host would have listed: its
// connections counted by state, and the ports it was seen listening on.
type HostStates struct {
	Host tracker.Addr
	// Counts is indexed by tracker.State; Inferred counts how many of each
	// rest on assumed delivery.
	Counts   [tracker.NumStates]int
	Inferred [tracker.NumStates]int
	// Listening lists ports that answered a SYN with a SYN-ACK.
	Listening []uint16
}

// Total returns the number of open connections counted.
func (h *HostStates) Total() int {
	n := 0
	for st, c := range h.Counts {
		if tracker.State(st).Open() {
			n += c
		}
	}
	return n
}

// Hosts builds the per-host view from a snapshot, or, when snap is nil, from
// the records' final states. Hosts are sorted by address.
func Hosts(records []tracker.Record, snap []tracker.ConnState) []HostStates {
	byHost := map[tracker.Addr]*HostStates{}
	get := func(a tracker.Addr) *HostStates {
		h := byHost[a]
		if h == nil {
			h = &HostStates{Host: a}
			byHost[a] = h
		}
		return h
	}
	count := func(e tracker.Endpoint, st tracker.State, inferred bool) {
		if !st.Open() {
			return
		}
		h := get(e.Addr)
		h.Counts[st]++
		if inferred {
			h.Inferred[st]++
		}
	}
	listen := map[tracker.Endpoint]bool{}
	for i := range records {
		c := &records[i].Conn
		if c.Peers[tracker.Resp].SawSYNACK() {
			listen[c.Resp] = true
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
	for ep := range listen {
		h := get(ep.Addr)
		h.Listening = append(h.Listening, ep.Port)
	}
	out := make([]HostStates, 0, len(byHost))
	for _, h := range byHost {
		sort.Slice(h.Listening, func(i, j int) bool { return h.Listening[i] < h.Listening[j] })
		out = append(out, *h)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Host.Netip().Less(out[j].Host.Netip()) })
	return out
}
