package detect

import (
	"fmt"
	"time"

	"github.com/wirestate/wirestate/tracker"
	"github.com/wirestate/wirestate/tracker/seqnum"
)

// incarnation reports 4-tuple reuse (port-reuse) and segments of a previous
// incarnation arriving within 2MSL (stale-segment).
type incarnation struct {
	env *Env
	// pending holds, on the open incarnation, a stale segment whose
	// verdict waits for the receiver's reply.
	pending noteMap[staleNotes]
}

// staleNotes is a stale segment awaiting the receiver's reply: a D-SACK of
// its range (RFC 2883) proves the receiver discarded it.
type staleNotes struct {
	receiver    tracker.Endpoint // the endpoint the stale segment went to
	left, right seqnum.Value     // its sequence range
	deadline    int64
	old         tracker.UID
	oldOrig     tracker.Endpoint
	oldResp     tracker.Endpoint
	finding     tracker.Finding // the finding on the open incarnation, undecided
}

// staleReplyWait is how long a stale segment's verdict waits for the
// receiver's reply. Linux answers an unacceptable segment with a duplicate
// ACK at once, at most one per tcp_invalid_ratelimit (500 ms).
const staleReplyWait = int64(time.Second)

func newIncarnation(env *Env) Unit {
	return &incarnation{env: env, pending: newNotes[staleNotes](watchStale)}
}

func (u *incarnation) Packet(a *tracker.Analysis) {
	if n := u.pending.get(a.Conn); n != nil && a.Seg.Src == n.receiver {
		u.decide(a.Conn, n, a.Seg)
	}
	switch {
	case a.Kind&tracker.KindNewIncarnation != 0 && a.Other != nil:
		u.reuse(a)
	case a.Kind&tracker.KindPrevIncarnation != 0 && a.Other != nil:
		u.stale(a)
	}
}

func (u *incarnation) reuse(a *tracker.Analysis) {
	seg, c, old := a.Seg, a.Conn, a.Other
	if !old.Peers[tracker.Orig].SawSYNACK() && !old.Peers[tracker.Resp].SawSYNACK() && !old.Partial() {
		// The previous attempt never completed a handshake (refused or
		// unanswered): no endpoint holds TIME_WAIT, nothing old can
		// arrive, and reusing the port is harmless.
		return
	}
	twoMSL := 2 * int64(u.env.Cfg.MSL)
	sev := tracker.SevWarning // inside 2MSL, or the old one still open
	gap := seg.Time - old.DoneAt
	if old.Done() {
		if gap >= twoMSL {
			sev = tracker.AnomPortReuse.DefaultSeverity()
		} else if old.Peers[tracker.Orig].UsesTimestamps() && old.Peers[tracker.Resp].UsesTimestamps() && seg.Opts&tracker.OptTimestamp != 0 {
			// RFC 7323 PAWS rejects old duplicates by their timestamps,
			// which is what makes tcp_tw_reuse safe. Such reuse is
			// routine on busy clients: Aggregate summarises it per
			// listener instead of one finding each (and nothing is
			// formatted here, on the packet path).
			c.Mark(tracker.AnomPortReuse)
			old.Mark(tracker.AnomPortReuse)
			return
		}
	}
	var summary string
	if !old.Done() {
		summary = fmt.Sprintf("new connection on %s → %s while the previous incarnation %s was still open (%s / %s)",
			c.Orig, c.Resp, old.UID, old.Peers[tracker.Orig].State, old.Peers[tracker.Resp].State)
	} else {
		summary = fmt.Sprintf("new connection on %s → %s %s after the previous incarnation %s closed, inside 2MSL (%s)",
			c.Orig, c.Resp, secs(gap), old.UID, secs(twoMSL))
	}
	f := &tracker.Finding{
		Severity: sev, Time: seg.Time,
		Summary:  summary,
		Evidence: []tracker.Evidence{ev(seg, "SYN with a new ISN on the reused 4-tuple (previous uid %s)", old.UID)},
		Hint: "Reusing a 4-tuple inside 2MSL risks delayed segments of the old connection landing in the new one. Clients that churn " +
			"through ports should reuse connections (keep-alive, pooling), widen net.ipv4.ip_local_port_range, and rely on " +
			"net.ipv4.tcp_tw_reuse=1 with timestamps on, rather than SO_LINGER 0.",
	}
	u.env.Emit(c, tracker.AnomPortReuse, f)
	old.Mark(tracker.AnomPortReuse)
}

func (u *incarnation) stale(a *tracker.Analysis) {
	seg, old, cur := a.Seg, a.Conn, a.Other
	if !old.Done() {
		return // the side that kept the old connection: half-open's business
	}
	twoMSL := 2 * int64(u.env.Cfg.MSL)
	age := seg.Time - old.DoneAt
	if age >= twoMSL || !u.env.Cfg.Enabled(tracker.AnomStaleSegment) {
		return
	}
	s := a.From
	if n := u.pending.get(cur); n != nil {
		u.decide(cur, n, nil) // a second stale segment: the first one's reply never came
	}
	old.Mark(tracker.AnomStaleSegment)
	n := u.pending.add(cur)
	n.receiver, n.left, n.right = seg.Dst, seg.Seq, seg.Seq.Add(seg.SeqLen())
	n.deadline = seg.Time + staleReplyWait
	n.old, n.oldOrig, n.oldResp = old.UID, old.Orig, old.Resp
	n.finding = tracker.Finding{
		Severity: tracker.AnomStaleSegment.DefaultSeverity(), Time: seg.Time,
		Summary: fmt.Sprintf("a segment of the previous incarnation %s (seq %d, ack %d relative to it) arrived %s after it closed, inside 2MSL, while %s is open on the same 4-tuple: a delayed duplicate that TIME_WAIT exists to stop",
			old.UID, old.RelSeq(s, seg.Seq), old.RelSeq(s.Other(), seg.Ack), secs(age), cur.UID),
		Evidence: []tracker.Evidence{ev(seg, "segment with sequence numbers of %s", old.UID)},
		Hint: "Delayed duplicates are dangerous when a 4-tuple is reused inside 2MSL without PAWS: keep TCP timestamps on " +
			"(net.ipv4.tcp_timestamps=1), do not cut TIME_WAIT short (SO_LINGER 0, tcp_max_tw_buckets too low), and look for the path that delayed the segment.",
	}
}

// decide emits the stale-segment findings held in n on both incarnations.
// reply is the receiver's next segment, or nil when none came in time:
// when it reports the stale range as a duplicate (D-SACK: a first SACK
// block covering it, RFC 2883), the receiver demonstrably discarded the
// segment and the finding is a warning, not critical.
func (u *incarnation) decide(cur *tracker.Conn, n *staleNotes, reply *tracker.Segment) {
	u.pending.del(cur, n)
	f := n.finding
	if reply != nil && reply.Opts&tracker.OptSACK != 0 &&
		reply.SACKLeft.LessThanEq(n.left) && n.right.LessThanEq(reply.SACKRight) {
		f.Severity = tracker.SevWarning
		f.Summary += "; the receiver discarded it: its reply reports that range as a duplicate (D-SACK)"
		f.Evidence = append(f.Evidence, ev(reply, "D-SACK of the stale segment's range: the receiver discarded it"))
	}
	onOld := f
	onOld.Evidence = append([]tracker.Evidence(nil), f.Evidence...)
	onOld.UID, onOld.Orig, onOld.Resp = n.old, n.oldOrig, n.oldResp
	u.env.Emit(nil, tracker.AnomStaleSegment, &onOld)
	u.env.Emit(cur, tracker.AnomStaleSegment, &f)
}

// Advance decides the stale segments whose reply did not come in time.
func (u *incarnation) Advance(now int64) {
	if len(u.pending.m) == 0 {
		return
	}
	for c, n := range u.pending.m {
		if now > n.deadline {
			u.decide(c, n, nil)
		}
	}
}

// Finish decides a stale segment pending on a connection that ends.
func (u *incarnation) Finish(c *tracker.Conn, _ tracker.EndReason) {
	if n := u.pending.get(c); n != nil {
		u.decide(c, n, nil)
	}
}

// flowNotes remembers the first zero window and keepalive of a connection.
type flowNotes struct {
	zwTime, kaTime   [2]int64
	zwFrame, kaFrame [2]uint64
	// zwOpen, zwSince and zwTotal time each side's zero windows (the
	// same rule as tracker.Metrics.ZeroWindowNS).
	zwOpen  [2]bool
	zwSince [2]int64
	zwTotal [2]int64
	probes  [2]int
	lastKA  [2]int64
	kaGap   [2]int64
}

// flow reports zero windows and keepalive probes (info).
type flow struct {
	nop
	env   *Env
	notes noteMap[flowNotes]
}

func newFlow(env *Env) Unit { return &flow{env: env, notes: newNotes[flowNotes](watchFlow)} }

func (u *flow) Packet(a *tracker.Analysis) {
	const interesting = tracker.KindZeroWindow | tracker.KindKeepalive | tracker.KindWindowProbe
	seg, c, s := a.Seg, a.Conn, a.From
	if a.Kind&interesting == 0 {
		// A watched connection's segment: the end of a zero window?
		if n := u.notes.get(c); n != nil && n.zwOpen[s] && seg.Window != 0 && seg.Flags&(tracker.FlagSYN|tracker.FlagRST) == 0 {
			n.zwOpen[s] = false
			n.zwTotal[s] += seg.Time - n.zwSince[s]
		}
		return
	}
	n := u.notes.get(c)
	if n == nil {
		n = u.notes.add(c)
	}
	if a.Kind&tracker.KindZeroWindow != 0 && !n.zwOpen[s] {
		n.zwOpen[s], n.zwSince[s] = true, seg.Time
	} else if n.zwOpen[s] && seg.Window != 0 && seg.Flags&(tracker.FlagSYN|tracker.FlagRST) == 0 {
		n.zwOpen[s] = false
		n.zwTotal[s] += seg.Time - n.zwSince[s]
	}
	if a.Kind&tracker.KindZeroWindow != 0 && n.zwFrame[s] == 0 {
		n.zwTime[s], n.zwFrame[s] = seg.Time, seg.Frame
	}
	if a.Kind&tracker.KindWindowProbe != 0 {
		n.probes[s]++
	}
	if a.Kind&tracker.KindKeepalive != 0 {
		if n.kaFrame[s] == 0 {
			n.kaTime[s], n.kaFrame[s] = seg.Time, seg.Frame
		} else {
			n.kaGap[s] = seg.Time - n.lastKA[s]
		}
		n.lastKA[s] = seg.Time
	}
}

// zeroFor says how long side s's window stayed closed, in all, up to the
// connection's last packet at last: ", for 2.9s in all".
func (n *flowNotes) zeroFor(s tracker.Side, last int64) string {
	d := n.zwTotal[s]
	if n.zwOpen[s] && last > n.zwSince[s] {
		d += last - n.zwSince[s]
	}
	if d <= 0 {
		return ""
	}
	return ", for " + secs(d) + " in all"
}

func (u *flow) Finish(c *tracker.Conn, reason tracker.EndReason) {
	n := u.notes.get(c)
	if n == nil {
		return
	}
	u.notes.del(c, n)
	for s := tracker.Orig; s <= tracker.Resp; s++ {
		p := &c.Peers[s]
		if n.zwFrame[s] != 0 {
			f := &tracker.Finding{
				Severity: tracker.AnomZeroWindow.DefaultSeverity(), Time: n.zwTime[s],
				Summary: fmt.Sprintf("%s advertised a zero window %s%s (its application stopped reading); %s from the peer",
					c.Endpoint(s), times(int(p.ZeroWindows)), n.zeroFor(s, c.Last), plural(n.probes[s^1], "window probe")),
				Evidence: []tracker.Evidence{{Time: n.zwTime[s], Frame: n.zwFrame[s], What: "first zero window"}},
				Hint:     "A zero window is flow control working: the receiving application is slower than the sender. Look at that application (Recv-Q in `ss -tn`), or raise net.ipv4.tcp_rmem if the buffer is too small for the path.",
			}
			u.env.Emit(c, tracker.AnomZeroWindow, f)
		}
		if n.kaFrame[s] != 0 {
			f := &tracker.Finding{
				Severity: tracker.AnomKeepalive.DefaultSeverity(), Time: n.kaTime[s],
				Summary:  fmt.Sprintf("%s sent %s", c.Endpoint(s), plural(int(p.Keepalives), "keepalive probe")),
				Evidence: []tracker.Evidence{{Time: n.kaTime[s], Frame: n.kaFrame[s], What: "first keepalive probe"}},
				Hint:     "Keepalive probes keep idle connections alive through NAT and firewalls and detect dead peers (net.ipv4.tcp_keepalive_time, _intvl, _probes; TCP_KEEPIDLE per socket).",
			}
			if n.kaGap[s] > 0 {
				f.Summary += fmt.Sprintf(", %s apart", secs(n.kaGap[s]))
			}
			u.env.Emit(c, tracker.AnomKeepalive, f)
		}
	}
}
