package pipeline

import (
	"time"

	"github.com/wirestate/wirestate/report"
	"github.com/wirestate/wirestate/tracker"
)

// statsHosts is how many of the busiest hosts a status line lists.
const statsHosts = 5

// hostCount counts one host's endpoints by state.
type hostCount struct {
	host   tracker.Addr
	total  int
	states [tracker.NumStates]int
}

// census counts the connections the tracker holds, by side and state, and
// per host (both ends of each connection count for their host).
type census struct {
	conns  int
	bySide [2][tracker.NumStates]int
	hosts  []hostCount // the busiest, most connections first
}

// takeCensus walks the tracker's connections (each shard under its lock).
// Hosts are counted in a slice indexed through a map, so that the walk
// allocates per new host only the map's growth.
func takeCensus(tr *tracker.Tracker, top int) *census {
	c := &census{}
	idx := map[tracker.Addr]int32{}
	var hosts []hostCount
	count := func(a tracker.Addr, st tracker.State) {
		if !st.Open() {
			return
		}
		i, ok := idx[a]
		if !ok {
			i = int32(len(hosts))
			idx[a] = i
			hosts = append(hosts, hostCount{host: a})
		}
		h := &hosts[i]
		h.total++
		h.states[st]++
	}
	tr.Each(func(cn *tracker.Conn) {
		c.conns++
		for side := range cn.Peers {
			c.bySide[side][cn.Peers[side].State]++
		}
		count(cn.Orig.Addr, cn.Peers[tracker.Orig].State)
		count(cn.Resp.Addr, cn.Peers[tracker.Resp].State)
	})
	c.hosts = topHosts(hosts, top)
	return c
}

// topHosts returns the n hosts with the most endpoints, ties by address,
// picked in one pass: a sort of every host would name each address it
// compares.
func topHosts(hosts []hostCount, n int) []hostCount {
	before := func(a, b *hostCount) bool {
		if a.total != b.total {
			return a.total > b.total
		}
		return a.host.String() < b.host.String()
	}
	best := make([]hostCount, 0, max(n, 0))
	for i := range hosts {
		h := &hosts[i]
		if n <= 0 || len(best) == n && !before(h, &best[n-1]) {
			continue
		}
		j := len(best)
		if j < n {
			best = append(best, hostCount{})
		} else {
			j = n - 1 // the last one leaves
		}
		for ; j > 0 && before(h, &best[j-1]); j-- {
			best[j] = best[j-1]
		}
		best[j] = *h
	}
	return best
}

// writeStats takes a census and writes a status line (text) or a stats
// record (JSON), and updates the metrics. final marks the last one, after
// the capture stopped (the tracker is closed: no census).
func (r *liveRun) writeStats(now time.Time, final bool) {
	var c *census
	if final {
		c = &census{}
	} else {
		c = takeCensus(r.tr, statsHosts)
		r.metrics.census(c)
	}
	conns, evicted, idle, byKind := r.sink.counts()
	rec := report.Stats{
		Time: now.UnixNano(), Type: "stats", TS: float64(now.UnixNano()) / 1e9, Final: final, Elapsed: now.Sub(r.start).Seconds(),
		Packets: r.ctrs.packets.Load(), TCPPackets: r.ctrs.segments.Load(),
		Received: r.cc.Received, Dropped: r.cc.Dropped, IfDropped: r.cc.IfDropped, Freezes: r.cc.Freezes,
		Engine:      string(r.engine),
		Connections: c.conns, Emitted: conns, Evicted: evicted, IdleExpired: idle,
		Hosts: []report.StatsHost{}, Findings: byKind, KafkaDropped: dropped(r.cfg.Outputs),
	}
	if len(r.workers) > 1 {
		for _, w := range r.workers {
			cc := w.counters()
			sw := report.StatsWorker{Packets: w.packets.Load(), TCPPackets: w.segments.Load(),
				Received: cc.Received, Dropped: cc.Dropped, Freezes: cc.Freezes}
			if !final && w.shard != nil {
				sw.Connections = w.shard.Held()
			}
			rec.Workers = append(rec.Workers, sw)
		}
	}
	for _, h := range c.hosts {
		sh := report.StatsHost{Host: h.host.String(), States: map[string]int{}}
		for s, n := range h.states {
			if n > 0 {
				sh.States[tracker.State(s).String()] = n
			}
		}
		rec.Hosts = append(rec.Hosts, sh)
	}
	r.sink.stats(&rec)
}
