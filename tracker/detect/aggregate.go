package detect

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/wirestate/wirestate/tracker"
)

// Aggregate makes the findings about many connections: per listener
// (accept-queue overflows, refusals, server-side aborts in bulk, SYN
// floods), per service (CLOSE_WAIT), and per host (TIME_WAIT load,
// ephemeral-port use). It marks the kinds it adds on the member records and
// returns the new findings, members' own records of new kinds included.
//
// folded holds the flood members that were counted instead of kept as
// records (see FloodMember); they count towards syn-flood and rst-ack-flood.
func Aggregate(records []tracker.Record, findings []tracker.Finding, folded []tracker.Folded, cfg Config) []tracker.Finding {
	cfg.fill()
	idx := make(map[tracker.UID]int, len(records))
	for i := range records {
		idx[records[i].Conn.UID] = i
	}
	var out []tracker.Finding
	add := func(f tracker.Finding) {
		if cfg.Enabled(f.Kind) {
			out = append(out, f)
		}
	}
	group := func(kind tracker.AnomalyKind, scope func(f *tracker.Finding) string, min int) map[string][]*tracker.Finding {
		g := map[string][]*tracker.Finding{}
		for i := range findings {
			f := &findings[i]
			if f.Kind == kind && f.Scope == "" {
				k := scope(f)
				g[k] = append(g[k], f)
			}
		}
		for k, v := range g {
			if len(v) < min {
				delete(g, k)
			}
		}
		return g
	}
	listener := func(f *tracker.Finding) string { return f.Resp.String() }

	for _, kind := range []tracker.AnomalyKind{tracker.AnomAcceptQueueOverflowRST, tracker.AnomAcceptQueueOverflowDrop, tracker.AnomConnectionRefused} {
		for scope, members := range group(kind, listener, 2) {
			f := summarize(kind, scope, members, cfg.MaxMembers)
			switch kind {
			case tracker.AnomConnectionRefused:
				f.Summary = fmt.Sprintf("%d connection attempts to %s were refused with a RST", len(members), scope)
			default:
				f.Summary = fmt.Sprintf("listener %s: %d connections hit a full accept queue (%s)", scope, len(members), kind)
			}
			add(f)
		}
	}

	// Scans per source.
	source := func(f *tracker.Finding) string { return f.Orig.Addr.String() }
	for scope, members := range group(tracker.AnomScan, source, 2) {
		f := summarize(tracker.AnomScan, scope, members, cfg.MaxMembers)
		ports := map[uint16]bool{}
		for _, m := range members {
			ports[m.Resp.Port] = true
		}
		f.Summary = fmt.Sprintf("%s probed %d handshakes on %s without completing them as a client does (a scanner)",
			scope, len(members), plural(len(ports), "port"))
		add(f)
	}

	// Server-side aborts in bulk.
	serverAbort := func(f *tracker.Finding) string {
		i, ok := idx[f.UID]
		if !ok || len(f.Evidence) == 0 {
			return ""
		}
		c := &records[i].Conn
		if c.Peers[tracker.Resp].SawRST() && !c.Peers[tracker.Orig].SawRST() {
			return c.Resp.String()
		}
		return ""
	}
	for scope, members := range group(tracker.AnomAbortiveClose, serverAbort, cfg.AbortBulk) {
		if scope == "" {
			continue
		}
		f := summarize(tracker.AnomAbortiveClose, scope, members, cfg.MaxMembers)
		f.Severity = tracker.SevWarning
		f.Summary = fmt.Sprintf("server %s aborted %d established connections with a RST (SO_LINGER 0, crashes or application aborts in bulk)", scope, len(members))
		add(f)
	}

	// CLOSE_WAIT per service: the endpoint that is stuck.
	stuck := func(f *tracker.Finding) string {
		if i, ok := idx[f.UID]; ok {
			c := &records[i].Conn
			if c.Peers[tracker.Resp].State == tracker.CloseWait {
				return c.Resp.String()
			}
			return c.Orig.String()
		}
		return f.Resp.String()
	}
	for scope, members := range group(tracker.AnomCloseWaitStuck, stuck, 2) {
		f := summarize(tracker.AnomCloseWaitStuck, scope, members, cfg.MaxMembers)
		f.Summary = fmt.Sprintf("%s holds %s in CLOSE_WAIT; the oldest since %s", scope, plural(len(members), "connection"), stampNS(f.First))
		add(f)
	}

	// The per-host views only read the records: they run on a second
	// core meanwhile (the floods mark their members, a field they do not
	// read).
	var perHost []tracker.Finding
	done := make(chan struct{})
	go func() {
		defer close(done)
		perHost = append(timeWaitLoad(records, &cfg), ephemeralPorts(records, &cfg)...)
	}()
	out = append(out, pawsReuse(findings, records, &cfg)...)
	out = append(out, synFloods(findings, records, folded, idx, &cfg)...)
	<-done
	out = append(out, perHost...)
	for i := range out {
		if !cfg.Enabled(out[i].Kind) {
			continue
		}
		k := out[i].Kind
		for _, u := range out[i].UIDs {
			if j, ok := idx[u]; ok {
				records[j].Conn.Mark(k)
			}
		}
		if j, ok := idx[out[i].UID]; ok && out[i].UID != 0 {
			records[j].Conn.Mark(k)
		}
	}
	kept := out[:0]
	for _, f := range out {
		if cfg.Enabled(f.Kind) {
			kept = append(kept, f)
		}
	}
	return kept
}

// summarize builds an aggregate finding over members.
func summarize(kind tracker.AnomalyKind, scope string, members []*tracker.Finding, maxMembers int) tracker.Finding {
	sort.Slice(members, func(i, j int) bool { return members[i].Time < members[j].Time })
	f := tracker.Finding{Kind: kind, Scope: scope, Count: len(members)}
	f.First, f.Last = members[0].Time, members[len(members)-1].Time
	f.Time = f.First
	for _, m := range members {
		if m.Severity > f.Severity {
			f.Severity = m.Severity
		}
		if len(f.UIDs) < maxMembers {
			f.UIDs = append(f.UIDs, m.UID)
		}
	}
	f.Hint = members[0].Hint
	f.Orig, f.Resp = members[0].Orig, members[0].Resp
	for _, m := range members[:min(3, len(members))] {
		if len(m.Evidence) > 0 {
			e := m.Evidence[len(m.Evidence)-1]
			e.What = fmt.Sprintf("%s (%s)", e.What, m.UID)
			f.Evidence = append(f.Evidence, e)
		}
	}
	return f
}

// pawsReuse summarises, per listener, the 4-tuples reused inside 2MSL under
// the protection of TCP timestamps (PAWS): the detector marks them without a
// finding each. Member records are bounded by cfg.MaxMembers.
func pawsReuse(findings []tracker.Finding, records []tracker.Record, cfg *Config) []tracker.Finding {
	reported := map[tracker.UID]bool{}
	for i := range findings {
		if findings[i].Kind == tracker.AnomPortReuse {
			reported[findings[i].UID] = true
		}
	}
	byListener := map[tracker.Endpoint][]*tracker.Record{}
	for i := range records {
		c := &records[i].Conn
		if c.PrevUID != 0 && c.Has(tracker.AnomPortReuse) && !reported[c.UID] {
			byListener[c.Resp] = append(byListener[c.Resp], &records[i])
		}
	}
	hint := "Reuse under PAWS (tcp_tw_reuse with timestamps) is safe; many of them mean clients churn through ports: " +
		"reuse connections (keep-alive, pooling) or widen net.ipv4.ip_local_port_range."
	var out []tracker.Finding
	for listener, rs := range byListener {
		sort.Slice(rs, func(i, j int) bool { return rs[i].Conn.Start < rs[j].Conn.Start })
		agg := tracker.Finding{
			Kind: tracker.AnomPortReuse, Severity: tracker.AnomPortReuse.DefaultSeverity(), Scope: listener.String(), Count: len(rs),
			Resp: listener, First: rs[0].Conn.Start, Last: rs[len(rs)-1].Conn.Start, Time: rs[0].Conn.Start, Hint: hint,
			Summary: fmt.Sprintf("%s reused 4-tuples towards %s inside 2MSL, each protected by TCP timestamps (PAWS rejects old duplicates): tcp_tw_reuse at work",
				plural(len(rs), "connection"), listener),
		}
		for i, r := range rs {
			c := &r.Conn
			if i >= cfg.MaxMembers {
				break
			}
			agg.UIDs = append(agg.UIDs, c.UID)
			ev := tracker.Evidence{Time: c.Start, Frame: c.FirstFrame, What: fmt.Sprintf("SYN reusing the 4-tuple of %s", c.PrevUID)}
			if i < 3 {
				agg.Evidence = append(agg.Evidence, ev)
			}
			out = append(out, tracker.Finding{
				Kind: tracker.AnomPortReuse, Severity: tracker.AnomPortReuse.DefaultSeverity(), Time: c.Start, UID: c.UID, Orig: c.Orig, Resp: c.Resp, Hint: hint,
				Summary:  fmt.Sprintf("new connection on %s → %s inside 2MSL of the previous incarnation %s, protected by TCP timestamps (PAWS)", c.Orig, c.Resp, c.PrevUID),
				Evidence: []tracker.Evidence{ev},
			})
		}
		out = append(out, agg)
	}
	return out
}

// halfOpenAttempt reports whether c is a handshake the originator never
// completed: it sent only SYNs and the responder sent nothing or only
// SYN-ACKs.
func halfOpenAttempt(c *tracker.Conn) bool {
	o, r := &c.Peers[tracker.Orig], &c.Peers[tracker.Resp]
	if !o.SawSYN() || o.SawRST() || o.Bytes != 0 || o.Pkts > o.Retrans+1 || c.Flags&tracker.ConnFlipped != 0 {
		return false
	}
	return r.Pkts == 0 || r.SawSYNACK() && !r.SawRST() && r.Bytes == 0 && r.Pkts <= r.Retrans+1
}

// unsolicited reports whether c is a lone RST or ACK for a connection that
// was never seen.
func unsolicited(c *tracker.Conn) bool {
	o, r := &c.Peers[tracker.Orig], &c.Peers[tracker.Resp]
	return c.Flags&tracker.ConnGuessedOrig != 0 && o.Pkts+r.Pkts == 1 && o.Bytes+r.Bytes == 0
}

// FloodMember reports whether c could be one member of a flood of spoofed
// packets (a handshake its originator never completed, or a lone RST or ACK
// for a connection never seen), which flood, and the end it was aimed at.
// Past the first members per victim, a report may fold such records into a
// tracker.Folded count (see Aggregate).
func FloodMember(c *tracker.Conn) (kind tracker.AnomalyKind, victim tracker.Side, ok bool) {
	switch {
	case halfOpenAttempt(c):
		return tracker.AnomSYNFlood, tracker.Resp, true
	case unsolicited(c):
		if c.Peers[tracker.Resp].Pkts == 1 {
			return tracker.AnomRSTACKFlood, tracker.Orig, true
		}
		return tracker.AnomRSTACKFlood, tracker.Resp, true
	}
	return 0, 0, false
}

// floodRun is the densest run of a possible flood's members within the
// window: the members kept as records (run, for uids and evidence) and the
// totals that include folded members.
type floodRun struct {
	run         []member
	count       int
	sources     int
	answered    int
	first, last int64
	folded      int
}

// densestRun finds the densest run of ms (records, sorted by time) plus the
// members folded into fo (nil when none were). source names a member's
// source address. Folded members are counted by whole seconds, and their
// sources estimated.
func densestRun(ms []member, fo *tracker.Folded, window int64, source func(*tracker.Conn) tracker.Addr) floodRun {
	var r floodRun
	if fo == nil || fo.Count == 0 {
		r.run = densest(ms, window)
		set := map[tracker.Addr]bool{}
		for _, m := range r.run {
			set[source(&m.rec.Conn)] = true
			if m.rec.Conn.Peers[tracker.Resp].SawSYNACK() {
				r.answered++
			}
		}
		r.count, r.sources = len(r.run), len(set)
		if len(r.run) > 0 {
			r.first, r.last = r.run[0].t, r.run[len(r.run)-1].t
		}
		return r
	}
	all := tracker.Folded{}
	all.Merge(fo)
	for _, m := range ms {
		all.PerSecond[m.t/1e9]++
		a := source(&m.rec.Conn)
		all.Sources.Add(&a)
	}
	secs := max(window/1e9, 1)
	count, from := all.Densest(secs)
	lo, hi := from*1e9, (from+secs)*1e9
	for _, m := range ms {
		if m.t >= lo && m.t < hi {
			r.run = append(r.run, m)
			if m.rec.Conn.Peers[tracker.Resp].SawSYNACK() {
				r.answered++
			}
		}
	}
	r.count, r.sources, r.folded = count, all.Sources.Estimate(), fo.Count
	r.answered = min(r.answered+fo.Answered, count)
	r.first, r.last = max(fo.First, lo), min(fo.Last, hi-1)
	if len(r.run) > 0 {
		r.first, r.last = min(r.first, r.run[0].t), max(r.last, r.run[len(r.run)-1].t)
	}
	return r
}

// foldedNote is what a flood finding's summary adds about folded members.
func foldedNote(r *floodRun) string {
	if r.folded == 0 {
		return ""
	}
	return fmt.Sprintf(" (%d members past the first ones kept per victim were counted, not kept as records; sources estimated)", r.folded)
}

// floodMembers gathers the possible members of one kind of flood by
// victim (see FloodMember): the records, and the tallies of folded ones.
// Every victim with a tally is in members too, if with no record.
func floodMembers(records []tracker.Record, folded []tracker.Folded, kind tracker.AnomalyKind) (members map[tracker.Endpoint][]member, tallies map[tracker.Endpoint]*tracker.Folded) {
	members = map[tracker.Endpoint][]member{}
	for i := range records {
		c := &records[i].Conn
		if k, side, ok := FloodMember(c); ok && k == kind {
			v := c.Endpoint(side)
			members[v] = append(members[v], member{&records[i], c.Start})
		}
	}
	tallies = map[tracker.Endpoint]*tracker.Folded{}
	for i := range folded {
		if f := &folded[i]; f.Kind == kind {
			tallies[f.Victim] = f
			if _, ok := members[f.Victim]; !ok {
				members[f.Victim] = nil
			}
		}
	}
	return members, tallies
}

// member is one connection of a possible flood.
type member struct {
	rec *tracker.Record
	t   int64
}

// densest returns the largest run of members (sorted by time) within window.
func densest(ms []member, window int64) []member {
	best, bestLo, lo := 0, 0, 0
	for hi := range ms {
		for ms[hi].t-ms[lo].t > window {
			lo++
		}
		if hi-lo+1 > best {
			best, bestLo = hi-lo+1, lo
		}
	}
	return ms[bestLo : bestLo+best]
}

// synFloods finds listeners with many half-open handshakes from many
// sources within cfg.SYNFloodWindow (syn-flood), and reports each
// unanswered SYN-ACK (synack-unanswered) up to cfg.MaxMembers per listener.
func synFloods(findings []tracker.Finding, records []tracker.Record, folded []tracker.Folded, idx map[tracker.UID]int, cfg *Config) []tracker.Finding {
	byListener, tallies := floodMembers(records, folded, tracker.AnomSYNFlood)
	var out []tracker.Finding
	hint := "Keep net.ipv4.tcp_syncookies=1 so the SYN queue cannot fill, size net.ipv4.tcp_max_syn_backlog, lower " +
		"net.ipv4.tcp_synack_retries to free half-open entries sooner, and rate-limit SYNs upstream (nftables `limit rate`, synproxy)."
	origin := func(c *tracker.Conn) tracker.Addr { return c.Orig.Addr }
	for listener, ms := range byListener {
		sort.Slice(ms, func(i, j int) bool { return ms[i].t < ms[j].t })
		flood := map[tracker.UID]bool{}
		fo := tallies[listener]
		if len(ms) >= cfg.SYNFloodMin || fo != nil {
			fr := densestRun(ms, fo, int64(cfg.SYNFloodWindow), origin)
			run := fr.run
			if fr.count >= cfg.SYNFloodMin && fr.sources >= cfg.SYNFloodSources {
				for _, m := range run {
					flood[m.rec.Conn.UID] = true
				}
				agg := tracker.Finding{
					Kind: tracker.AnomSYNFlood, Severity: tracker.AnomSYNFlood.DefaultSeverity(),
					Scope: listener.String(), Count: fr.count, Resp: listener,
					First: fr.first, Last: fr.last, Time: fr.first, Hint: hint,
					Summary: fmt.Sprintf("SYN flood on %s: %d handshakes left half-open from %d sources within %s; the listener answered %d with a SYN-ACK that was never acknowledged%s",
						listener, fr.count, fr.sources, secs(fr.last-fr.first), fr.answered, foldedNote(&fr)),
				}
				for i, m := range run {
					if i < cfg.MaxMembers {
						agg.UIDs = append(agg.UIDs, m.rec.Conn.UID)
					}
					if i < 3 {
						agg.Evidence = append(agg.Evidence, tracker.Evidence{Time: m.t, Frame: m.rec.Conn.FirstFrame,
							What: fmt.Sprintf("SYN from %s (%s)", m.rec.Conn.Orig, m.rec.Conn.UID)})
					}
				}
				out = append(out, agg)
				for i, m := range run {
					if i >= cfg.MaxMembers {
						break
					}
					c := &m.rec.Conn
					out = append(out, tracker.Finding{
						Kind: tracker.AnomSYNFlood, Severity: tracker.AnomSYNFlood.DefaultSeverity(), Time: m.t,
						UID: c.UID, Orig: c.Orig, Resp: c.Resp, Hint: hint,
						Summary:  fmt.Sprintf("part of the SYN flood on %s: a SYN from %s that never completed its handshake", listener, c.Orig),
						Evidence: []tracker.Evidence{{Time: m.t, Frame: c.FirstFrame, What: "SYN"}},
					})
				}
				for _, m := range run[min(len(run), cfg.MaxMembers):] {
					m.rec.Conn.Mark(tracker.AnomSYNFlood)
				}
			}
		}
		// Each unanswered SYN-ACK: info alone, part of the flood's count
		// when in one. Bounded per listener.
		n := 0
		for _, m := range ms {
			c := &m.rec.Conn
			if !c.Peers[tracker.Resp].SawSYNACK() {
				continue
			}
			c.Mark(tracker.AnomSYNACKUnanswered)
			if n >= cfg.MaxMembers {
				continue
			}
			n++
			sev := tracker.AnomSYNACKUnanswered.DefaultSeverity()
			if flood[c.UID] {
				sev = tracker.SevWarning
			}
			r := &c.Peers[tracker.Resp]
			out = append(out, tracker.Finding{
				Kind: tracker.AnomSYNACKUnanswered, Severity: sev, Time: m.t,
				UID: c.UID, Orig: c.Orig, Resp: c.Resp,
				Summary: fmt.Sprintf("%s's SYN-ACK (sent %s) was never acknowledged by %s: a half-open handshake left in the SYN queue",
					c.Resp, times(int(r.Pkts)), c.Orig),
				Evidence: []tracker.Evidence{{Time: m.t, Frame: c.FirstFrame, What: "SYN; the SYN-ACK that answered it was never acknowledged"}},
				Hint: "A client that vanished after its SYN, or a spoofed SYN. Many at once from many sources is a SYN flood: " +
					"keep net.ipv4.tcp_syncookies=1, size net.ipv4.tcp_max_syn_backlog, and lower net.ipv4.tcp_synack_retries.",
			})
		}
	}
	out = append(out, rstAckFloods(records, folded, cfg)...)
	return out
}

// rstAckFloods finds endpoints receiving many RSTs or ACKs for connections
// that never existed, from many sources: a spoofed flood, or a middlebox
// that lost its state.
func rstAckFloods(records []tracker.Record, folded []tracker.Folded, cfg *Config) []tracker.Finding {
	byVictim, tallies := floodMembers(records, folded, tracker.AnomRSTACKFlood)
	var out []tracker.Finding
	for victim, ms := range byVictim {
		fo := tallies[victim]
		if len(ms) < cfg.SYNFloodMin && fo == nil {
			continue
		}
		sort.Slice(ms, func(i, j int) bool { return ms[i].t < ms[j].t })
		source := func(c *tracker.Conn) tracker.Addr {
			if c.Orig == victim {
				return c.Resp.Addr
			}
			return c.Orig.Addr
		}
		fr := densestRun(ms, fo, int64(cfg.SYNFloodWindow), source)
		run := fr.run
		if fr.count < cfg.SYNFloodMin || fr.sources < cfg.SYNFloodSources {
			continue
		}
		agg := tracker.Finding{
			Kind: tracker.AnomRSTACKFlood, Severity: tracker.AnomRSTACKFlood.DefaultSeverity(),
			Scope: victim.String(), Count: fr.count, Resp: victim,
			First: fr.first, Last: fr.last, Time: fr.first,
			Summary: fmt.Sprintf("%d lone RST or ACK segments for connections never seen went to %s from %d sources within %s: a spoofed RST/ACK flood, or a middlebox that lost its state%s",
				fr.count, victim, fr.sources, secs(fr.last-fr.first), foldedNote(&fr)),
			Hint: "Segments for unknown connections cost the victim a lookup and, for ACKs, a RST each (rate-limited by net.ipv4.tcp_invalid_ratelimit " +
				"and icmp limits). Drop them upstream with conntrack (`ct state invalid drop` in nftables) and rate limits.",
		}
		for i, m := range run {
			m.rec.Conn.Mark(tracker.AnomRSTACKFlood)
			if i < cfg.MaxMembers {
				agg.UIDs = append(agg.UIDs, m.rec.Conn.UID)
			}
			if i < 3 {
				agg.Evidence = append(agg.Evidence, tracker.Evidence{Time: m.t, Frame: m.rec.Conn.FirstFrame, What: "segment for an unknown connection (" + m.rec.Conn.UID.String() + ")"})
			}
		}
		out = append(out, agg)
	}
	return out
}

// timeWaitLoad reports, per host, the TIME_WAIT sockets it held over time
// and who closed first.
func timeWaitLoad(records []tracker.Record, cfg *Config) []tracker.Finding {
	// Each TIME_WAIT starts when its connection is done and lasts 2MSL,
	// so the ends are the starts shifted: sorting the starts orders both.
	type host struct {
		starts          []int64
		closedFirst     int
		conns           int
		sample          tracker.UID
		sampleOrig, res tracker.Endpoint
	}
	hosts := map[tracker.Addr]*host{}
	twoMSL := 2 * int64(cfg.MSL)
	each := func(fn func(h *host, c *tracker.Conn, first tracker.Side)) {
		for i := range records {
			c := &records[i].Conn
			first, ok := c.ClosedFirst()
			if !ok {
				continue
			}
			for s := tracker.Orig; s <= tracker.Resp; s++ {
				if !c.Peers[s].WasTimeWait() {
					continue
				}
				ep := c.Endpoint(s)
				h := hosts[ep.Addr]
				if h == nil {
					h = &host{sample: c.UID, sampleOrig: c.Orig, res: c.Resp}
					hosts[ep.Addr] = h
				}
				fn(h, c, first)
			}
		}
	}
	// Count first, so that each host's starts are allocated once.
	each(func(h *host, c *tracker.Conn, first tracker.Side) {
		h.conns++
		if first == tracker.Orig {
			h.closedFirst++
		}
	})
	for _, h := range hosts {
		h.starts = make([]int64, 0, h.conns)
	}
	each(func(h *host, c *tracker.Conn, _ tracker.Side) {
		at := c.DoneAt
		if at == 0 {
			at = c.Last
		}
		h.starts = append(h.starts, at)
	})
	var out []tracker.Finding
	for addr, h := range hosts {
		slices.Sort(h.starts)
		// Sweep: an end at the same time as a start comes first.
		cur, peak, peakAt, j := 0, 0, int64(0), 0
		for _, t := range h.starts {
			for h.starts[j]+twoMSL <= t {
				cur--
				j++
			}
			cur++
			if cur > peak {
				peak, peakAt = cur, t
			}
		}
		firstT, lastT := h.starts[0], h.starts[len(h.starts)-1]+twoMSL
		who := "the client (originator) closed first in all of them"
		switch {
		case h.closedFirst == 0:
			who = "the server (responder) closed first in all of them"
		case h.closedFirst < h.conns:
			who = fmt.Sprintf("the client closed first in %d and the server in %d", h.closedFirst, h.conns-h.closedFirst)
		}
		sev := tracker.AnomTimeWaitLoad.DefaultSeverity()
		if peak >= 100000 {
			sev = tracker.SevWarning
		}
		out = append(out, tracker.Finding{
			Kind: tracker.AnomTimeWaitLoad, Severity: sev, Time: peakAt,
			Scope: addr.String(), Count: h.conns, First: firstT, Last: lastT, Peak: peak,
			Orig: h.sampleOrig, Resp: h.res,
			Summary: fmt.Sprintf("%s held TIME_WAIT for %s (%s); at most %d TIME_WAIT sockets at once (at %s)",
				addr, plural(h.conns, "connection"), who, peak, stampNS(peakAt)),
			Hint: "The side that closes first holds TIME_WAIT for 2MSL (60 s on Linux). Many of them cost memory and, on clients, ephemeral ports: " +
				"reuse connections, let clients close first, enable net.ipv4.tcp_tw_reuse on clients, and keep net.ipv4.tcp_max_tw_buckets above the peak.",
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Scope < out[j].Scope })
	return out
}

// ephemeralPorts reports clients that used a large share of the ephemeral
// port range towards one server ip:port within 2MSL.
func ephemeralPorts(records []tracker.Record, cfg *Config) []tracker.Finding {
	type key struct {
		client tracker.Addr
		server tracker.Endpoint
	}
	type use struct {
		t    int64
		port uint16
	}
	uses := map[key][]use{}
	for i := range records {
		c := &records[i].Conn
		if c.Partial() || halfOpenAttempt(c) {
			continue // spoofed or abandoned SYNs are not a client's port use
		}
		k := key{c.Orig.Addr, c.Resp}
		uses[k] = append(uses[k], use{c.Start, c.Orig.Port})
	}
	rangeSize := cfg.PortRange[1] - cfg.PortRange[0] + 1
	twoMSL := 2 * int64(cfg.MSL)
	var out []tracker.Finding
	for k, us := range uses {
		if len(us) < rangeSize/10 {
			continue
		}
		sort.Slice(us, func(i, j int) bool { return us[i].t < us[j].t })
		counts := map[uint16]int{}
		lo, peak := 0, 0
		var peakAt int64
		for hi := range us {
			counts[us[hi].port]++
			for us[hi].t-us[lo].t > twoMSL {
				if counts[us[lo].port]--; counts[us[lo].port] == 0 {
					delete(counts, us[lo].port)
				}
				lo++
			}
			if len(counts) > peak {
				peak, peakAt = len(counts), us[hi].t
			}
		}
		if peak*10 < rangeSize {
			continue
		}
		sev := tracker.AnomEphemeralPorts.DefaultSeverity()
		if peak*2 > rangeSize {
			sev = tracker.SevWarning
		}
		out = append(out, tracker.Finding{
			Kind: tracker.AnomEphemeralPorts, Severity: sev, Time: peakAt,
			Scope: fmt.Sprintf("%s → %s", k.client, k.server), Count: peak,
			Resp: k.server, Orig: tracker.Endpoint{Addr: k.client},
			Summary: fmt.Sprintf("%s used %d distinct source ports towards %s within 2MSL (%s): %d%% of the default ip_local_port_range %d-%d",
				k.client, peak, k.server, secs(twoMSL), peak*100/rangeSize, cfg.PortRange[0], cfg.PortRange[1]),
			Hint: "Each connection to the same server ip:port needs its own source port until its TIME_WAIT ends. Reuse connections, " +
				"widen net.ipv4.ip_local_port_range, enable net.ipv4.tcp_tw_reuse on the client, or spread over more server addresses.",
		})
	}
	return out
}

// stampNS formats a packet time for summaries (UTC, microseconds).
func stampNS(ns int64) string {
	return time.Unix(0, ns).UTC().Format("2006-01-02 15:04:05.000000")
}
