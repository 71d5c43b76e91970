package tracker

import "github.com/wirestate/wirestate/tracker/seqnum"

// This file holds the per-segment state machine. A segment seen leaving
// endpoint S proves what S did (sent a SYN, a FIN, acknowledged data); its
// delivery to the receiver R is only assumed. So each segment first moves S
// on what it proves ("observed"), then moves R on what R would do if the
// segment arrives ("inferred"). When a later segment from R contradicts an
// inference (R retransmits the FIN it was assumed to have had acknowledged),
// the inference is undone: R returns to the last state its own packets
// proved, and the change is marked as a correction.

// apply updates c with segment seg sent by side s and fills a.
func (c *Conn) apply(seg *Segment, s Side, a *Analysis) {
	snd := &c.Peers[s]
	c.Last = seg.Time
	snd.Pkts++
	snd.IPBytes += uint64(seg.IPLen)
	a.Conn, a.From = c, s
	if !a.skipHistory {
		c.Hist.observe(c, seg, s)
	}
	if seg.BadChecksum {
		// A receiving stack drops a segment with a bad checksum before
		// looking at it, so it moves nobody's state.
		a.Kind |= KindBadChecksum
		return
	}
	c.sequence(seg, s, a)
	c.transition(seg, s, a)
	c.updateDone(seg.Time)
}

// applyStale counts segment seg from side s as a delayed duplicate of this
// (previous) incarnation: it moves no state, since it says nothing about
// what either endpoint holds now.
func (c *Conn) applyStale(seg *Segment, s Side, a *Analysis) {
	snd := &c.Peers[s]
	snd.Pkts++
	snd.IPBytes += uint64(seg.IPLen)
	a.Conn, a.From = c, s
	if seg.Seq.Add(seg.SeqLen()).LessThanEq(snd.Next) && seg.SeqLen() > 0 {
		a.Kind |= KindRetransmission
		snd.Retrans++
	}
}

// sequence does the per-direction sequence-space bookkeeping and classifies
// the segment (retransmission, keepalive, duplicate ACK, ...).
func (c *Conn) sequence(seg *Segment, s Side, a *Analysis) {
	snd, rcv := &c.Peers[s], &c.Peers[s^1]
	f := seg.Flags
	syn, fin, rst, ack := f&FlagSYN != 0, f&FlagFIN != 0, f&FlagRST != 0, f&FlagACK != 0
	if (syn && (fin || rst)) || f&(FlagSYN|FlagFIN|FlagRST|FlagACK) == 0 {
		a.Kind |= KindOddFlags
	}
	if syn {
		if seg.Opts&OptMSS != 0 {
			snd.MSS = seg.MSS
		}
		if seg.Opts&OptWScale != 0 {
			snd.flags |= peerWScale
			snd.WScale = seg.WScale
		}
		if seg.Opts&OptSACKPermitted != 0 {
			snd.flags |= peerSACK
		}
		if ack {
			snd.flags |= peerSYNACK
		}
	}
	if seg.Opts&OptTimestamp != 0 {
		snd.flags |= peerTS
	}

	seqLen := seg.SeqLen()
	end := seg.Seq.Add(seqLen)
	payloadStart := seg.Seq
	if syn {
		payloadStart = payloadStart.Add(1)
	}
	payloadEnd := payloadStart.Add(seqnum.Size(seg.PayloadLen))
	keepalive := false

	switch {
	case syn:
		if snd.flags&peerSawSYN != 0 && seg.Seq == snd.ISN {
			a.Kind |= KindRetransmission
			if ack {
				a.Kind |= KindSYNACKRetransmission
			} else {
				a.Kind |= KindSYNRetransmission
			}
			snd.Retrans++
			if end.GreaterThan(snd.Next) {
				snd.Next = end
			}
		} else {
			snd.ISN = seg.Seq
			snd.flags |= peerSawSYN | peerHaveSeq
			snd.flags &^= peerSawFIN
			snd.Next = end
			snd.Bytes += uint64(seg.PayloadLen)
			a.Kind |= KindNewData
		}
	case snd.flags&peerHaveSeq == 0:
		// First segment from this side without a SYN (picked up
		// mid-stream): pretend the SYN was one sequence number earlier, so
		// relative sequence numbers start at 1 as after a handshake.
		snd.ISN = seg.Seq.Add(^seqnum.Size(0))
		snd.flags |= peerHaveSeq
		snd.Next = end
		if seqLen > 0 {
			a.Kind |= KindNewData
			snd.Bytes += uint64(seg.PayloadLen)
		}
	case !rst && !fin && seg.PayloadLen <= 1 && seg.Seq.Add(1) == snd.Next:
		// RFC 1122 4.2.3.6: a keepalive carries SEG.SEQ = SND.NXT-1 and
		// zero or one byte. Into a zero window it is a window probe (as
		// Linux's tcp_xmit_probe_skb sends them).
		keepalive = true
		if rcv.flags&peerZeroWin != 0 {
			a.Kind |= KindWindowProbe
		} else {
			a.Kind |= KindKeepalive
			if snd.Keepalives < ^uint16(0) {
				snd.Keepalives++
			}
		}
	case seqLen == 0:
		if !rst && seg.Seq.GreaterThan(snd.Next) {
			a.Kind |= KindGap
			snd.Next = seg.Seq
		}
	case end.LessThanEq(snd.Next):
		a.Kind |= KindRetransmission
		snd.Retrans++
	default:
		if seg.Seq.GreaterThan(snd.Next) {
			a.Kind |= KindGap
		}
		if rcv.flags&peerZeroWin != 0 && seg.PayloadLen > 0 && seg.Seq == snd.Next {
			a.Kind |= KindWindowProbe
		}
		from := seqnum.Max(payloadStart, snd.Next)
		if payloadEnd.GreaterThan(from) {
			snd.Bytes += uint64(from.Size(payloadEnd))
		}
		snd.Next = end
		a.Kind |= KindNewData
	}

	if fin {
		finSeq := payloadEnd
		if snd.flags&peerSawFIN != 0 && finSeq == snd.FinSeq {
			a.Kind |= KindFINRetransmission
		} else {
			snd.FinSeq = finSeq
			snd.flags |= peerSawFIN
			if c.Flags&(ConnOrigClosedFirst|ConnRespClosedFirst) == 0 {
				c.Flags |= ConnOrigClosedFirst << s
			}
		}
	}

	if ack {
		switch {
		case snd.flags&peerHaveAck == 0 || seg.Ack.GreaterThan(snd.Ack):
			snd.Ack = seg.Ack
			snd.flags |= peerHaveAck
			a.Kind |= KindAckAdvanced
		case seqLen == 0 && !rst && !keepalive && seg.Ack == snd.Ack:
			switch {
			case rcv.flags&peerProbePending != 0:
				a.Kind |= KindKeepaliveAck
			case seg.Window != snd.Window:
				a.Kind |= KindWindowUpdate
			case rcv.Next.GreaterThan(seg.Ack):
				// Wireshark's rule: same ACK, same window, no data,
				// while the other side has unacknowledged data.
				a.Kind |= KindDupAck
				if snd.DupAcks < ^uint16(0) {
					snd.DupAcks++
				}
			}
		}
	}
	rcv.flags &^= peerProbePending
	if keepalive {
		snd.flags |= peerProbePending
	}

	if !rst {
		if seg.Window == 0 && !syn {
			a.Kind |= KindZeroWindow
			if snd.flags&peerZeroWin == 0 && snd.ZeroWindows < ^uint16(0) {
				snd.ZeroWindows++
				snd.flags |= peerZeroWin
			}
		} else {
			snd.flags &^= peerZeroWin
		}
		snd.Window = seg.Window
	}
}

// peerProbePending marks a keepalive or window probe awaiting its answer.
const peerProbePending uint16 = 1 << 15

// transition moves the sender on what its segment proves and the receiver on
// what the segment's delivery would do (RFC 793 section 3.9).
func (c *Conn) transition(seg *Segment, s Side, a *Analysis) {
	snd, rcv := &c.Peers[s], &c.Peers[s^1]
	f := seg.Flags
	r := s ^ 1

	corrected := false
	if snd.flags&peerInferred != 0 && c.contradicts(seg, s) {
		c.setState(a, seg, s, c.undo(seg, s), false, true)
		a.Kind |= KindCorrection
		corrected = true
	}

	if f&FlagRST != 0 {
		// RFC 793 3.9 (and 3.4, "Reset Processing"): the sender of a RST
		// has aborted or never had the connection; the receiver aborts if
		// the RST is acceptable, otherwise it ignores it.
		snd.flags |= peerSawRST
		c.setState(a, seg, s, Closed, false, false)
		if c.rstAcceptable(seg, s) {
			a.Kind |= KindRSTInWindow
			c.setState(a, seg, r, Closed, true, false)
		} else {
			a.Kind |= KindRSTOutOfWindow
		}
		return
	}

	// What the sender's own segment proves about the sender.
	if f&FlagSYN != 0 {
		if f&FlagACK == 0 {
			// RFC 793 3.4 figure 7: OPEN call, SYN sent.
			switch snd.State {
			case Closed, Listen:
				c.setState(a, seg, s, SynSent, false, false)
			case SynSent:
				c.confirm(s)
			}
		} else {
			// RFC 793 3.4: LISTEN, SYN received, SYN-ACK sent. From
			// SYN_SENT this is a simultaneous open (figure 8).
			switch snd.State {
			case Closed, Listen, SynSent:
				c.setState(a, seg, s, SynReceived, false, false)
			case SynReceived:
				c.confirm(s)
			}
		}
	}
	if f&FlagACK != 0 {
		switch snd.State {
		case SynSent:
			// RFC 793 3.9 SYN-SENT: our SYN is acknowledged and the
			// peer's SYN received; the ACK that completes the handshake.
			if f&FlagSYN == 0 && rcv.flags&peerSawSYN != 0 && seg.Ack.GreaterThan(rcv.ISN) {
				c.setState(a, seg, s, Established, false, false)
			}
		case SynReceived:
			// RFC 793 3.9 SYN-RECEIVED: only an endpoint whose SYN was
			// acknowledged sends an ordinary segment.
			if f&FlagSYN == 0 {
				c.setState(a, seg, s, Established, false, false)
			}
		case Established:
			if f&FlagSYN == 0 {
				c.confirm(s)
			}
		}
		if acksFIN(seg, rcv) {
			if snd.flags&peerRcvdFIN == 0 {
				snd.flags |= peerRcvdFIN
			}
			c.receiveFIN(a, seg, s, false)
		}
	}
	if f&FlagFIN != 0 {
		// RFC 793 3.5: CLOSE call, FIN sent.
		switch snd.State {
		case Established, SynReceived:
			c.setState(a, seg, s, FinWait1, false, false)
		case CloseWait:
			c.setState(a, seg, s, LastAck, false, false)
		case FinWait1, Closing, LastAck:
			c.confirm(s)
		}
	}
	if corrected && rcv.flags&peerSawFIN != 0 && !acksFIN(seg, rcv) {
		// The peer's FIN had not arrived when this was sent; it is still
		// in flight, so its delivery is assumed again.
		c.receiveFIN(a, seg, s, true)
	}

	// What the segment's delivery would do to the receiver.
	if f&FlagSYN != 0 {
		if f&FlagACK != 0 {
			if rcv.State == SynSent && seg.Ack == rcv.ISN.Add(1) {
				c.setState(a, seg, r, Established, true, false)
			}
		} else if rcv.State == SynSent && rcv.flags&peerSawSYN != 0 {
			// Simultaneous open: SYN_SENT receiving a SYN.
			c.setState(a, seg, r, SynReceived, true, false)
		}
		// A SYN to an endpoint that has shown nothing moves nobody: we
		// cannot know whether a listener is there.
	}
	if f&FlagACK != 0 {
		if rcv.State == SynReceived && rcv.flags&peerSawSYN != 0 && seg.Ack.GreaterThan(rcv.ISN) && f&FlagSYN == 0 {
			c.setState(a, seg, r, Established, true, false)
		}
		if rcv.flags&peerSawFIN != 0 && seg.Ack.GreaterThanEq(rcv.FinSeq.Add(1)) {
			switch rcv.State {
			case FinWait1:
				c.setState(a, seg, r, FinWait2, true, false)
			case Closing:
				c.setState(a, seg, r, TimeWait, true, false)
			case LastAck:
				c.setState(a, seg, r, Closed, true, false)
			}
		}
	}
	if f&FlagFIN != 0 {
		c.receiveFIN(a, seg, r, true)
	}
}

// receiveFIN moves side to the state RFC 793 3.9 ("eighth, check the FIN
// bit") gives an endpoint that receives its peer's FIN.
func (c *Conn) receiveFIN(a *Analysis, seg *Segment, side Side, inferred bool) {
	p := &c.Peers[side]
	switch p.State {
	case Established, SynReceived:
		c.setState(a, seg, side, CloseWait, inferred, false)
	case FinWait1:
		if c.finAcked(side) {
			c.setState(a, seg, side, TimeWait, inferred, false)
		} else {
			c.setState(a, seg, side, Closing, inferred, false)
		}
	case FinWait2:
		c.setState(a, seg, side, TimeWait, inferred, false)
	case CloseWait, Closing, LastAck:
		if !inferred {
			c.confirm(side)
		}
	case TimeWait:
		// Acknowledging the peer's FIN proves TIME_WAIT when the peer had
		// already acknowledged our FIN (its FIN carried that ACK).
		if !inferred && c.finAcked(side) {
			c.confirm(side)
		}
	}
}

// finAcked reports whether side's FIN has been acknowledged by the other side.
func (c *Conn) finAcked(side Side) bool {
	p, o := &c.Peers[side], &c.Peers[side^1]
	return p.flags&peerSawFIN != 0 && o.flags&peerHaveAck != 0 && o.Ack.GreaterThanEq(p.FinSeq.Add(1))
}

// contradicts reports whether segment seg from side s shows that an inferred
// state of s is wrong.
func (c *Conn) contradicts(seg *Segment, s Side) bool {
	p, o := &c.Peers[s], &c.Peers[s^1]
	f := seg.Flags
	if f&FlagRST != 0 {
		return false
	}
	switch p.State {
	case Established:
		// Inferred from the delivery of a SYN-ACK or of the handshake's
		// ACK: a SYN or SYN-ACK sent again says it never got there.
		return f&FlagSYN != 0
	case CloseWait:
		// Inferred from the delivery of the peer's FIN. A segment that
		// merely crosses the FIN in flight is no contradiction; a FIN that
		// does not acknowledge it is: the sender closed first
		// (simultaneous close).
		return f&FlagFIN != 0 && !acksFIN(seg, o)
	case TimeWait, FinWait2:
		// Inferred from the ACK of our FIN: retransmitting it says the
		// ACK never arrived.
		return f&FlagFIN != 0
	case Closed:
		// Inferred from the final ACK or a RST: anything but a RST from
		// it says it still holds the connection.
		return true
	}
	return false
}

// undo returns the state side s was in before the inference that segment seg
// contradicts (see contradicts).
func (c *Conn) undo(seg *Segment, s Side) State {
	p, o := &c.Peers[s], &c.Peers[s^1]
	f := seg.Flags
	switch p.State {
	case Established:
		if f&FlagACK != 0 {
			return SynReceived
		}
		return SynSent
	case CloseWait:
		return Established
	case Closing:
		return FinWait1
	case TimeWait:
		if acksFIN(seg, o) {
			return Closing
		}
		return FinWait1
	case FinWait2:
		return FinWait1
	}
	return p.Observed
}

// rstAcceptable reports whether the receiver of RST segment seg (sent by s)
// would accept it (RFC 793 3.4 "Reset Processing", RFC 5961 section 3).
func (c *Conn) rstAcceptable(seg *Segment, s Side) bool {
	snd, rcv := &c.Peers[s], &c.Peers[s^1]
	if rcv.State == SynSent {
		// In SYN-SENT a RST is acceptable if its ACK acknowledges the SYN.
		return seg.Flags&FlagACK != 0 && seg.Ack.GreaterThan(rcv.ISN) && seg.Ack.LessThanEq(rcv.Next)
	}
	if rcv.flags&peerHaveAck == 0 {
		// The receiver's window is unknown: accept.
		return true
	}
	wnd := c.scaledWindow(s ^ 1)
	if wnd == 0 {
		wnd = 1
	}
	if seg.Seq.InWindow(rcv.Ack, seqnum.Size(wnd)) {
		return true
	}
	// The receiver's last ACK can lag what it has received: the sender's
	// own next sequence number is what an exact-match check compares.
	return snd.flags&peerHaveSeq != 0 && seg.Seq == snd.Next
}

// setState moves side s to state to because of seg, recording the transition
// in a. An inferred change keeps Observed; an observed one updates it.
func (c *Conn) setState(a *Analysis, seg *Segment, s Side, to State, inferred, correction bool) {
	p := &c.Peers[s]
	from := p.State
	if from == to {
		if !inferred {
			c.confirm(s)
		}
		return
	}
	p.State = to
	if to == TimeWait {
		p.flags |= peerWasTimeWait
	}
	if inferred {
		p.flags |= peerInferred
	} else {
		p.flags &^= peerInferred
		p.Observed = to
	}
	if a.NTrans < maxTransitions {
		a.Trans[a.NTrans] = Transition{
			Time: seg.Time, Frame: seg.Frame, Side: s, From: from, To: to,
			Inferred: inferred, Correction: correction,
		}
		a.NTrans++
	}
}

// confirm records that side s's own packet proved its current state.
func (c *Conn) confirm(s Side) {
	p := &c.Peers[s]
	p.flags &^= peerInferred
	p.Observed = p.State
}

// closedOrTimeWait reports whether st holds no live connection.
func closedOrTimeWait(st State) bool { return st == Closed || st == TimeWait || st == Listen }

// updateDone keeps ConnDone and DoneAt in step with both endpoints' states.
func (c *Conn) updateDone(now int64) {
	done := closedOrTimeWait(c.Peers[Orig].State) && closedOrTimeWait(c.Peers[Resp].State)
	switch {
	case done && c.Flags&ConnDone == 0:
		c.Flags |= ConnDone
		c.DoneAt = now
	case !done:
		c.Flags &^= ConnDone
	}
}

// expireTimeWait moves endpoints in TIME_WAIT to CLOSED when the 2MSL timer
// has run out by time now (RFC 793 3.9, "Timeouts"), returning the changes.
func (c *Conn) expireTimeWait(now, twoMSL int64, out []Transition) []Transition {
	if c.Flags&ConnDone == 0 || now < c.DoneAt+twoMSL {
		return out
	}
	for s := Orig; s <= Resp; s++ {
		p := &c.Peers[s]
		if p.State == TimeWait {
			out = append(out, Transition{Time: c.DoneAt + twoMSL, Side: s, From: TimeWait, To: Closed, Inferred: true, Timer: true})
			p.State = Closed
		}
	}
	return out
}

// startsNewIncarnation reports whether SYN segment seg from side s begins a
// new incarnation of c's 4-tuple rather than belonging to c.
func (c *Conn) startsNewIncarnation(seg *Segment, s Side) bool {
	p := &c.Peers[s]
	if p.flags&peerSawSYN != 0 && seg.Seq == p.ISN {
		return false // a retransmitted SYN
	}
	if c.Flags&ConnDone != 0 {
		return true
	}
	if p.Pkts == 0 {
		return false // a simultaneous open from the other side
	}
	switch p.State {
	case TimeWait, Closed, SynSent:
		// The sender has released the old incarnation (or is trying
		// again with a new ISN after giving up).
		return true
	}
	// A SYN with a new ISN from an endpoint that held a synchronized
	// connection: it has lost that connection (a half-open one).
	return p.State.Synchronized() || p.State == SynReceived
}

// fits reports whether segment seg from side s plausibly belongs to c: its
// ACK acknowledges something the other side sent, and its sequence number is
// near what s has sent.
func (c *Conn) fits(seg *Segment, s Side) bool {
	snd, rcv := &c.Peers[s], &c.Peers[s^1]
	if seg.Flags&FlagACK != 0 && rcv.flags&peerHaveSeq != 0 {
		if !seg.Ack.InRange(rcv.ISN, rcv.Next.Add(2)) {
			return false
		}
	}
	if snd.flags&peerHaveSeq != 0 {
		wnd := c.scaledWindow(s ^ 1)
		if wnd < 1<<16 {
			wnd = 1 << 16
		}
		if !seg.Seq.InRange(snd.ISN, snd.Next.Add(seqnum.Size(wnd))) {
			return false
		}
	}
	return true
}
