package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

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
func takeCensus(tr *tracker.Tracker, top int) *census {
	c := &census{}
	byHost := map[tracker.Addr]*hostCount{}
	count := func(a tracker.Addr, st tracker.State) {
		if !st.Open() {
			return
		}
		h := byHost[a]
		if h == nil {
			h = &hostCount{host: a}
			byHost[a] = h
		}
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
	c.hosts = topHosts(byHost, top)
	return c
}

// topHosts returns the n hosts with the most endpoints, ties by address.
func topHosts(m map[tracker.Addr]*hostCount, n int) []hostCount {
	out := make([]hostCount, 0, len(m))
	for _, h := range m {
		out = append(out, *h)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].total != out[j].total {
			return out[i].total > out[j].total
		}
		return out[i].host.String() < out[j].host.String()
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// statsRecord is the JSON form of a status line: {"type":"stats",...}.
type statsRecord struct {
	Type        string            `json:"type"`
	TS          float64           `json:"ts"`
	Final       bool              `json:"final,omitempty"`
	Elapsed     float64           `json:"elapsed"`
	Packets     uint64            `json:"packets"`
	TCPPackets  uint64            `json:"tcp_packets"`
	Received    uint64            `json:"received"`
	Dropped     uint64            `json:"dropped"`
	IfDropped   uint64            `json:"if_dropped"`
	Connections int               `json:"connections"`
	Emitted     uint64            `json:"connections_ended"`
	Evicted     uint64            `json:"evicted"`
	IdleExpired uint64            `json:"idle_expired"`
	Hosts       []statsHost       `json:"hosts"`
	Findings    map[string]uint64 `json:"findings"`
}

// statsHost is one host's endpoints by state in a stats record.
type statsHost struct {
	Host   string         `json:"host"`
	States map[string]int `json:"states"`
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
	st := r.src.Stats()
	conns, evicted, idle, byKind := r.sink.counts()
	rec := statsRecord{
		Type: "stats", TS: float64(now.UnixNano()) / 1e9, Final: final, Elapsed: now.Sub(r.start).Seconds(),
		Packets: st.Packets, TCPPackets: st.TCPSegments,
		Received: r.cc.Received, Dropped: r.cc.Dropped, IfDropped: r.cc.IfDropped,
		Connections: c.conns, Emitted: conns, Evicted: evicted, IdleExpired: idle,
		Hosts: []statsHost{}, Findings: byKind,
	}
	for _, h := range c.hosts {
		sh := statsHost{Host: h.host.String(), States: map[string]int{}}
		for s, n := range h.states {
			if n > 0 {
				sh.States[tracker.State(s).String()] = n
			}
		}
		rec.Hosts = append(rec.Hosts, sh)
	}
	switch {
	case r.sink.jw != nil:
		b, _ := json.Marshal(&rec)
		r.sink.writeRaw(append(b, '\n'))
	case r.sink.tw != nil:
		r.sink.writeRaw([]byte(statsLine(&rec, now, r.fl.LocalTime)))
	}
}

// statsLine formats a stats record as one line of text.
func statsLine(rec *statsRecord, now time.Time, local bool) string {
	if !local {
		now = now.UTC()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s STATS    packets %d (%d TCP); capture: %d received, %d dropped, %d dropped by the interface",
		now.Format("15:04:05.000000"), rec.Packets, rec.TCPPackets, rec.Received, rec.Dropped, rec.IfDropped)
	if rec.Final {
		fmt.Fprintf(&b, "; connections ended: %d", rec.Emitted)
	} else {
		fmt.Fprintf(&b, "; connections: %d held, %d ended", rec.Connections, rec.Emitted)
	}
	if rec.Evicted > 0 || rec.IdleExpired > 0 {
		fmt.Fprintf(&b, " (%d evicted, %d expired idle)", rec.Evicted, rec.IdleExpired)
	}
	for _, h := range rec.Hosts {
		fmt.Fprintf(&b, "; %s: %s", h.Host, stateCounts(h.States))
	}
	if len(rec.Findings) > 0 {
		kinds := make([]string, 0, len(rec.Findings))
		for k := range rec.Findings {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		parts := make([]string, len(kinds))
		for i, k := range kinds {
			parts[i] = fmt.Sprintf("%s %d", k, rec.Findings[k])
		}
		fmt.Fprintf(&b, "; findings: %s", strings.Join(parts, ", "))
	} else {
		b.WriteString("; findings: none")
	}
	b.WriteByte('\n')
	return b.String()
}

// stateCounts formats a host's states in RFC 793 order: "ESTABLISHED 3,
// TIME_WAIT 1".
func stateCounts(m map[string]int) string {
	var parts []string
	for s := tracker.State(0); int(s) < tracker.NumStates; s++ {
		if n := m[s.String()]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", s, n))
		}
	}
	return strings.Join(parts, ", ")
}
