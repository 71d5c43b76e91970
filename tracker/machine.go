package tracker

import "github.com/wirestate/wirestate/tracker/seqnum"

// This file holds the per-segment state machine. A segment seen leaving
// endpoint S proves what S did (sent a SYN, a FIN, acknowledged data); its
// delivery to the receiver R is only assumed. So each segment first moves S
// on what it proves (observe), then moves R on what R would do if the
// segment arrives (infer). When a later segment from R contradicts an
// inference (R retransmits the FIN it was assumed to have had acknowledged),
// the inference is undone: R returns to the last state its own packets
// proved (correct).
//
// Each segment goes through two passes, in the manner of gVisor's netstack
// (pkg/tcpip/transport/tcp): sequence, the per-direction bookkeeping (options,
// sequence space, FIN, ACK, window), then transition, the state changes
// (what the sender proves: sentSYN, sentHandshakeACK, sentFINACK, sentFIN;
// what delivery would do to the receiver: deliverSYN, deliverACK,
// receiveFIN). The common case, a segment between ESTABLISHED endpoints, is
// dispatched inline in sequence and transition; only rarer events (the
// handshake, a close, a repeated ACK) call out to their phase's method, which
// keeps the per-segment cost of a single long function.

// apply updates c with segment seg sent by side s and fills a.
func (c *Conn) apply(seg *Segment, s Side, a *Analysis) {
	snd := &c.Peers[s]
	c.Last = seg.Time
	snd.Pkts++
	snd.IPBytes += uint64(seg.IPLen)
	a.Conn, a.From = c, s
	switch {
	case seg.BadChecksum:
	case seg.Flags&FlagRST == 0:
		snd.noteTTL(seg.TTL)
	case seg.TTL != 0 && snd.TTLSteady() && seg.TTL != snd.TTL:
		// A RST is judged against the sender's other segments, so it is
		// not one of them: one made by a middlebox in the sender's name
		// shows the middlebox's distance from the capture point.
		a.Kind |= KindRSTTTLMismatch
	}
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
// the segment (retransmission, keepalive, duplicate ACK, ...), phase by
// phase: options, sequence space, FIN, ACK, window. It moves neither
// endpoint's RFC 793 state; transition does.
func (c *Conn) sequence(seg *Segment, s Side, a *Analysis) {
	snd, rcv := &c.Peers[s], &c.Peers[s.Other()]
	f := seg.Flags
	if (f&FlagSYN != 0 && f&(FlagFIN|FlagRST) != 0) || f&(FlagSYN|FlagFIN|FlagRST|FlagACK) == 0 {
		a.Kind |= KindOddFlags
	}
	snd.options(seg)

	// Sequence space: where the segment falls in what its sender has sent.
	a.prevNext = snd.Next
	seqLen := seg.SeqLen()
	end := seg.Seq.Add(seqLen)
	keepalive := false
	switch {
	case f&FlagSYN != 0:
		snd.synSequence(seg, end, a)
	case snd.flags&peerHaveSeq == 0:
		snd.pickUp(seg, end, a)
	case f&(FlagRST|FlagFIN) == 0 && seg.PayloadLen <= 1 && seg.Seq.Add(1) == snd.Next:
		// SEG.SEQ = SND.NXT-1 with at most one byte: a keepalive.
		keepalive = true
		snd.probe(rcv, a)
	case seqLen == 0:
		// No sequence space (a pure ACK or a RST): one beyond SND.NXT
		// says segments were not captured.
		if f&FlagRST == 0 && seg.Seq.GreaterThan(snd.Next) {
			a.Kind |= KindGap
			snd.Next = seg.Seq
		}
	case end.LessThanEq(snd.Next):
		// All of it sent before: a retransmission (RFC 9293 section 3.8.1).
		a.Kind |= KindRetransmission
		snd.Retrans++
	default:
		snd.newData(seg, rcv, a)
		snd.countPayload(seg)
		snd.Next = end
	}

	if f&FlagFIN != 0 {
		c.sentFINSequence(seg, s, a)
	}

	// ACK: an advance (RFC 9293 section 3.10.7.4, "fifth, check the ACK
	// field"), or the same acknowledgement again.
	if f&FlagACK != 0 {
		switch {
		case snd.flags&peerHaveAck == 0 || seg.Ack.GreaterThan(snd.Ack):
			a.prevAck, a.hadAck = snd.Ack, snd.flags&peerHaveAck != 0
			snd.Ack = seg.Ack
			snd.flags |= peerHaveAck
			a.Kind |= KindAckAdvanced
		case seqLen == 0 && f&FlagRST == 0 && !keepalive && seg.Ack == snd.Ack:
			snd.sameAck(seg, rcv, a)
		}
	}
	rcv.flags &^= peerProbePending
	if keepalive {
		snd.flags |= peerProbePending
	}

	if f&FlagRST == 0 {
		snd.window(seg, a)
	}
}

// options records the TCP options segment seg shows its sender p uses: MSS
// (RFC 9293 section 3.7.1), window scale (RFC 7323 section 2) and SACK
// (RFC 2018) are offered in the SYN only; timestamps (RFC 7323 section 3)
// in any segment.
func (p *Peer) options(seg *Segment) {
	if seg.Flags&FlagSYN != 0 {
		p.synOptions(seg)
	}
	if seg.Opts&OptTimestamp != 0 {
		p.flags |= peerTS
	}
}

// synOptions records the options of SYN segment seg sent by p.
func (p *Peer) synOptions(seg *Segment) {
	if seg.Opts&OptMSS != 0 {
		p.MSS = seg.MSS
	}
	if seg.Opts&OptWScale != 0 {
		p.flags |= peerWScale
		p.setWScale(seg.WScale)
	}
	if seg.Opts&OptSACKPermitted != 0 {
		p.flags |= peerSACK
	}
	if seg.Flags&FlagACK != 0 {
		p.flags |= peerSYNACK
	}
}

// synSequence places SYN segment seg (whose sequence space ends at end): the
// same ISN again is a retransmission; a new one (re)starts the sender's
// sequence space (RFC 9293 section 3.4.1).
func (snd *Peer) synSequence(seg *Segment, end seqnum.Value, a *Analysis) {
	if snd.flags&peerSawSYN != 0 && seg.Seq == snd.ISN {
		a.Kind |= KindRetransmission
		if seg.Flags&FlagACK != 0 {
			a.Kind |= KindSYNACKRetransmission
		} else {
			a.Kind |= KindSYNRetransmission
		}
		snd.Retrans++
		if end.GreaterThan(snd.Next) {
			snd.Next = end
		}
		return
	}
	snd.ISN = seg.Seq
	snd.flags |= peerSawSYN | peerHaveSeq
	snd.flags &^= peerSawFIN | peerACKDropped
	snd.Next = end
	snd.Bytes += uint64(seg.PayloadLen)
	a.Kind |= KindNewData
}

// pickUp starts the sequence space of a sender first seen without a SYN
// (picked up mid-stream): it pretends the SYN was one sequence number
// earlier, so relative sequence numbers start at 1 as after a handshake.
func (snd *Peer) pickUp(seg *Segment, end seqnum.Value, a *Analysis) {
	snd.ISN = seg.Seq.Add(^seqnum.Size(0))
	snd.flags |= peerHaveSeq
	snd.Next = end
	if seg.SeqLen() > 0 {
		a.Kind |= KindNewData
		snd.Bytes += uint64(seg.PayloadLen)
	}
}

// probe classifies a keepalive, whose SEG.SEQ is SND.NXT-1 with zero or one
// byte (RFC 1122 section 4.2.3.6, RFC 9293 section 3.8.4). Into a zero
// window it is a window probe (RFC 9293 section 3.8.6.1), as Linux's
// tcp_xmit_probe_skb sends them.
func (snd *Peer) probe(rcv *Peer, a *Analysis) {
	if rcv.flags&peerZeroWin != 0 {
		a.Kind |= KindWindowProbe
		return
	}
	a.Kind |= KindKeepalive
	if snd.Keepalives < ^uint16(0) {
		snd.Keepalives++
	}
}

// newData classifies segment seg (not a SYN), sent by snd to rcv, which
// reaches beyond what snd sent before: new data, and a gap if it starts
// beyond it, or a window probe if it is sent into rcv's zero window (RFC
// 9293 section 3.8.6.1).
func (snd *Peer) newData(seg *Segment, rcv *Peer, a *Analysis) {
	if seg.Seq.GreaterThan(snd.Next) {
		a.Kind |= KindGap
	} else if seg.Seq == snd.Next && rcv.flags&peerZeroWin != 0 && seg.PayloadLen > 0 {
		a.Kind |= KindWindowProbe
	}
	a.Kind |= KindNewData
}

// countPayload adds to snd.Bytes the payload bytes of segment seg (not a
// SYN) beyond what snd sent before, so each sequence number counts once.
func (snd *Peer) countPayload(seg *Segment) {
	from, to := seqnum.Max(seg.Seq, snd.Next), seg.Seq.Add(seqnum.Size(seg.PayloadLen))
	if to.GreaterThan(from) {
		snd.Bytes += uint64(from.Size(to))
	}
}

// sentFINSequence records the sequence number of the FIN in segment seg
// from side s (the one after its data), or classifies it as a
// retransmission of the FIN already seen; the first FIN of the connection
// names its active closer (RFC 9293 section 3.6).
func (c *Conn) sentFINSequence(seg *Segment, s Side, a *Analysis) {
	snd := &c.Peers[s]
	finSeq := seg.Seq.Add(seqnum.Size(seg.PayloadLen))
	if seg.Flags&FlagSYN != 0 {
		finSeq = finSeq.Add(1)
	}
	if snd.flags&peerSawFIN != 0 && finSeq == snd.FinSeq {
		a.Kind |= KindFINRetransmission
		return
	}
	snd.FinSeq = finSeq
	snd.flags |= peerSawFIN
	c.markEnd(s, false)
	if c.Flags&(ConnOrigClosedFirst|ConnRespClosedFirst) == 0 {
		c.Flags |= ConnOrigClosedFirst << s
	}
}

// sameAck classifies segment seg, without sequence space, that repeats the
// acknowledgement its sender snd sent before: the answer to rcv's probe, a
// window update, or (Wireshark's rule) a duplicate ACK (RFC 5681 section 2).
func (snd *Peer) sameAck(seg *Segment, rcv *Peer, a *Analysis) {
	switch {
	case rcv.flags&peerProbePending != 0:
		a.Kind |= KindKeepaliveAck
	case seg.Window != snd.Window:
		a.Kind |= KindWindowUpdate
	case rcv.Next.GreaterThan(seg.Ack):
		// Same ACK, same window, no data, while the other side has
		// unacknowledged data.
		a.Kind |= KindDupAck
		if snd.DupAcks < ^uint16(0) {
			snd.DupAcks++
		}
	}
}

// window records the window segment seg (not a RST) advertises for its
// sender, counting each time it closes to zero (RFC 9293 section 3.8.6).
// A SYN's zero window is no closed window.
func (snd *Peer) window(seg *Segment, a *Analysis) {
	if seg.Window == 0 && seg.Flags&FlagSYN == 0 {
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

// peerProbePending marks a keepalive or window probe awaiting its answer.
const peerProbePending uint16 = 1 << 15

// peerTTLVaried marks an endpoint whose last two segments (RSTs aside)
// arrived with different TTLs (Peer.TTLSteady).
const peerTTLVaried uint16 = 1 << 14

// transition moves the sender on what its segment proves and the receiver on
// what the segment's delivery would do (RFC 793 section 3.9, RFC 9293
// section 3.10.7, "SEGMENT ARRIVES"). Before either, the segment may
// correct an inference about its sender; a RST ends both.
func (c *Conn) transition(seg *Segment, s Side, a *Analysis) {
	r := s.Other()
	snd, rcv := &c.Peers[s], &c.Peers[r]
	f := seg.Flags

	corrected := false
	if snd.flags&peerInferred != 0 && c.contradicts(seg, s) {
		// The sender's own segment proves an inference about it wrong.
		c.correct(a, seg, s, c.undo(seg, s))
		a.Kind |= KindCorrection
		corrected = true
	}
	if f&FlagRST != 0 {
		c.reset(seg, s, a)
		return
	}

	// What the sender's own segment proves about the sender.
	if f&FlagSYN != 0 {
		if a.Kind&KindSYNACKRetransmission != 0 {
			c.sentSYNACKAgain(s)
		}
		c.sentSYN(seg, s, a)
	}
	if f&FlagACK != 0 {
		switch snd.State {
		case SynSent, SynReceived:
			c.sentHandshakeACK(seg, s, a)
		case Established:
			// An ordinary segment proves ESTABLISHED.
			if f&FlagSYN == 0 {
				c.confirm(s)
			}
		}
		if acksFIN(seg, rcv) {
			c.sentFINACK(seg, s, a)
		}
	}
	if f&FlagFIN != 0 {
		c.sentFIN(seg, s, a)
	}
	if corrected && rcv.flags&peerSawFIN != 0 && !acksFIN(seg, rcv) {
		// The peer's FIN had not arrived when this was sent; it is still
		// in flight, so its delivery is assumed again.
		c.receiveFIN(a, seg, s, inferred)
	}

	// What the segment's delivery would do to the receiver.
	if f&FlagSYN != 0 && rcv.State == SynSent {
		c.deliverSYN(seg, r, a)
	}
	if f&FlagACK != 0 && rcv.awaitsACK() {
		c.deliverACK(seg, r, a)
	}
	if f&FlagFIN != 0 {
		// RFC 793 section 3.9 / RFC 9293 section 3.10.7.4, "eighth,
		// check the FIN bit".
		c.receiveFIN(a, seg, r, inferred)
	}
}

// reset applies RST segment seg from side s. Its sender has aborted or never
// had the connection (RFC 9293 section 3.10.5, ABORT call); the receiver
// aborts if the RST is acceptable and ignores it otherwise (RFC 793 section
// 3.4 "Reset Processing", RFC 9293 sections 3.5.3 and 3.10.7.4, "second,
// check the RST bit").
func (c *Conn) reset(seg *Segment, s Side, a *Analysis) {
	c.Peers[s].flags |= peerSawRST
	c.markEnd(s, true)
	c.observe(a, seg, s, Closed)
	if c.rstAcceptable(seg, s) {
		a.Kind |= KindRSTInWindow
		c.infer(a, seg, s.Other(), Closed)
	} else {
		a.Kind |= KindRSTOutOfWindow
	}
}

// sentSYN moves side s on the SYN it sent in seg.
func (c *Conn) sentSYN(seg *Segment, s Side, a *Analysis) {
	snd := &c.Peers[s]
	if seg.Flags&FlagACK == 0 {
		// RFC 793 section 3.4 figure 7 / RFC 9293 section 3.10.1: OPEN
		// call, SYN sent.
		switch snd.State {
		case Closed, Listen:
			c.observe(a, seg, s, SynSent)
		case SynSent:
			c.confirm(s)
		}
		return
	}
	// RFC 793 section 3.4 / RFC 9293 section 3.10.7.2: LISTEN, SYN
	// received, SYN-ACK sent. From SYN_SENT this is a simultaneous open
	// (RFC 793 figure 8, RFC 9293 section 3.10.7.3).
	switch snd.State {
	case Closed, Listen, SynSent:
		c.observe(a, seg, s, SynReceived)
	case SynReceived:
		c.confirm(s)
	}
}

// sentSYNACKAgain records that side s retransmitted its SYN-ACK. If the
// peer had already acknowledged it, that acknowledgement was not taken: it
// was lost on the way, or the listener dropped it because its accept queue
// was full (Linux's tcp_check_req with tcp_abort_on_overflow=0). A SYN-ACK
// is retransmitted only from SYN-RECEIVED, on its retransmission timeout
// (RFC 9293 sections 3.8.1 and 3.10.8), so s still holds SYN_RECEIVED; and
// since the peer's ACKs proved unreliable evidence, only s's own ordinary
// segment proves it ESTABLISHED from now on (see deliverACK, receiveFIN).
func (c *Conn) sentSYNACKAgain(s Side) {
	snd, o := &c.Peers[s], &c.Peers[s.Other()]
	if o.flags&peerHaveAck != 0 && o.Ack.GreaterThan(snd.ISN) {
		snd.flags |= peerACKDropped
	}
}

// awaitsACK reports whether an acknowledgement can move p: p waits for the
// ACK of its SYN (SYN_RECEIVED) or of its FIN (FIN_WAIT_1, CLOSING or
// LAST_ACK once it sent one), as RFC 9293 section 3.10.7.4 ("fifth, check
// the ACK field") lists. (SYN_SENT waits for a SYN-ACK: see deliverSYN.)
func (p *Peer) awaitsACK() bool {
	return p.State == SynReceived || p.flags&peerSawFIN != 0
}

// sentHandshakeACK moves side s, in SYN_SENT or SYN_RECEIVED, on the ACK
// it sent in seg: the one that completes its side of the handshake.
func (c *Conn) sentHandshakeACK(seg *Segment, s Side, a *Analysis) {
	if seg.Flags&FlagSYN != 0 {
		return // a SYN-ACK: see sentSYN
	}
	switch c.Peers[s].State {
	case SynSent:
		// RFC 793 section 3.9 / RFC 9293 section 3.10.7.3, SYN-SENT: our
		// SYN is acknowledged and the peer's SYN received; the ACK that
		// completes the handshake.
		if rcv := &c.Peers[s.Other()]; rcv.flags&peerSawSYN != 0 && seg.Ack.GreaterThan(rcv.ISN) {
			c.observe(a, seg, s, Established)
		}
	case SynReceived:
		// RFC 793 section 3.9 / RFC 9293 section 3.10.7.4, SYN-RECEIVED:
		// only an endpoint whose SYN was acknowledged sends an ordinary
		// segment.
		c.Peers[s].flags &^= peerACKDropped
		c.observe(a, seg, s, Established)
	}
}

// sentFINACK moves side s on its segment seg that acknowledges the peer's
// FIN: s has received it (RFC 9293 section 3.10.7.4, "eighth, check the
// FIN bit"), which its own segment proves.
func (c *Conn) sentFINACK(seg *Segment, s Side, a *Analysis) {
	c.Peers[s].flags |= peerRcvdFIN
	c.receiveFIN(a, seg, s, observed)
}

// sentFIN moves side s on the FIN it sent in seg (RFC 793 section 3.5, RFC
// 9293 sections 3.6 and 3.10.4: CLOSE call, FIN sent).
func (c *Conn) sentFIN(seg *Segment, s Side, a *Analysis) {
	switch c.Peers[s].State {
	case Established, SynReceived:
		c.observe(a, seg, s, FinWait1)
	case CloseWait:
		c.observe(a, seg, s, LastAck)
	case FinWait1, Closing, LastAck:
		c.confirm(s)
	}
}

// deliverSYN moves receiver r, in SYN_SENT, as the delivery of SYN segment
// seg would. (A SYN to an endpoint that has shown nothing moves nobody: we
// cannot know whether a listener is there.)
func (c *Conn) deliverSYN(seg *Segment, r Side, a *Analysis) {
	rcv := &c.Peers[r]
	if seg.Flags&FlagACK != 0 {
		// RFC 9293 section 3.10.7.3, SYN-SENT: a SYN-ACK acknowledging
		// our SYN makes the client ESTABLISHED, and it answers at once
		// with an ACK ("form an ACK segment ... and send it"). That ACK,
		// not the SYN-ACK, is what proves ESTABLISHED (sentHandshakeACK):
		// without it nothing shows the SYN-ACK arrived, and an endpoint
		// that sent nothing after its SYN is never shown ESTABLISHED. It
		// stays SYN_SENT, what its SYN proved.
		//
		// A SYN-ACK retransmitted to an endpoint that has still sent
		// nothing but its SYN says nobody answered the first: a live
		// client in SYN-SENT would have sent its ACK, a host that never
		// sent the SYN (the spoofed source of a SYN flood) a RST (RFC 9293
		// section 3.10.7.1, CLOSED: "an incoming segment not containing a
		// RST causes a RST to be sent"). Silence means no endpoint holds
		// the connection: CLOSED, inferred. A later segment of its own
		// (its ACK, or its SYN retransmitted because every SYN-ACK was
		// lost) corrects this back to SYN_SENT (see contradicts).
		if a.Kind&KindSYNACKRetransmission != 0 && rcv.Pkts <= 1 && seg.Ack == rcv.ISN.Add(1) {
			c.infer(a, seg, r, Closed)
		}
	} else if rcv.flags&peerSawSYN != 0 {
		// Simultaneous open: SYN_SENT receiving a SYN (RFC 793 figure 8).
		c.infer(a, seg, r, SynReceived)
	}
}

// deliverACK moves receiver r, waiting for an acknowledgement (see
// awaitsACK), as the delivery of the ACK in seg would (RFC 793
// section 3.9 / RFC 9293 section 3.10.7.4, "fifth, check the ACK field"):
// it completes r's passive open, or acknowledges r's FIN.
//
// An ACK completes a passive open only for an endpoint that sent its
// SYN-ACK (an endpoint put in SYN_RECEIVED by a simultaneous open it has
// not answered would drop it, RFC 9293 section 3.10.7.3, SYN-SENT: "if
// neither of the SYN or RST bits is set, then drop the segment"), and
// only until it retransmits that SYN-ACK after an ACK (see
// sentSYNACKAgain): from then on its own segment must prove ESTABLISHED.
func (c *Conn) deliverACK(seg *Segment, r Side, a *Analysis) {
	rcv := &c.Peers[r]
	if rcv.State == SynReceived && rcv.flags&(peerSawSYN|peerSYNACK|peerACKDropped) == peerSawSYN|peerSYNACK &&
		seg.Ack.GreaterThan(rcv.ISN) && seg.Flags&FlagSYN == 0 {
		c.infer(a, seg, r, Established)
	}
	if rcv.flags&peerSawFIN != 0 && seg.Ack.GreaterThanEq(rcv.FinSeq.Add(1)) {
		switch rcv.State {
		case FinWait1:
			c.infer(a, seg, r, FinWait2)
		case Closing:
			c.infer(a, seg, r, TimeWait)
		case LastAck:
			c.infer(a, seg, r, Closed)
		}
	}
}

// receiveFIN moves side to the state RFC 793 section 3.9 (RFC 9293 section
// 3.10.7.4, "eighth, check the FIN bit") gives an endpoint that receives its
// peer's FIN: observed when side's own segment acknowledges the FIN,
// inferred when side is the FIN's receiver.
func (c *Conn) receiveFIN(a *Analysis, seg *Segment, side Side, ev evidence) {
	p := &c.Peers[side]
	switch p.State {
	case Established, SynReceived:
		if ev == inferred && p.flags&peerACKDropped != 0 {
			// A listener dropping the handshake's ACK drops the FIN that
			// follows it too (see sentSYNACKAgain).
			return
		}
		c.move(a, seg, side, CloseWait, ev)
	case FinWait1:
		if c.finAcked(side) {
			c.move(a, seg, side, TimeWait, ev)
		} else {
			c.move(a, seg, side, Closing, ev)
		}
	case FinWait2:
		c.move(a, seg, side, TimeWait, ev)
	case CloseWait, Closing, LastAck:
		if ev != inferred {
			c.confirm(side)
		}
	case TimeWait:
		// Acknowledging the peer's FIN proves TIME_WAIT when the peer had
		// already acknowledged our FIN (its FIN carried that ACK).
		if ev != inferred && c.finAcked(side) {
			c.confirm(side)
		}
	}
}

// finAcked reports whether side's FIN has been acknowledged by the other side.
func (c *Conn) finAcked(side Side) bool {
	p, o := &c.Peers[side], &c.Peers[side.Other()]
	return p.flags&peerSawFIN != 0 && o.flags&peerHaveAck != 0 && o.Ack.GreaterThanEq(p.FinSeq.Add(1))
}

// contradicts reports whether segment seg from side s shows that an inferred
// state of s is wrong.
func (c *Conn) contradicts(seg *Segment, s Side) bool {
	p, o := &c.Peers[s], &c.Peers[s.Other()]
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
	p, o := &c.Peers[s], &c.Peers[s.Other()]
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
// would accept it (RFC 793 3.4 "Reset Processing", RFC 9293 section 3.5.3,
// RFC 5961 section 3).
func (c *Conn) rstAcceptable(seg *Segment, s Side) bool {
	snd, rcv := &c.Peers[s], &c.Peers[s.Other()]
	if rcv.State == SynSent {
		// In SYN-SENT a RST is acceptable if its ACK acknowledges the SYN.
		return seg.Flags&FlagACK != 0 && seg.Ack.GreaterThan(rcv.ISN) && seg.Ack.LessThanEq(rcv.Next)
	}
	if rcv.flags&peerHaveAck == 0 {
		// The receiver's window is unknown: accept.
		return true
	}
	wnd := c.scaledWindow(s.Other())
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

// evidence is what a state change rests on.
type evidence uint8

const (
	// observed: the endpoint's own segment proves the state.
	observed evidence = iota
	// inferred: the delivery of the other side's segment would cause it
	// (shown with "?").
	inferred
	// corrected: the endpoint's own segment proves an earlier inference
	// wrong, and it returns to a state its packets support (shown with "!").
	corrected
)

// observe moves side s to state to because its own segment seg proves it.
func (c *Conn) observe(a *Analysis, seg *Segment, s Side, to State) {
	c.move(a, seg, s, to, observed)
}

// infer moves side s to state to because the delivery of the other side's
// segment seg would: the move rests on an assumption, and Observed stays.
func (c *Conn) infer(a *Analysis, seg *Segment, s Side, to State) {
	c.move(a, seg, s, to, inferred)
}

// correct moves side s back to state to because its own segment seg
// contradicts the inference that put it where it is.
func (c *Conn) correct(a *Analysis, seg *Segment, s Side, to State) {
	c.move(a, seg, s, to, corrected)
}

// move moves side s to state to because of seg, on evidence ev, recording
// the transition in a. An inferred move keeps Observed; an observed or
// corrected one updates it. A move to the current state records nothing,
// but the endpoint's own segment confirms that state.
func (c *Conn) move(a *Analysis, seg *Segment, s Side, to State, ev evidence) {
	p := &c.Peers[s]
	from := p.State
	if from == to {
		if ev != inferred {
			c.confirm(s)
		}
		return
	}
	p.State = to
	if to == TimeWait {
		p.flags |= peerWasTimeWait
	}
	if ev == inferred {
		p.flags |= peerInferred
	} else {
		p.flags &^= peerInferred
		p.Observed = to
	}
	if a.NTrans < maxTransitions {
		a.Trans[a.NTrans] = Transition{
			Time: seg.Time, Frame: seg.Frame, Side: s, From: from, To: to,
			Inferred: ev == inferred, Correction: ev == corrected,
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
// has run out by time now (RFC 793 3.9 / RFC 9293 section 3.10.8,
// "Timeouts"), returning the changes.
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
	snd, rcv := &c.Peers[s], &c.Peers[s.Other()]
	if seg.Flags&FlagACK != 0 && rcv.flags&peerHaveSeq != 0 {
		if !seg.Ack.InRange(rcv.ISN, rcv.Next.Add(2)) {
			return false
		}
	}
	if snd.flags&peerHaveSeq != 0 {
		wnd := c.scaledWindow(s.Other())
		if wnd < 1<<16 {
			wnd = 1 << 16
		}
		if !seg.Seq.InRange(snd.ISN, snd.Next.Add(seqnum.Size(wnd))) {
			return false
		}
	}
	return true
}
