package tracker

import "github.com/wirestate/wirestate/tracker/seqnum"

// This file holds the loss bookkeeping of one direction: retransmissions
// and where their segment was lost, spurious retransmissions, out-of-order
// segments, and the data the capture missed. A direction's sequence space
// can have one hole at a time: data never seen below data seen (a segment
// that started beyond SND.MAX, KindGap). What fills it was never seen
// before: lost before the capture point if its sender retransmits it (or
// reordered if it comes at once); acknowledged without being seen, the
// capture lost it.

// Loss counts one direction's losses.
type Loss struct {
	// RetransBytes is the payload of the retransmitted data segments
	// counted in RetransSegs.
	RetransBytes uint64
	// MissedBytes is how much data the ACKs counted in AcksForUnseen
	// covered (Zeek's missed_bytes).
	MissedBytes uint64
	// RetransSegs counts retransmitted data segments (out-of-order
	// segments are not counted).
	RetransSegs uint32
	// LostBeyond counts retransmissions of data the capture saw: lost
	// between the capture point and the receiver (or its ACK was lost).
	LostBeyond uint32
	// LostBefore counts retransmissions of data the capture never saw:
	// lost between the sender and the capture point.
	LostBefore uint32
	// Spurious counts retransmissions of data the receiver had already
	// acknowledged, and D-SACK blocks (RFC 2883) that report a duplicate
	// not already counted so.
	Spurious uint32
	// OutOfOrder counts segments that filled a hole soon after it opened
	// (within the handshake's round trip, or 3 ms without one, as
	// Wireshark's tcp.analysis.out_of_order): reordered, not lost.
	OutOfOrder uint32
	// WindowFull counts data segments that filled the receiver's
	// advertised window exactly (Wireshark's tcp.analysis.window_full).
	WindowFull uint32
	// AcksForUnseen counts the receiver's ACKs that acknowledged data of
	// this direction the capture never saw (Wireshark's "ACKed unseen
	// segment"): the capture, not the network, lost it.
	AcksForUnseen uint32
}

// lossState is the bookkeeping behind one direction's Loss, kept in the
// shard only (records carry the counts).
type lossState struct {
	// hole is the data never seen below data seen: [holeLo, holeHi) when
	// haveHole.
	holeLo, holeHi seqnum.Value
	// spurHigh is one past the highest data counted spurious.
	spurHigh           seqnum.Value
	haveHole, haveSpur bool
}

// gap records a segment starting at seq beyond next, the highest sequence
// number seen before: [next, seq) was not seen.
func (l *lossState) gap(next, seq seqnum.Value) {
	if !l.haveHole {
		l.holeLo, l.holeHi, l.haveHole = next, seq, true
		return
	}
	// One hole is kept: a second one is merged with the first.
	if seq.GreaterThan(l.holeHi) {
		l.holeHi = seq
	}
}

// fill takes [seq, end) out of the hole and reports whether any of it was
// in it (never seen before).
func (l *lossState) fill(seq, end seqnum.Value) bool {
	if !l.haveHole || !end.GreaterThan(l.holeLo) || !seq.LessThan(l.holeHi) {
		return false
	}
	switch {
	case seq.LessThanEq(l.holeLo):
		l.holeLo = seqnum.Min(end, l.holeHi)
	case end.GreaterThanEq(l.holeHi):
		l.holeHi = seq
	default:
		// Filled in the middle: the part above is forgotten.
		l.holeHi = seq
	}
	if !l.holeLo.LessThan(l.holeHi) {
		l.haveHole = false
	}
	return true
}

// acked records an acknowledgement advancing from prev (valid when hadPrev)
// to ack of this direction's data, whose highest sequence number seen is
// next, and reports whether it acknowledged data never seen.
func (l *lossState) acked(c *Loss, prev, ack, next seqnum.Value, hadPrev bool) bool {
	var missed uint64
	if l.haveHole && ack.GreaterThan(l.holeLo) {
		hi := seqnum.Min(ack, l.holeHi)
		missed += uint64(l.holeLo.Size(hi))
		l.holeLo = hi
		if !l.holeLo.LessThan(l.holeHi) {
			l.haveHole = false
		}
	}
	if ack.GreaterThan(next) {
		from := next
		if hadPrev && prev.GreaterThan(from) {
			from = prev
		}
		// Any forward jump (below 2 GiB, as sequence numbers compare)
		// covers data: a transfer can outrun the capture by gigabytes.
		if ack.GreaterThan(from) {
			missed += uint64(from.Size(ack))
		}
	}
	if missed == 0 {
		return false
	}
	c.MissedBytes += missed
	c.AcksForUnseen++
	return true
}

// retransmitted classifies a retransmitted data segment [seq, end) with
// payload n, sent at table time now; nextAt is when its sender's highest
// sequence number last advanced, ooo the out-of-order threshold (µs),
// acked whether the receiver had acknowledged all of it.
func (l *lossState) retransmitted(c *Loss, seq, end seqnum.Value, n uint32, now, nextAt uint64, ooo uint32, acked bool) {
	if l.fill(seq, end) {
		if since(nextAt, now) < ooo {
			c.OutOfOrder++
			return
		}
		c.RetransSegs++
		c.RetransBytes += uint64(n)
		c.LostBefore++
		return
	}
	c.RetransSegs++
	c.RetransBytes += uint64(n)
	if acked {
		l.spurious(c, end)
		return
	}
	c.LostBeyond++
}

// spurious counts a spurious retransmission of data ending at end.
func (l *lossState) spurious(c *Loss, end seqnum.Value) {
	c.Spurious++
	if !l.haveSpur || end.GreaterThan(l.spurHigh) {
		l.spurHigh, l.haveSpur = end, true
	}
}

// dsack records a D-SACK block [left, right) the receiver reported: a
// duplicate it discarded, so a spurious retransmission, unless the
// retransmission was already counted spurious.
func (l *lossState) dsack(c *Loss, right seqnum.Value) {
	if l.haveSpur && right.LessThanEq(l.spurHigh) {
		return
	}
	l.spurious(c, right)
}
