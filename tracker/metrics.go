package tracker

import (
	"github.com/wirestate/wirestate/tracker/seqnum"
)

// This file measures each connection's latency and loss as the capture
// point sees them: the handshake's round trip and its two halves, the
// round trip of data each way, the application's response time, losses,
// capture loss and zero-window time (docs/metrics.md). The numbers live in
// two blocks per connection, kept in per-shard slabs beside the connection
// slab: the common one (round trips, response times, handshake: 112
// bytes) attached only once the connection completes its handshake or
// carries data, so that a connection that never gets that far (a SYN
// flood's, a scan's) costs 4 bytes more, not a block; and the rare one
// (losses, zero windows, capture loss: 224 bytes) attached at the first
// such event. Segments in flight wait for their acknowledgement in the
// shard's rttTable.

// Metrics is one connection's latency and loss, as records carry it.
// Times are packet times; durations are in microseconds unless named NS.
type Metrics struct {
	MetricsCore
	// Loss holds each direction's losses, by sender.
	Loss [2]Loss
	// ZeroWindowNS is how long each side advertised a zero window, in
	// nanoseconds (up to the connection's last packet if it never
	// reopened).
	ZeroWindowNS [2]int64
}

// MetricsCore is the part of Metrics every measured connection has: the
// round trips. Loss and ZeroWindowNS are zero unless Lossy reports true.
type MetricsCore struct {
	// RTT holds the round trips of each direction's segments: RTT[Orig]
	// from the originator's segments to the responder's ACKs (rtt_to_resp),
	// RTT[Resp] the other way (rtt_to_orig). A sample is a segment with
	// sequence space (SYN-ACK, data, FIN) and the first ACK that ends
	// exactly at its end; retransmitted segments are never sampled
	// (Karn), except through a TCP timestamp echo that names the
	// retransmission.
	RTT [2]Summary
	// App holds the application's response times: from the last data
	// segment of a request (the originator's data) to the first data
	// segment of the answer, turn by turn.
	App Summary
	// HandshakeResp is the time from the SYN to the SYN-ACK (the
	// responder's side of the capture point), HandshakeOrig from the
	// SYN-ACK to the ACK that completes the handshake (the originator's
	// side); valid when HandshakeRTT reports ok.
	HandshakeResp, HandshakeOrig uint32

	flags uint16
}

// latencyState is the head of every block: what the handshake's round
// trip, the application's response time and capture loss need. A shard
// that measures only those (Config.SkipMetrics) gives its unrecorded
// connections this alone, 48 bytes instead of metricsState's 120: nearly
// every connection gets a block, most are held to the end of a capture,
// and 72 bytes more per block cost 3% of the text report's run on the
// benchmark capture (6% of its CPU), in cache misses and page faults.
type latencyState struct {
	App                          Summary
	HandshakeResp, HandshakeOrig uint32
	reqAt                        uint64 // table time of the request's last segment, with mPending
	rare                         uint32 // index plus one of the rare block, 0 if none
	flags                        uint16
}

// metricsState is the block of a connection measured in full, in the
// shard: the core that records carry and the bookkeeping behind it.
type metricsState struct {
	latencyState
	RTT    [2]Summary
	nextAt [2]uint64 // table time each side's SND.MAX last advanced
}

// core returns what a record carries of l (and rtt, the round trips of
// a block measured in full).
func (l *latencyState) core(rtt *[2]Summary) MetricsCore {
	c := MetricsCore{App: l.App, HandshakeResp: l.HandshakeResp, HandshakeOrig: l.HandshakeOrig, flags: l.flags}
	if rtt != nil {
		c.RTT = *rtt
	}
	return c
}

// rareState is the block of a connection that lost something, had a
// zero window or filled one: its counts and their bookkeeping.
type rareState struct {
	Loss         [2]Loss
	ZeroWindowNS [2]int64
	zwSince      [2]int64  // packet time the zero window began, with mZW
	rtxAt        [2]uint64 // table time of each side's last retransmission, with mRtx
	rtxHigh      [2]seqnum.Value
	// rtxTS is, per side, the last retransmission whose timestamp an
	// echo can resolve, with mRtxTS.
	rtxTS [2]struct {
		tsval uint32
		end   seqnum.Value
		at    uint64
	}
	loss [2]lossState
}

// Bits of MetricsCore.flags; per-side bits are shifted by the side.
const (
	mOn        uint16 = 1 << iota // the block is in use
	mHandshake                    // HandshakeResp and HandshakeOrig are valid
	mPending                      // a request awaits its answer
	mZW                           // bits 3-4: zero window open, per side
	_
	mRtx // bits 5-6: retransmitted, per side
	_
	mRtxTS // bits 7-8: rtxTS valid, per side
	_
	mRare   // the connection had a rare block: Loss and ZeroWindowNS may be set
	mSYNACK // latency only: reqAt holds the SYN-ACK's time, awaiting the handshake's ACK
)

// On reports whether the connection was measured: it completed its
// handshake or carried data. Without that every metric is absent.
func (m *MetricsCore) On() bool { return m.flags&mOn != 0 }

// Lossy reports whether the connection lost, reordered or retransmitted
// something, had a zero window, filled its peer's window or lost packets
// to the capture: only then can Loss and ZeroWindowNS be non-zero.
func (m *MetricsCore) Lossy() bool { return m.flags&mRare != 0 }

// HandshakeRTT returns the handshake's round trip at the capture point,
// from the SYN to the ACK that completes the handshake, in nanoseconds,
// and false without a complete handshake of first transmissions.
func (m *MetricsCore) HandshakeRTT() (int64, bool) {
	return (int64(m.HandshakeResp) + int64(m.HandshakeOrig)) * 1000, m.flags&mHandshake != 0
}

// HandshakeRTTResp returns the SYN to SYN-ACK time (nanoseconds): the
// round trip between the capture point and the responder.
func (m *MetricsCore) HandshakeRTTResp() (int64, bool) {
	return int64(m.HandshakeResp) * 1000, m.flags&mHandshake != 0
}

// HandshakeRTTOrig returns the SYN-ACK to ACK time (nanoseconds): the
// round trip between the capture point and the originator.
func (m *MetricsCore) HandshakeRTTOrig() (int64, bool) {
	return int64(m.HandshakeOrig) * 1000, m.flags&mHandshake != 0
}

// ZeroWindow returns how long side s advertised a zero window, in
// nanoseconds, and false if it never did.
func (m *Metrics) ZeroWindow(s Side) (int64, bool) {
	return m.ZeroWindowNS[s], m.ZeroWindowNS[s] > 0 || m.flags&(mZW<<s) != 0
}

// CaptureLoss returns the ACKs for data the capture never saw and the
// bytes they covered, both directions together.
func (m *Metrics) CaptureLoss() (acks uint64, missed uint64) {
	for s := range m.Loss {
		acks += uint64(m.Loss[s].AcksForUnseen)
		missed += m.Loss[s].MissedBytes
	}
	return acks, missed
}

// blockSlab holds a shard's blocks of one kind in fixed chunks (their
// addresses stay put), with a free list.
type blockSlab[T any] struct {
	chunks [][]T
	free   []int32
	n      int
}

// blockChunk is the number of blocks allocated at once.
const blockChunk = 1024

func (s *blockSlab[T]) at(i int) *T { return &s.chunks[i/blockChunk][i%blockChunk] }

// alloc returns the index of a zeroed block.
func (s *blockSlab[T]) alloc() int {
	if k := len(s.free); k > 0 {
		i := int(s.free[k-1])
		s.free = s.free[:k-1]
		var zero T
		*s.at(i) = zero
		return i
	}
	if s.n == len(s.chunks)*blockChunk {
		s.chunks = append(s.chunks, make([]T, blockChunk))
	}
	s.n++
	return s.n - 1
}

func (s *blockSlab[T]) release(i int) { s.free = append(s.free, int32(i)) }

// metrics returns the block of the connection at slab index idx, or nil.
func (sh *shard) metrics(idx int) *metricsState {
	if i := *sh.slab.met(idx); i != 0 {
		return sh.mets.at(int(i) - 1)
	}
	return nil
}

// latency returns the latency-only block of the connection at slab index
// idx (measured as Config.SkipMetrics says), or nil.
func (sh *shard) latency(idx int) *latencyState {
	if i := *sh.slab.met(idx); i != 0 {
		return sh.lats.at(int(i) - 1)
	}
	return nil
}

// latencyOnly reports whether the connection c gets a latency-only block.
func (sh *shard) latencyOnly(c *Conn) bool {
	return sh.skipMetrics && c.Flags&ConnRecording == 0
}

// attach gives the connection at slab index idx a block.
func (sh *shard) attach(idx int) *metricsState {
	i := sh.mets.alloc()
	*sh.slab.met(idx) = uint32(i) + 1
	m := sh.mets.at(i)
	m.flags = mOn
	return m
}

// attachLatency gives the connection at slab index idx a latency-only
// block, not yet On.
func (sh *shard) attachLatency(idx int) *latencyState {
	i := sh.lats.alloc()
	*sh.slab.met(idx) = uint32(i) + 1
	return sh.lats.at(i)
}

// latencyOn returns the latency-only block m of the connection at slab
// index idx, attached if nil, and marks it On: it has a figure.
func (sh *shard) latencyOn(idx int, m *latencyState) *latencyState {
	if m == nil {
		m = sh.attachLatency(idx)
	}
	m.flags |= mOn
	return m
}

// rareOf returns m's rare block, attaching one if needed.
func (sh *shard) rareOf(m *latencyState) *rareState {
	if m.rare == 0 {
		m.rare = uint32(sh.rares.alloc()) + 1
		m.flags |= mRare
	}
	return sh.rares.at(int(m.rare) - 1)
}

// detach finishes the blocks of the connection c at slab index idx (up
// to its last packet) into out, frees them, and reports whether it had
// any.
func (sh *shard) detach(idx int, c *Conn, out *Metrics) bool {
	p := sh.slab.met(idx)
	if *p == 0 {
		return false
	}
	var m *latencyState
	if sh.latencyOnly(c) {
		m = sh.lats.at(int(*p) - 1)
		sh.lats.release(int(*p) - 1)
		if m.flags&mOn == 0 {
			*p = 0 // a SYN-ACK's time, no figure: as if never measured
			return false
		}
		out.MetricsCore = m.core(nil)
	} else {
		full := sh.mets.at(int(*p) - 1)
		sh.mets.release(int(*p) - 1)
		m = &full.latencyState
		out.MetricsCore = m.core(&full.RTT)
	}
	*p = 0
	last := c.Last
	if m.rare == 0 {
		out.Loss, out.ZeroWindowNS = [2]Loss{}, [2]int64{}
		return true
	}
	r := sh.rares.at(int(m.rare) - 1)
	sh.rares.release(int(m.rare) - 1)
	for s := Orig; s <= Resp; s++ {
		if m.flags&(mZW<<s) != 0 && last > r.zwSince[s] {
			r.ZeroWindowNS[s] += last - r.zwSince[s]
			r.zwSince[s] = last
		}
	}
	out.Loss, out.ZeroWindowNS = r.Loss, r.ZeroWindowNS
	return true
}

// uidTag is the 8-bit tag of a connection's segments in the rttTable.
func uidTag(c *Conn) uint8 { return uint8(c.UID) | 1 }

// oooThreshold is Wireshark's out-of-order threshold: the handshake's
// round trip, or 3 ms without one (µs).
func (m *latencyState) oooThreshold() uint32 {
	if m.flags&mHandshake != 0 {
		return m.HandshakeResp + m.HandshakeOrig
	}
	return 3000
}

// measure updates the metrics of the connection at slab index idx (c)
// with the segment a describes, after the tracker applied it.
func (sh *shard) measure(idx int, c *Conn, a *Analysis) {
	seg, s := a.Seg, a.From
	if seg.BadChecksum {
		return
	}
	if sh.latencyOnly(c) {
		l := sh.measureCaptureLoss(idx, c, a)
		sh.measureLatency(idx, c, l, a)
		return
	}
	r := s.Other()
	f := seg.Flags
	m := sh.metrics(idx)
	now := usec(seg.Time)
	tag := uidTag(c)
	snd, rcv := &c.Peers[s], &c.Peers[r]

	// A segment with sequence space waits in the table for the ACK that
	// ends at its end.
	if a.Kind&KindNewData != 0 && f&FlagRST == 0 {
		switch {
		case f&FlagSYN == 0:
			sh.rtt.put(rttKey(idx, s, seg.Seq.Add(seg.SeqLen())), now, uint32(seg.SeqLen()), tag, false)
		case f&FlagACK != 0 && s == Resp:
			// The SYN-ACK waits for the ACK that completes the handshake.
			sh.rtt.put(rttKey(idx, Resp, seg.Seq.Add(seg.SeqLen())), now, 0, tag, true)
		}
	}
	acks := f&FlagACK != 0 && a.Kind&KindAckAdvanced != 0
	if m == nil {
		if f&FlagSYN != 0 && seg.PayloadLen == 0 {
			return
		}
		if seg.PayloadLen == 0 && f&FlagFIN == 0 && a.Kind&(KindZeroWindow|KindGap) == 0 {
			// A pure ACK: a block only for the handshake's ACK or an
			// acknowledgement of data never seen.
			if !acks {
				return
			}
			if !(rcv.HaveSeq() && seg.Ack.GreaterThan(rcv.Next)) && !sh.rtt.has(rttKey(idx, r, seg.Ack)) {
				return
			}
		}
		m = sh.attach(idx)
	}

	// Acknowledgement: RTT samples, capture loss. A RST's ACK counts
	// too, as in tshark: it acknowledges what it covers.
	if acks {
		sh.acked(idx, c, m, seg, s, a, now, tag)
	}
	if m.rare != 0 && f&FlagACK != 0 && f&FlagRST == 0 {
		x := sh.rares.at(int(m.rare) - 1)
		if seg.Opts&OptSACK != 0 && seg.SACKLeft.LessThan(seg.Ack) {
			x.loss[r].dsack(&x.Loss[r], seg.SACKRight)
		}
		if seg.Opts&OptTimestamp != 0 && m.flags&(mRtxTS<<r) != 0 && seg.Ack.GreaterThanEq(x.rtxTS[r].end) {
			// RFC 7323 section 4: the echo says which transmission the
			// ACK answers; the retransmission's own is a sample.
			if seg.TSEcr == x.rtxTS[r].tsval {
				m.RTT[r].add(since(x.rtxTS[r].at, now))
			}
			m.flags &^= mRtxTS << r
		}
	} else if f&FlagACK != 0 && f&FlagRST == 0 && seg.Opts&OptSACK != 0 && seg.SACKLeft.LessThan(seg.Ack) {
		x := sh.rareOf(&m.latencyState)
		x.loss[r].dsack(&x.Loss[r], seg.SACKRight)
	}

	if f&FlagRST != 0 {
		return
	}
	// Zero window (RFC 9293 section 3.8.6): how long it stays closed.
	if f&FlagSYN == 0 {
		switch {
		case seg.Window == 0 && m.flags&(mZW<<s) == 0:
			m.flags |= mZW << s
			sh.rareOf(&m.latencyState).zwSince[s] = seg.Time
		case seg.Window != 0 && m.flags&(mZW<<s) != 0:
			m.flags &^= mZW << s
			x := sh.rareOf(&m.latencyState)
			x.ZeroWindowNS[s] += seg.Time - x.zwSince[s]
		}
	}
	if a.Kind&(KindRetransmission|KindGap) != 0 && f&FlagSYN == 0 {
		sh.lost(c, m, seg, s, a, now)
	}
	if seg.PayloadLen == 0 || f&FlagSYN != 0 || a.Kind&KindRetransmission != 0 {
		return
	}
	end := seg.Seq.Add(seqnum.Size(seg.PayloadLen))
	if a.Kind&KindNewData != 0 {
		m.nextAt[s] = now
		m.turn(s, now)
	}
	// Window full: the data reaches the right edge of the window the
	// receiver advertised (known once both SYNs showed the scaling).
	if f&FlagFIN == 0 && rcv.HaveAck() && snd.SawSYN() && rcv.SawSYN() &&
		end == rcv.Ack.Add(seqnum.Size(c.scaledWindow(r))) {
		sh.rareOf(&m.latencyState).Loss[s].WindowFull++
	}
}

// lost handles a retransmission or a gap in segment seg from side s.
func (sh *shard) lost(c *Conn, m *metricsState, seg *Segment, s Side, a *Analysis, now uint64) {
	x := sh.rareOf(&m.latencyState)
	rcv := &c.Peers[s.Other()]
	if a.Kind&KindRetransmission != 0 {
		// Karn: what was sent before this retransmission, up to its
		// end, is ambiguous from now on (a FIN sent again too).
		end := seg.Seq.Add(seg.SeqLen())
		if m.flags&(mRtx<<s) == 0 || end.GreaterThan(x.rtxHigh[s]) {
			x.rtxHigh[s] = end
		}
		m.flags |= mRtx << s
		x.rtxAt[s] = now
	}
	if a.Kind&KindGap != 0 {
		// [SND.MAX, SEG.SEQ) was not seen, less what the receiver had
		// acknowledged already (counted missed then).
		lo := a.prevNext
		if rcv.HaveAck() && rcv.Ack.GreaterThan(lo) {
			lo = rcv.Ack
		}
		if seg.Seq.GreaterThan(lo) {
			x.loss[s].gap(lo, seg.Seq)
		}
	}
	if seg.PayloadLen == 0 || a.Kind&KindRetransmission == 0 {
		return
	}
	end := seg.Seq.Add(seqnum.Size(seg.PayloadLen))
	x.loss[s].retransmitted(&x.Loss[s], seg.Seq, end, seg.PayloadLen, now, m.nextAt[s], m.oooThreshold(),
		rcv.HaveAck() && end.LessThanEq(rcv.Ack))
	if seg.Opts&OptTimestamp != 0 && rcv.UsesTimestamps() {
		x.rtxTS[s].tsval, x.rtxTS[s].end, x.rtxTS[s].at = seg.TSVal, end, now
		m.flags |= mRtxTS << s
	}
}

// acked handles the acknowledgement in seg (from side s) of the other
// side's data, which advanced it: the RTT sample of the segment it ends
// at, the handshake, and data acknowledged but never seen.
func (sh *shard) acked(idx int, c *Conn, m *metricsState, seg *Segment, s Side, a *Analysis, now uint64, tag uint8) {
	r := s.Other()
	rcv := &c.Peers[r]
	if v, ok := sh.rtt.take(rttKey(idx, r, seg.Ack), tag); ok {
		sent := v & usMask
		switch {
		case v&rttSYNACK != 0:
			// The ACK of the SYN-ACK completes the handshake. Only
			// first transmissions count (Karn): a SYN or SYN-ACK sent
			// again makes the times ambiguous.
			if s == Orig && c.Flags&ConnPartial == 0 && c.Peers[Orig].Retrans == 0 && rcv.Retrans == 0 &&
				m.flags&mHandshake == 0 {
				m.HandshakeResp = since(usec(c.Start), sent)
				m.HandshakeOrig = since(sent, now)
				m.flags |= mHandshake
				m.RTT[Orig].add(m.HandshakeResp)
				m.RTT[Resp].add(m.HandshakeOrig)
			}
		case m.flags&(mRtx<<r) != 0 && sh.ambiguous(m, r, seg.Ack, sent):
			// Sent before a retransmission that may have repeated it
			// (Karn): no sample.
		default:
			m.RTT[r].add(since(sent, now))
			if a.hadAck {
				sh.rtt.clearCovered(idx, r, seg.Ack, uint32(v>>rttLenShift)&rttLenMax, a.prevAck, tag)
			}
		}
	}
	if !rcv.HaveSeq() {
		return
	}
	if m.rare == 0 && !seg.Ack.GreaterThan(rcv.Next) {
		return // no hole without a rare block, nothing beyond what was seen
	}
	x := sh.rareOf(&m.latencyState)
	if x.loss[r].acked(&x.Loss[r], a.prevAck, seg.Ack, rcv.Next, a.hadAck) {
		c.Flags |= ConnCaptureLoss
	}
}

// ambiguous reports whether the segment of side r ending at end, sent at
// table time sent, may have been repeated by a retransmission (Karn).
func (sh *shard) ambiguous(m *metricsState, r Side, end seqnum.Value, sent uint64) bool {
	x := sh.rares.at(int(m.rare) - 1)
	return end.LessThanEq(x.rtxHigh[r]) && (x.rtxAt[r]-sent)&usMask < 1<<39
}

// measureLatency is measure reduced to the handshake's round trip and the
// application's response time (Config.SkipMetrics), by the same rules:
// the SYN-ACK's first transmission waits (its time in the block, with
// mSYNACK, where measure keeps it in the RTT table) for the ACK that
// completes the handshake; the originator's new data is a request, the
// responder's first new data after it the answer. m is the connection's
// block, or nil.
func (sh *shard) measureLatency(idx int, c *Conn, m *latencyState, a *Analysis) {
	seg, s := a.Seg, a.From
	f := seg.Flags
	if f&FlagRST != 0 {
		return
	}
	now := usec(seg.Time)
	if f&FlagSYN != 0 {
		if f&FlagACK != 0 && s == Resp && a.Kind&KindNewData != 0 {
			// The SYN-ACK's time waits in the block, not in the RTT
			// table (which latency-only measuring then never touches);
			// the block is not On until the handshake completes.
			if m == nil {
				m = sh.attachLatency(idx)
			}
			m.reqAt = now
			m.flags |= mSYNACK
		}
		return
	}
	if s == Orig && f&FlagACK != 0 && a.Kind&KindAckAdvanced != 0 && m != nil && m.flags&mSYNACK != 0 {
		// As the table's take: only the first ACK past the SYN-ACK, and
		// only if it ends exactly at it.
		m.flags &^= mSYNACK
		if seg.Ack == c.Peers[Resp].ISN.Add(1) && c.Flags&ConnPartial == 0 && c.Peers[Orig].Retrans == 0 && c.Peers[Resp].Retrans == 0 {
			m.HandshakeResp = since(usec(c.Start), m.reqAt)
			m.HandshakeOrig = since(m.reqAt, now)
			m = sh.latencyOn(idx, m)
			m.flags |= mHandshake
		}
	}
	if seg.PayloadLen == 0 || a.Kind&KindNewData == 0 || a.Kind&KindRetransmission != 0 {
		return
	}
	m = sh.latencyOn(idx, m)
	if s == Orig {
		m.flags &^= mSYNACK // reqAt becomes the request's
	}
	m.turn(s, now)
}

// turn counts new data from side s at table time now in the application's
// response time: the originator's data is a request, the responder's first
// data after it the answer.
func (m *latencyState) turn(s Side, now uint64) {
	if s == Orig {
		m.reqAt = now
		m.flags |= mPending
	} else if m.flags&mPending != 0 {
		m.App.add(since(m.reqAt, now))
		m.flags &^= mPending
	}
}

// measureCaptureLoss is measure reduced to capture loss (Config.SkipMetrics):
// holes in what the capture saw, and ACKs for data it never saw. It
// returns the connection's block, or nil.
func (sh *shard) measureCaptureLoss(idx int, c *Conn, a *Analysis) *latencyState {
	seg, s := a.Seg, a.From
	f := seg.Flags
	r := s.Other()
	rcv := &c.Peers[r]
	m := sh.latency(idx)
	if a.Kind&KindGap != 0 && f&(FlagSYN|FlagRST) == 0 {
		lo := a.prevNext
		if rcv.HaveAck() && rcv.Ack.GreaterThan(lo) {
			lo = rcv.Ack
		}
		if seg.Seq.GreaterThan(lo) {
			m = sh.latencyOn(idx, m)
			sh.rareOf(m).loss[s].gap(lo, seg.Seq)
		}
	}
	if m != nil && m.rare != 0 && a.Kind&KindRetransmission != 0 && seg.PayloadLen > 0 {
		// What fills the hole was seen after all.
		sh.rares.at(int(m.rare) - 1).loss[s].fill(seg.Seq, seg.Seq.Add(seqnum.Size(seg.PayloadLen)))
	}
	if f&FlagACK == 0 || a.Kind&KindAckAdvanced == 0 || !rcv.HaveSeq() {
		return m
	}
	if (m == nil || m.rare == 0) && !seg.Ack.GreaterThan(rcv.Next) {
		return m
	}
	m = sh.latencyOn(idx, m)
	x := sh.rareOf(m)
	if x.loss[r].acked(&x.Loss[r], a.prevAck, seg.Ack, rcv.Next, a.hadAck) {
		c.Flags |= ConnCaptureLoss
	}
	return m
}
