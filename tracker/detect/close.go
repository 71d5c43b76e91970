package detect

import (
	"fmt"

	"github.com/wirestate/wirestate/tracker"
)

// lfaNotes remembers a connection whose passive closer sits in LAST_ACK.
type lfaNotes struct {
	side tracker.Side // the passive closer
	// finalAck is the active closer's ACK of the passive closer's FIN,
	// seen before any retransmission.
	finalAckTime  int64
	finalAckFrame uint64
	finTime       int64
	finFrame      uint64
	retrans       int
	retransTime   int64
	retransFrame  uint64
	ackSeenBefore bool
	ending        string
	endTime       int64
	endFrame      uint64
}

// lostFinalACK reports the passive closer retransmitting its FIN from
// LAST_ACK: the active closer's final ACK never reached it.
type lostFinalACK struct {
	nop
	env   *Env
	notes noteMap[lfaNotes]
}

func newLostFinalACK(env *Env) Unit {
	return &lostFinalACK{env: env, notes: newNotes[lfaNotes](watchLostFinalACK)}
}

func (u *lostFinalACK) Packet(a *tracker.Analysis) {
	seg, c, s := a.Seg, a.Conn, a.From
	n := u.notes.get(c)
	if seg.Flags&tracker.FlagFIN != 0 && c.Peers[s].State == tracker.LastAck {
		if n == nil {
			// The passive closer's FIN (CLOSE_WAIT → LAST_ACK).
			n = u.notes.add(c)
			n.side, n.finTime, n.finFrame = s, seg.Time, seg.Frame
			return
		}
		if a.Kind&tracker.KindFINRetransmission != 0 && n.side == s {
			if n.retrans == 0 {
				n.retransTime, n.retransFrame = seg.Time, seg.Frame
				n.ackSeenBefore = n.finalAckFrame != 0
			}
			n.retrans++
		}
		return
	}
	if n == nil || s == n.side {
		return
	}
	// A segment from the active closer.
	switch {
	case seg.Flags&tracker.FlagRST != 0:
		if n.retrans > 0 && n.ending == "" {
			n.ending = fmt.Sprintf("the active closer answered the retransmitted FIN with a RST (frame %d): it had already left TIME_WAIT, so TIME_WAIT was cut short (tcp_tw_reuse, tcp_max_tw_buckets overflow, or a stack without TIME_WAIT)", seg.Frame)
			n.endTime, n.endFrame = seg.Time, seg.Frame
		}
	case seg.Flags&tracker.FlagACK != 0 && seg.Ack.GreaterThan(c.Peers[n.side].FinSeq):
		if n.retrans == 0 {
			if n.finalAckFrame == 0 {
				n.finalAckTime, n.finalAckFrame = seg.Time, seg.Frame
			}
		} else if n.ending == "" {
			n.ending = fmt.Sprintf("a later ACK (frame %d, %s after the first retransmission) finally closed it", seg.Frame, secs(seg.Time-n.retransTime))
			n.endTime, n.endFrame = seg.Time, seg.Frame
		}
	}
}

func (u *lostFinalACK) Finish(c *tracker.Conn, reason tracker.EndReason) {
	n := u.notes.get(c)
	if n == nil {
		return
	}
	u.notes.del(c, n)
	if n.retrans == 0 {
		return
	}
	closer := c.Endpoint(n.side)
	where := "the final ACK was not seen at the capture point: it was lost before reaching it, or never sent"
	if n.ackSeenBefore {
		where = fmt.Sprintf("the final ACK was seen at the capture point (frame %d) %s before the retransmission, so it was lost beyond the capture point", n.finalAckFrame, secs(n.retransTime-n.finalAckTime))
	}
	ending := n.ending
	if ending == "" {
		ending = fmt.Sprintf("%s was still in LAST_ACK when the capture ended", closer)
	}
	f := &tracker.Finding{
		Severity: tracker.AnomLostFinalACK.DefaultSeverity(), Time: n.retransTime,
		Summary: fmt.Sprintf("%s (the passive closer) retransmitted its FIN %s from LAST_ACK: the final ACK of the active closer never reached it; %s; %s",
			closer, times(n.retrans), where, ending),
		Evidence: []tracker.Evidence{{Time: n.finTime, Frame: n.finFrame, What: "FIN from the passive closer (CLOSE_WAIT → LAST_ACK)"}},
		Hint: "A lost final ACK leaves the passive closer in LAST_ACK until its FIN retransmissions are answered; the active closer's TIME_WAIT " +
			"(2MSL, 60 s on Linux) exists to answer them. Look for loss on the path (drops, a firewall or conntrack rule dropping the ACK); " +
			"do not shorten TIME_WAIT with tcp_tw_reuse on servers that close first, and keep tcp_max_tw_buckets above the TIME_WAIT peak.",
	}
	if n.finalAckFrame != 0 {
		f.Evidence = append(f.Evidence, tracker.Evidence{Time: n.finalAckTime, Frame: n.finalAckFrame, What: "final ACK from the active closer, seen here"})
	}
	f.Evidence = append(f.Evidence, tracker.Evidence{Time: n.retransTime, Frame: n.retransFrame, What: "FIN retransmitted: still in LAST_ACK"})
	if n.endFrame != 0 {
		f.Evidence = append(f.Evidence, tracker.Evidence{Time: n.endTime, Frame: n.endFrame, What: "how it ended"})
	}
	u.env.Emit(c, tracker.AnomLostFinalACK, f)
}

// cwNotes remembers an endpoint in CLOSE_WAIT.
type cwNotes struct {
	side      tracker.Side
	since     int64
	frame     uint64
	dataBytes uint64
	dataFrame uint64
	reported  bool
}

// closeWait reports endpoints that acknowledged their peer's FIN and sent no
// FIN of their own for Config.CloseWaitAfter: the application has not
// called close(). The finding gives the whole time spent in CLOSE_WAIT, so
// it is made when that time is known: when the endpoint finally sends its
// FIN (or a RST), or when the connection leaves the tracker (at the end of
// the capture at the latest). In live mode it is made as soon as the
// threshold passes, with the time so far.
type closeWait struct {
	env   *Env
	notes noteMap[cwNotes]
}

func newCloseWait(env *Env) Unit {
	return &closeWait{env: env, notes: newNotes[cwNotes](watchCloseWait)}
}

func (u *closeWait) Packet(a *tracker.Analysis) {
	seg, c, s := a.Seg, a.Conn, a.From
	p := &c.Peers[s]
	n := u.notes.get(c)
	if n == nil {
		if p.State == tracker.CloseWait && !p.Inferred() {
			n = u.notes.add(c)
			n.side, n.since, n.frame = s, seg.Time, seg.Frame
		}
		return
	}
	if s == n.side && seg.PayloadLen > 0 && p.State == tracker.CloseWait {
		if n.dataFrame == 0 {
			n.dataFrame = seg.Frame
		}
		n.dataBytes += uint64(seg.PayloadLen)
	}
	if c.Peers[n.side].State != tracker.CloseWait {
		u.notes.del(c, n) // it closed (or reset)
		if !n.reported && seg.Time-n.since >= int64(u.env.Cfg.CloseWaitAfter) {
			var end string
			switch {
			case s == n.side && seg.Flags&tracker.FlagRST != 0:
				end = fmt.Sprintf("until it reset the connection (frame %d)", seg.Frame)
			case s == n.side && seg.Flags&tracker.FlagFIN != 0:
				end = fmt.Sprintf("until it finally sent its FIN (frame %d)", seg.Frame)
			default:
				end = fmt.Sprintf("until frame %d ended CLOSE_WAIT", seg.Frame)
			}
			u.report(c, n, seg.Time, end)
		}
	}
}

func (u *closeWait) Advance(now int64) {
	if !u.env.Cfg.Live {
		return // reported when CLOSE_WAIT ends, with its whole length
	}
	limit := int64(u.env.Cfg.CloseWaitAfter)
	for c, n := range u.notes.m {
		if !n.reported && now-n.since >= limit && c.Peers[n.side].State == tracker.CloseWait {
			u.report(c, n, now, "so far")
		}
	}
}

func (u *closeWait) Finish(c *tracker.Conn, reason tracker.EndReason) {
	n := u.notes.get(c)
	if n == nil {
		return
	}
	u.notes.del(c, n)
	end := u.env.Now
	if end < c.Last {
		end = c.Last
	}
	if !n.reported && end-n.since >= int64(u.env.Cfg.CloseWaitAfter) && c.Peers[n.side].State == tracker.CloseWait {
		how := "until the end of the capture"
		if reason != tracker.EndCaptureEnd {
			how = fmt.Sprintf("until the connection left the table (%s)", reason)
		}
		u.report(c, n, end, how)
	}
}

// report makes the finding for the CLOSE_WAIT of notes n, which lasted
// until end (how says what ended it).
func (u *closeWait) report(c *tracker.Conn, n *cwNotes, end int64, how string) {
	n.reported = true
	ep := c.Endpoint(n.side)
	f := &tracker.Finding{
		Severity: tracker.AnomCloseWaitStuck.DefaultSeverity(), Time: n.since,
		Summary: fmt.Sprintf("%s acknowledged its peer's FIN and sent no FIN of its own for %s, %s: the application did not call close() (CLOSE_WAIT)",
			ep, secs(end-n.since), how),
		Evidence: []tracker.Evidence{{Time: n.since, Frame: n.frame, What: "ACK of the peer's FIN: CLOSE_WAIT begins"}},
		Hint: "CLOSE_WAIT is the application's to end: find the code path that reads EOF (read() returning 0) and never closes the socket " +
			"(`ss -tanp state close-wait` shows the process). A leak of these exhausts file descriptors; no kernel setting times them out.",
	}
	if n.dataBytes > 0 {
		f.Summary += fmt.Sprintf(". It did send %d bytes after the peer's FIN (from frame %d): that is a legal half-close, so this may be deliberate", n.dataBytes, n.dataFrame)
		f.Evidence = append(f.Evidence, tracker.Evidence{Frame: n.dataFrame, Time: n.since, What: "data sent after the peer's FIN (half-close)"})
	}
	u.env.Emit(c, tracker.AnomCloseWaitStuck, f)
}

// abort reports established connections ended by a RST that no invalid
// segment provoked: SO_LINGER 0, a killed process, an application abort.
type abort struct {
	nop
	env *Env
}

func newAbort(env *Env) Unit { return &abort{env: env} }

func (u *abort) Packet(a *tracker.Analysis) {
	seg, c, s := a.Seg, a.Conn, a.From
	if seg.Flags&tracker.FlagRST == 0 || seg.Flags&tracker.FlagACK == 0 || a.Kind&tracker.KindRSTInWindow == 0 || injected(a) {
		return // injected: middlebox-reset names who sent it
	}
	// The state the sender held before its RST.
	var before tracker.State
	found := false
	for _, tr := range a.Transitions() {
		if tr.Side == s && tr.To == tracker.Closed && !tr.Inferred {
			before, found = tr.From, true
			break
		}
	}
	if !found || !before.Synchronized() && before != tracker.SynReceived {
		return
	}
	p := &c.Peers[s]
	if before == tracker.SynReceived || p.Pkts == 1 && !c.Partial() ||
		p.SawSYNACK() && p.Bytes == 0 && p.Pkts <= p.Retrans+2 && !acksPeerData(c, s, seg) {
		return // a handshake-phase reset: the handshake detectors own it
	}
	o := &c.Peers[s^1]
	var why string
	switch {
	case before == tracker.TimeWait:
		return
	case before == tracker.FinWait1 || before == tracker.FinWait2 || before == tracker.Closing || before == tracker.LastAck:
		why = fmt.Sprintf("after its own FIN, from %s: the application closed with unread data or SO_LINGER 0", before)
	default:
		why = fmt.Sprintf("from %s, with no FIN: SO_LINGER 0 on close(), a killed process, or an application abort", before)
	}
	if o.SawFIN() && before == tracker.CloseWait {
		why = "in CLOSE_WAIT, after the peer's FIN, instead of its own FIN: SO_LINGER 0 or unread data at close()"
	}
	f := &tracker.Finding{
		Severity: tracker.AnomAbortiveClose.DefaultSeverity(), Time: seg.Time,
		Summary:  fmt.Sprintf("%s (%s) aborted the connection with a RST %s", c.Endpoint(s), sideName(s), why),
		Evidence: []tracker.Evidence{ev(seg, "RST from %s", sideName(s))},
		Hint: "An abortive close skips TIME_WAIT and discards unsent data. If it is deliberate (SO_LINGER 0 to avoid TIME_WAIT), " +
			"prefer net.ipv4.tcp_tw_reuse on clients or connection reuse; otherwise find why the process closes this way or dies.",
	}
	u.env.Emit(c, tracker.AnomAbortiveClose, f)
}
