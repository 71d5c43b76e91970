package detect

import (
	"fmt"

	"github.com/wirestate/wirestate/tracker"
)

// hoNotes counts unanswered retransmissions per side.
type hoNotes struct {
	run        [2]int // retransmissions in a row with nothing from the peer
	firstTime  [2]int64
	firstFrame [2]uint64
	lastTime   [2]int64
	lastFrame  [2]uint64
}

// halfOpen reports connections one endpoint still holds while the other has
// lost them: a segment answered by a bare RST (no ACK, sequence number taken
// from the segment's ACK, RFC 793 3.4) from a side that never closed; a side
// retransmitting unanswered until it gives up; or a new SYN on the 4-tuple
// from a side whose old connection the peer still holds.
type halfOpen struct {
	nop
	env   *Env
	notes noteMap[hoNotes]
}

func newHalfOpen(env *Env) Unit { return &halfOpen{env: env, notes: newNotes[hoNotes](watchHalfOpen)} }

func (u *halfOpen) Packet(a *tracker.Analysis) {
	seg, c, s := a.Seg, a.Conn, a.From
	if n := u.notes.get(c); n != nil {
		n.run[s^1] = 0
	}
	switch {
	case seg.Flags&tracker.FlagRST != 0 && seg.Flags&tracker.FlagACK == 0:
		u.bareRST(a)
	case a.Kind&tracker.KindRetransmission != 0 && seg.PayloadLen > 0:
		n := u.notes.get(c)
		if n == nil {
			n = u.notes.add(c)
		}
		if n.run[s] == 0 {
			n.firstTime[s], n.firstFrame[s] = seg.Time, seg.Frame
		}
		n.run[s]++
		n.lastTime[s], n.lastFrame[s] = seg.Time, seg.Frame
	case a.Kind&tracker.KindNewIncarnation != 0 && a.Other != nil && !a.Other.Done():
		old := a.Other
		holder := tracker.Resp
		if old.Orig != c.Orig {
			holder = tracker.Orig
		}
		if st := old.Peers[holder].State; st.Synchronized() && st != tracker.TimeWait {
			f := &tracker.Finding{
				Severity: tracker.AnomHalfOpen.DefaultSeverity(), Time: seg.Time,
				Summary: fmt.Sprintf("%s opened a new connection on the same 4-tuple while %s still held the old one in %s: %s lost its state (restart, crash, NAT or firewall timeout)",
					c.Orig, old.Endpoint(holder), st, c.Orig),
				Evidence: []tracker.Evidence{ev(seg, "SYN with a new ISN on a 4-tuple the peer still holds")},
				Hint:     halfOpenHint,
			}
			u.env.Emit(old, tracker.AnomHalfOpen, f)
		}
	}
}

const halfOpenHint = "One side lost the connection while the other kept it: a reboot or crash, or a NAT or stateful firewall that timed out an idle flow. " +
	"Enable TCP keepalive with an interval below the middlebox's idle timeout (net.ipv4.tcp_keepalive_time, _intvl, _probes, or SO_KEEPALIVE " +
	"with TCP_KEEPIDLE per socket), and lower net.ipv4.tcp_retries2 to notice a dead peer sooner."

// bareRST handles a RST without ACK.
func (u *halfOpen) bareRST(a *tracker.Analysis) {
	seg, c, s := a.Seg, a.Conn, a.From
	o := &c.Peers[s^1]
	p := &c.Peers[s]
	if injected(a) {
		return // a middlebox's RST: its claimed sender lost nothing
	}
	if !o.HaveAck() || seg.Seq != o.Ack || p.SawFIN() || c.Peers[s].Pkts < 2 && !c.Partial() {
		return
	}
	if p.SawSYNACK() && p.Bytes == 0 && p.Pkts <= p.Retrans+2 {
		return // a reset during the handshake: the handshake detectors own it
	}
	var before tracker.State
	peerBefore := o.State
	for _, tr := range a.Transitions() {
		if tr.Side == s && tr.To == tracker.Closed {
			before = tr.From
		}
		if tr.Side == s^1 && tr.To == tracker.Closed {
			peerBefore = tr.From
		}
	}
	if !before.Synchronized() || before == tracker.TimeWait || peerBefore == tracker.SynReceived {
		// A peer in SYN_RECEIVED does not keep the connection: an
		// acceptable RST returns it to LISTEN (RFC 9293 3.10.7.3), so
		// nothing is left half-open. The handshake detector names it
		// (a stateless scanner's host resetting the SYN-ACK).
		return
	}
	f := &tracker.Finding{
		Severity: tracker.AnomHalfOpen.DefaultSeverity(), Time: seg.Time,
		Summary: fmt.Sprintf("%s answered a segment of an open connection with a bare RST (no ACK, seq = the segment's ACK): it has no such connection any more, while %s still holds it in %s — a half-open connection",
			c.Endpoint(s), c.Endpoint(s^1), peerBefore),
		Evidence: []tracker.Evidence{ev(seg, "RST without ACK, seq %d = the peer's last ACK", c.RelSeq(s, seg.Seq))},
		Hint:     halfOpenHint,
	}
	u.env.Emit(c, tracker.AnomHalfOpen, f)
}

func (u *halfOpen) Finish(c *tracker.Conn, reason tracker.EndReason) {
	n := u.notes.get(c)
	if n == nil {
		return
	}
	u.notes.del(c, n)
	for s := tracker.Orig; s <= tracker.Resp; s++ {
		if n.run[s] < u.env.Cfg.HalfOpenRetrans {
			continue
		}
		ending := "still retransmitting when the capture ended"
		if c.Peers[s].SawRST() {
			ending = "it then gave up and reset the connection"
		} else if reason == tracker.EndIdle {
			ending = "then fell silent: it gave up (tcp_retries2)"
		}
		f := &tracker.Finding{
			Severity: tracker.AnomHalfOpen.DefaultSeverity(), Time: n.firstTime[s], Uncertain: true,
			Summary: fmt.Sprintf("%s retransmitted the same data %s over %s with no answer from %s; %s. The peer is gone (crash, reboot, NAT or firewall state timeout) or the path between is down",
				c.Endpoint(s), times(n.run[s]), secs(n.lastTime[s]-n.firstTime[s]), c.Endpoint(s^1), ending),
			Evidence: []tracker.Evidence{
				{Time: n.firstTime[s], Frame: n.firstFrame[s], What: "first unanswered retransmission"},
				{Time: n.lastTime[s], Frame: n.lastFrame[s], What: "last unanswered retransmission"},
			},
			Hint: halfOpenHint,
		}
		u.env.Emit(c, tracker.AnomHalfOpen, f)
	}
}
