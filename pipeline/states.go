package pipeline

import (
	"cmp"
	"slices"
	"sort"
	"sync"

	"github.com/wirestate/wirestate/internal/chunk"
	"github.com/wirestate/wirestate/internal/rank"
	"github.com/wirestate/wirestate/report"
	"github.com/wirestate/wirestate/tracker"
)

// StateRecorder counts, for every host, its connections in each endpoint
// state over the capture: what `ss -tan` on that host would have listed,
// second by second. It makes one tracker.Observer per shard (Observer) that
// turns each segment's transitions into per-host deltas, without keeping
// any connection's timeline; Timeline merges the shards after the run.
//
// A connection is counted on the host of each endpoint from its first
// packet, in the state that endpoint started in (CLOSED for a new
// connection, ESTABLISHED for one picked up mid-stream), and follows every
// transition the tracker makes, inferred ones included. An endpoint in
// TIME_WAIT is released when the 2*MSL timer fires (the record's DoneAt +
// 2*MSL). Connections that leave the table for another reason (the end of
// the capture, the idle timeout, eviction, a new incarnation) stay counted
// in their last state, as the per-host view of the text report counts them.
type StateRecorder struct {
	msl    int64
	mu     sync.Mutex
	shards []*stateObserver
}

// NewStateRecorder returns a recorder for a tracker whose maximum segment
// lifetime is msl nanoseconds (0 selects tracker.DefaultMSL).
func NewStateRecorder(msl int64) *StateRecorder {
	if msl <= 0 {
		msl = tracker.DefaultMSL
	}
	return &StateRecorder{msl: msl}
}

// Observer returns a new observer for one shard. It is safe to call from
// several goroutines; each observer must then be used by one shard only.
func (r *StateRecorder) Observer() tracker.Observer {
	o := &stateObserver{twoMSL: 2 * r.msl, live: map[tracker.UID][2]tracker.State{}, hosts: map[tracker.Addr]uint32{}}
	r.mu.Lock()
	r.shards = append(r.shards, o)
	r.mu.Unlock()
	return o
}

// stateDelta is one change of one host's count of one state.
type stateDelta struct {
	t     int64
	host  uint32
	state uint8
	d     int8
}

// stateObserver is the per-shard half of a StateRecorder.
type stateObserver struct {
	twoMSL int64
	// live holds the states counted for each connection in the table.
	live  map[tracker.UID][2]tracker.State
	hosts map[tracker.Addr]uint32
	addrs []tracker.Addr
	conns []int // connections per host index
	// deltas grows in fixed chunks: a flood brings millions, and a slice
	// would copy them all at each doubling.
	deltas chunk.List[stateDelta]
}

func (o *stateObserver) host(a tracker.Addr) uint32 {
	h, ok := o.hosts[a]
	if !ok {
		h = uint32(len(o.addrs))
		o.hosts[a] = h
		o.addrs = append(o.addrs, a)
		o.conns = append(o.conns, 0)
	}
	return h
}

func (o *stateObserver) add(t int64, h uint32, st tracker.State, d int8) {
	if st.Open() {
		o.deltas.Add(&stateDelta{t: t, host: h, state: uint8(st), d: d})
	}
}

// Packet turns the segment's transitions into deltas.
func (o *stateObserver) Packet(a *tracker.Analysis) {
	c := a.Conn
	if c == nil {
		return
	}
	trs := a.Transitions()
	cur, ok := o.live[c.UID]
	if !ok {
		if a.Kind&tracker.KindNewConn == 0 && len(trs) == 0 {
			return
		}
		// The states before this packet: those of the first transition of
		// each side, or the current ones when a side did not move.
		var seen [2]bool
		for s := tracker.Orig; s <= tracker.Resp; s++ {
			cur[s] = c.Peers[s].State
		}
		for _, tr := range trs {
			if !seen[tr.Side] {
				seen[tr.Side] = true
				cur[tr.Side] = tr.From
			}
		}
		t := a.Seg.Time
		for s := tracker.Orig; s <= tracker.Resp; s++ {
			h := o.host(c.Endpoint(s).Addr)
			o.conns[h]++
			o.add(t, h, cur[s], +1)
		}
	}
	for _, tr := range trs {
		if cur[tr.Side] == tr.To {
			continue
		}
		h := o.host(c.Endpoint(tr.Side).Addr)
		o.add(tr.Time, h, cur[tr.Side], -1)
		o.add(tr.Time, h, tr.To, +1)
		cur[tr.Side] = tr.To
	}
	o.live[c.UID] = cur
}

// Advance does nothing: the recorder needs no timers of its own.
func (o *stateObserver) Advance(now int64) {}

// Finish releases the TIME_WAIT endpoints of a connection closed by the
// 2*MSL timer and forgets the connection.
func (o *stateObserver) Finish(c *tracker.Conn, reason tracker.EndReason) {
	cur, ok := o.live[c.UID]
	if !ok {
		return
	}
	delete(o.live, c.UID)
	if reason != tracker.EndClosed {
		return
	}
	at := c.DoneAt + o.twoMSL
	for s := tracker.Orig; s <= tracker.Resp; s++ {
		if cur[s] != c.Peers[s].State {
			h := o.host(c.Endpoint(s).Addr)
			o.add(at, h, cur[s], -1)
			o.add(at, h, c.Peers[s].State, +1)
		}
	}
}

// Close does nothing.
func (o *stateObserver) Close(now int64) {}

// hostConns is one host seen and its connection count.
type hostConns struct {
	host  tracker.Addr
	conns int
}

// hostConns returns every host seen with its connection count, in no
// particular order. A flood of spoofed sources brings a million of them:
// this is a compact list, not one HostSeries each.
func (r *StateRecorder) hostConns() []hostConns {
	r.mu.Lock()
	defer r.mu.Unlock()
	byHost := map[tracker.Addr]int{}
	for _, o := range r.shards {
		for i, a := range o.addrs {
			byHost[a] += o.conns[i]
		}
	}
	out := make([]hostConns, 0, len(byHost))
	for a, n := range byHost {
		out = append(out, hostConns{a, n})
	}
	return out
}

// NumHosts returns the number of hosts seen.
func (r *StateRecorder) NumHosts() int { return len(r.hostConns()) }

// maxBuckets bounds the time buckets of a StateTimeline.
const maxBuckets = 1800

// bucketSteps are the bucket widths, in milliseconds, a StateTimeline
// chooses from: the smallest that keeps the buckets within maxBuckets; a
// step under a second only when it gives at most maxFineBuckets, so that a
// capture of a few seconds is still drawn in some detail.
var bucketSteps = []int64{10, 20, 50, 100, 200, 500,
	1e3, 2e3, 5e3, 10e3, 15e3, 30e3, 60e3, 120e3, 300e3, 600e3, 900e3, 1800e3, 3600e3, 7200e3, 21600e3, 43200e3, 86400e3}

// maxFineBuckets bounds the buckets of a sub-second step.
const maxFineBuckets = 100

// Timeline merges the shards' deltas into per-bucket peaks for the hosts
// chosen: every host in pin, then the hosts with the most connections, up
// to maxHosts in all. first and last bound the capture (nanoseconds since
// the epoch). Call it after the tracker is closed.
func (r *StateRecorder) Timeline(first, last int64, maxHosts int, pin []tracker.Addr) *report.StateTimeline {
	all := r.hostConns()
	connsOf := make(map[tracker.Addr]int, len(all))
	for _, h := range all {
		connsOf[h.host] = h.conns
	}
	chosen := map[tracker.Addr]int{}
	var hosts []report.HostSeries
	choose := func(a tracker.Addr) {
		if _, ok := chosen[a]; ok || len(hosts) >= maxHosts {
			return
		}
		if _, ok := connsOf[a]; !ok {
			return
		}
		chosen[a] = len(hosts)
		hosts = append(hosts, report.HostSeries{Host: a, Conns: connsOf[a]})
	}
	for _, a := range pin {
		choose(a)
	}
	// Then the busiest hosts (lowest addresses among equals), picked
	// without sorting them all.
	less := func(i, j int32) bool { return all[i].host.Less(&all[j].host) }
	top := rank.Busiest(len(all), max(maxHosts, 0), func(i int32) int { return all[i].conns }, less)
	slices.SortFunc(top, func(i, j int32) int {
		switch {
		case all[i].conns != all[j].conns:
			return cmp.Compare(all[j].conns, all[i].conns)
		case less(i, j):
			return -1
		case less(j, i):
			return 1
		}
		return 0
	})
	for _, i := range top {
		choose(all[i].host)
	}
	sort.SliceStable(hosts, func(i, j int) bool { return hosts[i].Conns > hosts[j].Conns })
	for i := range hosts {
		chosen[hosts[i].Host] = i
	}

	if last < first {
		last = first
	}
	span := (last - first) / 1e6 // ms
	step := bucketSteps[len(bucketSteps)-1]
	for _, s := range bucketSteps {
		if limit := int64(maxBuckets); span/s+2 <= limit && (s >= 1e3 || span/s+2 <= maxFineBuckets) {
			step = s
			break
		}
	}
	stepNS := step * 1e6
	start := first - ((first%stepNS)+stepNS)%stepNS
	n := int((last-start)/stepNS) + 1
	tl := &report.StateTimeline{Start: start, Step: stepNS, N: n, Hosts: hosts}

	r.mu.Lock()
	var ds []stateDelta
	for _, o := range r.shards {
		remap := make([]int32, len(o.addrs))
		for i, a := range o.addrs {
			if j, ok := chosen[a]; ok {
				remap[i] = int32(j)
			} else {
				remap[i] = -1
			}
		}
		for _, chunk := range o.deltas.Chunks {
			for _, d := range chunk {
				if j := remap[d.host]; j >= 0 {
					d.host = uint32(j)
					ds = append(ds, d)
				}
			}
		}
	}
	r.mu.Unlock()
	sort.Slice(ds, func(i, j int) bool {
		if ds[i].t != ds[j].t {
			return ds[i].t < ds[j].t
		}
		return ds[i].d < ds[j].d // releases before arrivals at the same instant
	})

	type cell struct {
		cur  int32
		last int // last bucket filled
	}
	cells := make([][tracker.NumStates]cell, len(hosts))
	for i := range cells {
		for s := range cells[i] {
			cells[i][s].last = -1
		}
	}
	// fill carries the current count of (h, s) into buckets up to b.
	fill := func(h, s, b int) {
		c := &cells[h][s]
		p := hosts[h].Peak[s]
		for k := c.last + 1; k <= b; k++ {
			if c.cur > p[k] {
				p[k] = c.cur
			}
		}
		if b > c.last {
			c.last = b
		}
	}
	for _, d := range ds {
		h, s := int(d.host), int(d.state)
		if hosts[h].Peak[s] == nil {
			hosts[h].Peak[s] = make([]int32, n)
		}
		b := int((d.t - start) / stepNS)
		b = max(0, min(b, n-1))
		fill(h, s, b)
		c := &cells[h][s]
		c.cur += int32(d.d)
		if c.cur > hosts[h].Peak[s][b] {
			hosts[h].Peak[s][b] = c.cur
		}
	}
	for h := range hosts {
		for s := range hosts[h].Peak {
			if hosts[h].Peak[s] != nil {
				fill(h, s, n-1)
			}
		}
	}
	// A state whose deltas cancel within one instant leaves all zeros.
	for h := range hosts {
		for s, p := range hosts[h].Peak {
			zero := true
			for _, v := range p {
				if v != 0 {
					zero = false
					break
				}
			}
			if zero {
				hosts[h].Peak[s] = nil
			}
		}
	}
	return tl
}
