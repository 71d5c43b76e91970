package tracker

import "github.com/wirestate/wirestate/tracker/seqnum"

// History is per-connection bookkeeping for Zeek's conn.log "history" and
// "conn_state" columns. It is kept beside wirestate's own RFC 793 states so
// that the Zeek view can be logged without a second pass: Zeek's two
// endpoint states (TCP_INACTIVE ... TCP_RESET) with their previous states
// and did_close bits, the history letters, the log-scaled counters behind
// T, W, C and G, the timer Zeek's connection lifetime rules need, and which
// side Zeek takes for the originator.
//
// Endpoint data is indexed by wirestate side (Orig, Resp), because Zeek's
// endpoint objects travel with their addresses when Zeek flips a
// connection; the history letters' case follows Zeek's roles at the time
// each letter was added. The last SYN and FIN sequence numbers Zeek's
// repeat rules compare with are the Peer's ISN and FinSeq, kept by the
// state machine; only the RST's is kept here, as its low eight bits.
//
// The layout is packed to keep Conn within its memory budget (26 bytes).
type History struct {
	// lt holds the history letters as 5-bit codes (see histCode), packed
	// little-endian: up to histMaxLetters of them.
	lt [histLetterBytes]byte
	// n holds the letter count (hCountMask) and the hOverflow, hFlip and
	// hBegun bits.
	n uint8
	// ep holds, per wirestate side, Zeek's endpoint state (bits 0-2), its
	// previous state (bits 3-5), did_close (epDidClose) and whether the
	// side's data has a hole not yet accounted for (epHole).
	ep [2]uint8
	// f holds fHandshakeDone, fLongIdle, the timer kind (fTimerMask) and,
	// to spare a search of the letters on every packet, whether each role
	// has its D and A (fSeenDA).
	f uint8
	// tmr is the time the timer (f's kind) was set, as an offset from
	// Conn.Start: microseconds, or milliseconds when the top bit is set.
	tmr [4]byte
	// rxmt counts retransmissions (T), per wirestate side, saturating.
	rxmt [2]uint8
	// wc counts zero windows (W, low nibble) and bad checksums (C, high
	// nibble), per wirestate side, saturating.
	wc [2]uint8
	// gap counts content gaps (G): side Orig in the low nibble, Resp high.
	gap uint8
	// rst holds the low eight bits of the last RST's sequence number, per
	// wirestate side.
	rst [2]uint8
}

const (
	histLetterBytes = 11
	// histMaxLetters is the longest history kept; later letters are
	// dropped and Truncated reports it.
	histMaxLetters = histLetterBytes * 8 / 5

	hCountMask = 0x1f
	hOverflow  = 0x20
	hFlipShift = 6
	hFlip      = 1 << hFlipShift
	hBegun     = 0x80

	epDidClose = 0x40
	epHole     = 0x80

	fHandshakeDone = 0x01
	fLongIdle      = 0x02
	fTimerShift    = 2
	fTimerMask     = 3 << fTimerShift
	fSeenA         = 0x10 // the originator's A; <<1 its D, <<2 and <<3 the responder's
	fSeenDA        = 0xf0
)

// Kinds of Zeek timer kept in History.tmr.
const (
	zTimerNone    = 0
	zTimerAttempt = 1 // AttemptTimer, armed by the originator's SYN
	zTimerPartial = 2 // ExpireTimer chain started by a one-sided close
	zTimerClose   = 3 // ConnDeleteTimer after a complete close
)

// histLetters are the letters with an originator and a responder form;
// codes 1-12 are upper case (originator), 13-24 lower case (responder).
const histLetters = "SHADFRCTGWIQ"

const (
	codeFlip  = 25 // ^
	codeLimit = 26 // X
)

// histCode returns the code of letter l (one of histLetters) added by the
// endpoint in role r (Orig: upper case, Resp: lower case).
func histCode(l byte, r Side) uint8 {
	for i := 0; i < len(histLetters); i++ {
		if histLetters[i] == l {
			return uint8(i+1) + 12*uint8(r)
		}
	}
	panic("tracker: unknown history letter")
}

// histChar returns the character of code c.
func histChar(c uint8) byte {
	switch {
	case c >= 1 && c <= 12:
		return histLetters[c-1]
	case c >= 13 && c <= 24:
		return histLetters[c-13] + 'a' - 'A'
	case c == codeFlip:
		return '^'
	case c == codeLimit:
		return 'X'
	}
	return '?'
}

// Len returns the number of history letters kept.
func (h *History) Len() int { return int(h.n & hCountMask) }

// Truncated reports whether letters were dropped because the history grew
// longer than the histMaxLetters kept.
func (h *History) Truncated() bool { return h.n&hOverflow != 0 }

// String returns the history as Zeek logs it, for example "ShADadFf".
func (h *History) String() string {
	if h.Len() == 0 {
		return ""
	}
	return string(h.AppendTo(nil))
}

// AppendTo appends the history, as String returns it, to b.
func (h *History) AppendTo(b []byte) []byte {
	for i := range h.Len() {
		b = append(b, histChar(h.code(i)))
	}
	return b
}

// code returns the i-th letter code.
func (h *History) code(i int) uint8 {
	bit := i * 5
	v := uint16(h.lt[bit/8])
	if bit/8+1 < len(h.lt) {
		v |= uint16(h.lt[bit/8+1]) << 8
	}
	return uint8(v>>(bit%8)) & 31
}

// push appends letter code c.
func (h *History) push(c uint8) {
	i := h.Len()
	if i >= histMaxLetters {
		h.n |= hOverflow
		return
	}
	bit := i * 5
	v := uint16(c) << (bit % 8)
	h.lt[bit/8] |= uint8(v)
	if bit/8+1 < len(h.lt) {
		h.lt[bit/8+1] |= uint8(v >> 8)
	}
	h.n++
}

// reset empties the letters.
func (h *History) resetLetters() {
	h.lt = [histLetterBytes]byte{}
	h.n &^= hCountMask | hOverflow
}

// has reports whether code c is among the letters: Zeek's once-only bits
// (Session::CheckHistory) are per role, which is the letter's case.
func (h *History) has(c uint8) bool {
	for i := h.Len() - 1; i >= 0; i-- {
		if h.code(i) == c {
			return true
		}
	}
	return false
}

// zorig returns the wirestate side Zeek takes for the originator.
func (h *History) zorig() Side { return Side(h.n>>hFlipShift) & 1 }

// role returns Zeek's role (Orig or Resp) of wirestate side s.
func (h *History) role(s Side) Side { return s ^ h.zorig() }

// flipRoles is Connection::FlipRoles: the originator becomes the responder
// and a ^ is added.
func (h *History) flipRoles() {
	h.n ^= hFlip
	h.push(codeFlip)
}

// state returns Zeek's endpoint state of wirestate side s.
func (h *History) state(s Side) ZeekEndpointState { return ZeekEndpointState(h.ep[s] & 7) }

// prev returns the endpoint state side s was in before its current one.
func (h *History) prev(s Side) ZeekEndpointState { return ZeekEndpointState(h.ep[s] >> 3 & 7) }

// didClose reports Zeek's did_close for side s.
func (h *History) didClose(s Side) bool { return h.ep[s]&epDidClose != 0 }

// setState is TCP_Endpoint::SetState for side s: it keeps the previous
// state and notes when the handshake ends (Zeek then switches to the TCP
// inactivity timeout).
func (h *History) setState(s Side, st ZeekEndpointState) {
	cur := h.state(s)
	if st == cur {
		return
	}
	if !st.handshake() && cur.handshake() && h.state(s.Other()).handshake() {
		h.f |= fHandshakeDone
	}
	h.ep[s] = h.ep[s]&(epDidClose|epHole) | uint8(cur)<<3 | uint8(st)
}

// clean is TCP_Reassembler.cc is_clean: established, or closed from
// established.
func (h *History) clean(s Side) bool {
	st := h.state(s)
	return st == ZeekEstablished || (st == ZeekClosed && h.prev(s) == ZeekEstablished)
}

// timerKind returns the kind of timer kept.
func (h *History) timerKind() uint8 { return (h.f & fTimerMask) >> fTimerShift }

// timerAt returns the time the kept timer was set.
func (h *History) timerAt(c *Conn) int64 {
	v := uint32(h.tmr[0]) | uint32(h.tmr[1])<<8 | uint32(h.tmr[2])<<16 | uint32(h.tmr[3])<<24
	if v&(1<<31) != 0 {
		return c.Start + int64(v&^(1<<31))*1e6
	}
	return c.Start + int64(v)*1e3
}

// setTimer keeps a timer of kind k set at time at. A complete close's
// delete timer is never replaced: Zeek cancels the others then.
func (h *History) setTimer(c *Conn, k uint8, at int64) {
	if h.timerKind() == zTimerClose && k != zTimerClose {
		return
	}
	off := (at - c.Start) / 1e3
	var v uint32
	switch {
	case off < 0:
		v = 0
	case off < 1<<31:
		v = uint32(off)
	default:
		ms := off / 1e3
		if ms >= 1<<31 {
			ms = 1<<31 - 1
		}
		v = uint32(ms) | 1<<31
	}
	h.tmr = [4]byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)}
	h.f = h.f&^fTimerMask | k<<fTimerShift
}

// gaps returns the content gaps counted in side s's data (saturating at
// 15).
func (h *History) gaps(s Side) int { return int(h.gap >> (4 * uint(s)) & 15) }

// scaled is Session::ScaledHistoryEntry with base 10 on a saturating
// counter: it counts one more event and reports whether that makes a
// letter (the 1st, 10th, 100th, ... up to what the counter holds).
func scaled(cnt *uint8, max uint8) bool {
	if *cnt >= max {
		return false
	}
	*cnt++
	return *cnt == 1 || *cnt == 10 || *cnt == 100
}

// scaledNibble is scaled for a 4-bit counter in the low (hi false) or high
// nibble of *b.
func scaledNibble(b *uint8, hi bool) bool {
	sh := uint(0)
	if hi {
		sh = 4
	}
	v := *b >> sh & 15
	ok := scaled(&v, 15)
	*b = *b&^(15<<sh) | v<<sh
	return ok
}

// addScaled adds letter l for side s (in its current role).
func (h *History) addScaled(l byte, s Side) { h.push(histCode(l, h.role(s))) }

// once is Session::CheckHistory: it adds letter l for side s unless its
// role already has it. An A or D after a lone SYN-ACK (history exactly
// "H") first flips the connection and rewrites the history as "^h"
// (TCP_Endpoint.cc L223-243, zeek#2191).
func (h *History) once(l byte, s Side) {
	if l == 'A' || l == 'D' {
		if h.Len() == 1 && h.code(0) == histCode('H', Orig) {
			h.n ^= hFlip
			h.resetLetters()
			h.push(codeFlip)
			h.push(histCode('H', Resp))
			h.f &^= fSeenDA
		}
		bit := uint8(fSeenA) << (2 * uint8(h.role(s)))
		if l == 'D' {
			bit <<= 1
		}
		if h.f&bit == 0 {
			h.f |= bit
			h.push(histCode(l, h.role(s)))
		}
		return
	}
	c := histCode(l, h.role(s))
	if !h.has(c) {
		h.push(c)
	}
}

// seen reports whether side s's role has letter l (or, for S and H, either
// of them: they share one once-only bit).
func (h *History) seen(l byte, s Side) bool {
	r := h.role(s)
	if l == 'S' || l == 'H' {
		return h.has(histCode('S', r)) || h.has(histCode('H', r))
	}
	return h.has(histCode(l, r))
}

// begin starts the bookkeeping of connection c with its first segment seg:
// Zeek's choice of originator (TCP.cc WantConnection with the likely
// server ports cfg selects; nil cfg: full Zeek).
func (h *History) begin(c *Conn, seg *Segment, cfg *ZeekConfig) {
	*h = History{n: hBegun}
	s := c.SideOf(seg.Src)
	if zeekFlipAtCreation(seg, cfg.likelyPorts()) {
		s ^= 1
		h.push(codeFlip)
	}
	if s == Resp {
		h.n |= hFlip
	}
}

// zeekFlipAtCreation is TCPAnalyzer::WantConnection's flip_roles: a
// connection whose first packet is not a pure SYN is flipped when its
// source port is a likely server port and its destination port is not, or
// when both are, the packet is not a SYN-ACK and the source port is the
// lower.
func zeekFlipAtCreation(seg *Segment, ports *PortSet) bool {
	f := seg.Flags
	if f&FlagSYN != 0 && f&FlagACK == 0 {
		return false
	}
	if !ports.Has(seg.Src.Port) {
		return false
	}
	if ports.Has(seg.Dst.Port) {
		return f&FlagSYN == 0 && seg.Src.Port < seg.Dst.Port
	}
	return true
}

// Zeek's TCP timer constants (init-bare L1755-1791).
const (
	zeekAttemptDelay  = int64(5e9)    // tcp_attempt_delay
	zeekCloseDelay    = int64(5e9)    // tcp_close_delay
	zeekSYNTimeout    = int64(5e9)    // tcp_SYN_timeout: first ExpireTimer
	zeekSessionTimer  = int64(6e9)    // tcp_session_timer: ExpireTimer period
	zeekLinger        = int64(5e9)    // tcp_connection_linger
	zeekIdleHandshake = int64(60e9)   // udp_inactivity_timeout, until the handshake ends
	zeekIdleTCP       = int64(300e9)  // tcp_inactivity_timeout
	zeekIdleLongPorts = int64(3600e9) // Conn::port_inactivity_timeouts
	zeekTooLargeDelta = int32(1 << 20)
)

// observe records what segment seg from side s does to Zeek's view of c,
// in the order TCPSessionAdapter::Process does it: history letters, zero
// window, retransmission, the endpoint state machine, content gaps, and
// the close bookkeeping. It runs before the tracker's own state machine,
// so c.Peers still describe the connection before seg.
func (h *History) observe(c *Conn, seg *Segment, s Side) {
	if h.n&hBegun == 0 {
		h.begin(c, seg, nil)
	}
	if h.timerKind() == zTimerAttempt && h.timerAt(c)+zeekAttemptDelay <= seg.Time {
		// The attempt timer has fired without ending the connection.
		h.f &^= fTimerMask
	}
	if seg.BadChecksum {
		// TCPAnalyzer::ValidateChecksum: the sender's checksum error is
		// counted and the packet dropped.
		if scaledNibble(&h.wc[s], true) {
			h.addScaled('C', s)
		}
		return
	}
	f := seg.Flags
	syn, fin, rst, ack := f&FlagSYN != 0, f&FlagFIN != 0, f&FlagRST != 0, f&FlagACK != 0
	o := s.Other()
	isOrig := h.role(s) == Orig // stale after a flip below, as in Zeek
	sndState, rcvState := h.state(s), h.state(o)
	snd := &c.Peers[s]

	h.updateHistory(c, seg, s)

	// Holes in the sender's data, for the content gaps below: a segment
	// beyond everything sent so far leaves one; data below it is taken
	// to fill it.
	if snd.HaveSeq() && !syn && !rst && sndState != ZeekInactive {
		switch {
		case (seg.PayloadLen > 0 || fin) && seg.Seq.GreaterThan(snd.Next):
			h.ep[s] |= epHole
		case seg.PayloadLen > 0 && seg.Seq.LessThan(snd.Next):
			h.ep[s] &^= epHole
		}
	}

	// update_window: a zero window, unless with a RST, after the peer's
	// FIN or from a reset endpoint.
	if seg.Window == 0 && !rst && rcvState != ZeekClosed && sndState != ZeekReset {
		if scaledNibble(&h.wc[s], false) {
			h.addScaled('W', s)
		}
	}

	// update_last_seq: data that does not advance the highest sequence
	// number is a retransmission.
	segLen := seqnum.Size(seg.PayloadLen)
	if rst {
		segLen = 0
	}
	if syn {
		segLen++
	}
	if fin {
		segLen++
	}
	end := seg.Seq.Add(segLen)
	last := snd.Next
	switch {
	case sndState == ZeekInactive || !snd.HaveSeq():
		last = seg.Seq
		if syn {
			last = end
		}
	case syn && (sndState == ZeekEstablished || sndState == ZeekPartial ||
		((sndState == ZeekSynSent || sndState == ZeekSynAckSent) && seg.Seq != snd.ISN)):
		last = end // init_endpoint starts the sequence space again
	}
	delta := int32(uint32(end) - uint32(last))
	switch {
	case (syn || rst) && (delta > zeekTooLargeDelta || delta < -zeekTooLargeDelta):
	case fin && snd.HaveSeq() && last == snd.ISN.Add(1):
	case sndState == ZeekReset:
	case delta > 0:
	case seg.PayloadLen > 0:
		if scaled(&h.rxmt[s], 255) {
			h.addScaled('T', s)
		}
	}

	doClose := h.machine(c, seg, s, isOrig)

	// AckReceived: an acknowledgement beyond the data seen from the peer
	// (and beyond what earlier acknowledgements already covered) is a
	// content gap, counted when both endpoints are cleanly established.
	if ack && rcvState != ZeekInactive && h.clean(s) && h.clean(o) {
		if h.ackGap(c, seg, s) {
			h.ep[o] &^= epHole
			if scaledNibble(&h.gap, o == Resp) {
				h.addScaled('G', o)
			}
		}
	}

	if doClose {
		h.connectionClosed(c, seg, s)
	}
}

// ackGap reports whether the acknowledgement of seg (from side s) covers
// data of the other side that was never seen. Zeek's reassembler reports
// a gap when an acknowledgement passes the end of the data delivered in
// order (TCP_Reassembler::AckReceived, TrimToSeq, Undelivered). That end
// is taken to be the highest sequence number sent, or, while the data has
// a hole (epHole), the first sequence number plus the data bytes seen.
// The FIN's sequence number is not data (AckReceived stops at it).
func (h *History) ackGap(c *Conn, seg *Segment, s Side) bool {
	p, snd := &c.Peers[s.Other()], &c.Peers[s]
	if !p.HaveSeq() {
		return false
	}
	clamp := func(v seqnum.Value) seqnum.Value {
		if p.SawFIN() && v.GreaterThan(p.FinSeq) {
			return p.FinSeq
		}
		return v
	}
	mark := clamp(p.Next)
	if h.ep[s.Other()]&epHole != 0 {
		mark = clamp(p.ISN.Add(1).Add(seqnum.Size(p.Bytes)))
	}
	if snd.HaveAck() {
		if prev := clamp(snd.Ack); prev.GreaterThan(mark) {
			mark = prev
		}
	}
	return clamp(seg.Ack).GreaterThan(mark)
}

// updateHistory is TSA.cc update_history.
func (h *History) updateHistory(c *Conn, seg *Segment, s Side) {
	f := seg.Flags
	syn, fin, rst, ack := f&FlagSYN != 0, f&FlagFIN != 0, f&FlagRST != 0, f&FlagACK != 0
	bits := 0
	for _, b := range [...]bool{syn, fin, rst} {
		if b {
			bits++
		}
	}
	p := &c.Peers[s]
	switch {
	case bits > 1:
		if fin && rst {
			h.once('I', s)
		} else {
			h.once('Q', s)
		}
	case syn:
		l := byte('S')
		if ack {
			l = 'H'
		}
		switch {
		case !h.seen(l, s):
			h.push(histCode(l, h.role(s)))
		case (h.state(s) == ZeekClosed || h.state(s) == ZeekReset) && p.SawSYN() && seg.Seq != p.ISN:
			// Only there does Zeek keep the sequence space, so that
			// a new SYN has a new relative sequence number.
			h.push(histCode(l, h.role(s)))
		}
	case fin:
		finSeq := seg.Seq.Add(seqnum.Size(seg.PayloadLen))
		if !h.seen('F', s) || finSeq != p.FinSeq {
			h.push(histCode('F', h.role(s)))
		}
	case rst:
		if !h.seen('R', s) || uint8(seg.Seq) != h.rst[s] {
			h.push(histCode('R', h.role(s)))
		}
		h.rst[s] = uint8(seg.Seq)
	case seg.PayloadLen > 0:
		h.once('D', s)
	case ack:
		h.once('A', s)
	}
}

// machine is TSA.cc UpdateStateMachine for segment seg from side s;
// isOrig is whether s was the originator when the segment arrived. It
// returns whether the segment closes the sender's side (do_close).
func (h *History) machine(c *Conn, seg *Segment, s Side, isOrig bool) bool {
	f := seg.Flags
	syn, fin, rst, ack := f&FlagSYN != 0, f&FlagFIN != 0, f&FlagRST != 0, f&FlagACK != 0
	o := s.Other()
	doClose := false
	switch h.state(s) {
	case ZeekInactive:
		// UpdateInactiveState, TSA.cc L722-846.
		if syn {
			if isOrig {
				if ack {
					h.setState(s, ZeekSynAckSent)
				} else {
					h.setState(s, ZeekSynSent)
				}
				h.setTimer(c, zTimerAttempt, seg.Time)
			} else {
				if !ack && h.state(o) == ZeekSynAckSent {
					// SYN/SYN-ACK reversal: flip and establish.
					h.flipRoles()
					h.setState(o, ZeekEstablished)
				}
				if h.state(o) == ZeekSynSent {
					h.setState(o, ZeekEstablished)
				}
				h.setState(s, ZeekEstablished)
				if h.state(o) != ZeekPartial && zeekLongInactivityPort(c.Endpoint(h.zorig().Other()).Port) {
					// connection_established: inactivity.zeek's
					// port_inactivity_timeouts.
					h.f |= fLongIdle
				}
			}
		}
		if fin {
			h.setState(s, ZeekClosed)
			doClose = true
		}
		if rst {
			h.setState(s, ZeekReset)
			doClose = true
		}
		if h.state(s) == ZeekInactive {
			switch {
			case !isOrig && seg.PayloadLen == 0 && h.state(h.zorig()) == ZeekSynSent:
				// An ACK of the SYN before the SYN-ACK: not partial.
			case ack && h.state(o) == ZeekEstablished:
				h.setState(s, ZeekEstablished)
			default:
				h.setState(s, ZeekPartial)
			}
		}
	case ZeekSynSent, ZeekSynAckSent:
		// UpdateSYN_SentState, TSA.cc L848-880.
		if fin {
			h.setState(s, ZeekClosed)
			doClose = true
		}
		if rst {
			h.setState(s, ZeekReset)
			doClose = true
		}
	case ZeekEstablished, ZeekPartial:
		// UpdateEstablishedState, TSA.cc L882-914.
		if syn && h.state(s) == ZeekPartial && h.state(o) == ZeekInactive && !ack {
			h.setState(s, ZeekSynSent)
		}
		if fin && !rst {
			h.setState(s, ZeekClosed)
			if h.state(o) == ZeekReset && h.prev(o) == ZeekClosed {
				// The peer's FIN-then-RST was a normal close.
				h.setState(o, ZeekClosed)
			}
			doClose = true
		}
		if rst {
			h.setState(s, ZeekReset)
			doClose = true
		}
	case ZeekClosed:
		// UpdateClosedState, TSA.cc L916-943.
		if rst && h.state(o) != ZeekClosed {
			h.setState(s, ZeekReset)
			doClose = !h.didClose(s)
		}
	}
	return doClose
}

// connectionClosed is TSA.cc ConnectionClosed for side s closing: after a
// complete close (a RST, both FINs, or a FIN with a silent peer) Zeek
// deletes the connection tcp_close_delay later; after a one-sided close it
// starts another ExpireTimer chain.
func (h *History) connectionClosed(c *Conn, seg *Segment, s Side) {
	if h.didClose(s) {
		return
	}
	h.ep[s] |= epDidClose
	o := s.Other()
	switch {
	case h.state(s) == ZeekReset || h.didClose(o) || h.state(o) == ZeekInactive:
		h.setTimer(c, zTimerClose, seg.Time)
	case h.prev(s) != ZeekInactive:
		h.setTimer(c, zTimerPartial, seg.Time)
	}
}

// isReuse is TSA.cc IsReuse: whether SYN segment seg starts a new
// connection on c's 4-tuple rather than belonging to c.
func (h *History) isReuse(c *Conn, seg *Segment) bool {
	f := seg.Flags
	if f&FlagSYN == 0 {
		return false
	}
	zo := h.zorig()
	connOrig := zo
	if f&FlagACK != 0 {
		if h.state(zo) != ZeekInactive {
			return false // not a half connection
		}
		connOrig = zo.Other()
	}
	if !h.didClose(Orig) && !h.didClose(Resp) {
		if seg.Seq == h.startSeq(c, connOrig) {
			return false
		}
		if f&FlagACK == 0 && h.state(connOrig) == ZeekSynAckSent && h.state(zo.Other()) == ZeekInactive &&
			seg.Seq == h.startSeq(c, zo.Other()) {
			return false // a SYN/SYN-ACK reversal
		}
	}
	return true
}

// startSeq approximates Zeek's StartSeq of side s: the sequence number of
// its SYN (or one less than its first), or, for an endpoint that has sent
// nothing, one less than the peer's acknowledgement.
func (h *History) startSeq(c *Conn, s Side) seqnum.Value {
	p, o := &c.Peers[s], &c.Peers[s.Other()]
	if h.state(s) != ZeekInactive && p.HaveSeq() {
		return p.ISN
	}
	if o.HaveAck() {
		return o.Ack.Add(^seqnum.Size(0))
	}
	return 0
}

// zeekDue reports whether Zeek would have removed c by time now (a packet
// of its 4-tuple arriving at now finds it gone) and why. Timers due at or
// before now fire first, as in Zeek (RunState.cc L246-250). c.Last stands
// in for Zeek's LastTime.
func (h *History) zeekDue(c *Conn, now int64) (EndReason, bool) {
	kind := h.timerKind()
	zo := h.zorig()
	os, rs := h.state(zo), h.state(zo.Other())
	switch kind {
	case zTimerClose:
		if h.timerAt(c)+zeekCloseDelay <= now {
			return EndClosed, true
		}
	case zTimerAttempt:
		if h.timerAt(c)+zeekAttemptDelay <= now && (os == ZeekSynSent || os == ZeekSynAckSent) && rs == ZeekInactive {
			return EndIdle, true
		}
	}
	idle := zeekIdleHandshake
	switch {
	case h.f&fLongIdle != 0:
		idle = zeekIdleLongPorts
	case h.f&fHandshakeDone != 0:
		idle = zeekIdleTCP
	}
	if c.Last+idle <= now {
		return EndIdle, true
	}
	if kind == zTimerClose {
		return 0, false // the analyzer's timers were cancelled
	}
	// ExpireTimer (TSA.cc L1099-1145), due at Start+5s and every 6 s after
	// (and, after a one-sided close, every 6 s from 6 s after it): it
	// removes a connection idle for longer than tcp_connection_linger
	// that is closed on one side and reset, half-closed or both closed,
	// or that never got going.
	oc, rc := h.didClose(zo), h.didClose(zo.Other())
	cond := (oc || rc) && ((oc && rc) || os == ZeekReset || rs == ZeekReset || os == ZeekInactive || rs == ZeekInactive)
	if !cond && !(os == ZeekInactive && rs == ZeekInactive) {
		return 0, false
	}
	reason := EndIdle
	if oc || rc {
		reason = EndClosed
	}
	after := c.Last + zeekLinger
	if nextTick(c.Start+zeekSYNTimeout, zeekSessionTimer, after) <= now {
		return reason, true
	}
	if kind == zTimerPartial && nextTick(h.timerAt(c)+zeekSessionTimer, zeekSessionTimer, after) <= now {
		return reason, true
	}
	return 0, false
}

// nextTick returns the first of first, first+period, ... strictly after t.
func nextTick(first, period, t int64) int64 {
	if first > t {
		return first
	}
	return first + ((t-first)/period+1)*period
}
