package tracker

import (
	"github.com/wirestate/wirestate/tracker/seqnum"
)

// Side names one endpoint of a connection: the originator (the side that sent
// the first SYN, or the guessed client of a connection picked up mid-stream)
// or the responder.
type Side uint8

// The two sides of a connection.
const (
	Orig Side = 0
	Resp Side = 1
)

// Other returns the opposite side: the receiver of what side s sends.
func (s Side) Other() Side { return s ^ 1 }

// String returns "orig" or "resp", as the JSON output and manifests name sides.
func (s Side) String() string {
	if s == Orig {
		return "orig"
	}
	return "resp"
}

// UID identifies one connection (one incarnation of a 4-tuple). It is a
// hash of what the connection's first packet shows (see MakeUID), so the
// same capture always gives the same uids, whatever the shard count, while
// connections of different captures (sensors, restarts) get different ones.
type UID uint64

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// uidKey keys the uid hash: a constant, so uids are reproducible.
const uidKey = 0x7769726573746174 // "wirestat"

// mix64 is splitmix64's finalizer, a bijection of 64-bit words.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// MakeUID returns the uid of the connection between originator orig and
// responder resp whose first packet is seg: a keyed 64-bit hash of both
// endpoints in that order, the packet's time in nanoseconds, its sequence
// and acknowledgement numbers (which carry the originator's ISN, or the
// first sequence number of a connection picked up mid-stream) and its
// frame number (which tells apart identical-looking packets). It is never
// zero.
func MakeUID(orig, resp Endpoint, seg *Segment) UID {
	h := uint64(uidKey)
	add := func(v uint64) { h = mix64(h ^ v + 0x9e3779b97f4a7c15) }
	for _, e := range [2]*Endpoint{&orig, &resp} {
		var hi, lo uint64
		for i := 0; i < 8; i++ {
			hi = hi<<8 | uint64(e.Addr[i])
			lo = lo<<8 | uint64(e.Addr[8+i])
		}
		add(hi)
		add(lo)
	}
	add(uint64(orig.Port)<<16 | uint64(resp.Port))
	add(uint64(seg.Time))
	add(uint64(seg.Seq)<<32 | uint64(seg.Ack))
	add(seg.Frame)
	if h == 0 {
		h = 1 // zero means no uid
	}
	return UID(h)
}

// String formats the uid as Zeek does: a "C" followed by base62 digits.
func (u UID) String() string {
	if u == 0 {
		return ""
	}
	var b [12]byte
	return string(u.AppendTo(b[:0]))
}

// AppendTo appends the text form of u (nothing for the zero UID) to b.
func (u UID) AppendTo(b []byte) []byte {
	if u == 0 {
		return b
	}
	var t [12]byte
	t[0] = 'C'
	v := uint64(u)
	for i := 11; i > 0; i-- {
		t[i] = base62[v%62]
		v /= 62
	}
	return append(b, t[:]...)
}

// ParseUID parses the text form printed by UID.String.
func ParseUID(s string) (UID, bool) {
	if len(s) != 12 || s[0] != 'C' {
		return 0, false
	}
	var v uint64
	for i := 1; i < len(s); i++ {
		d := -1
		for j := 0; j < len(base62); j++ {
			if base62[j] == s[i] {
				d = j
				break
			}
		}
		if d < 0 {
			return 0, false
		}
		v = v*62 + uint64(d)
	}
	return UID(v), true
}

// Peer flag bits.
const (
	peerSawSYN      uint16 = 1 << iota // sent a SYN (ISN valid)
	peerHaveSeq                        // Next is valid
	peerSawFIN                         // sent a FIN (FinSeq valid)
	peerSawRST                         // sent a RST
	peerHaveAck                        // sent an ACK (Ack valid)
	peerInferred                       // State rests on assumed delivery
	peerRcvdFIN                        // acknowledged the other side's FIN
	peerWScale                         // offered window scaling in its SYN
	peerSACK                           // offered SACK in its SYN
	peerTS                             // sent TCP timestamps
	peerZeroWin                        // last window advertised was zero
	peerSYNACK                         // its SYN carried an ACK
	peerWasTimeWait                    // entered TIME_WAIT at some point
	peerACKDropped                     // retransmitted its SYN-ACK after the peer acknowledged it
)

// Peer holds what the capture shows of one endpoint: its inferred RFC 793
// state and the bookkeeping of the direction it sends in.
type Peer struct {
	// State is the endpoint's current state. When Inferred reports true it
	// rests on the assumed delivery of the other side's segment; otherwise
	// the endpoint's own packets proved it.
	State State
	// Observed is the last state the endpoint's own packets proved.
	Observed State
	// wscale holds the window scale shift the endpoint offered in its SYN,
	// at most 14 (RFC 7323 section 2.3), in its low four bits, and
	// wsEndFirst.
	wscale uint8
	// TTL is the IP TTL (IPv6 hop limit) of the endpoint's last segment
	// other than a RST, as it arrived at the capture point; 0 before any.
	// A RST whose TTL differs was made by something else on the path
	// (see TTLSteady and tracker/detect's middlebox-reset). It sits in
	// what was padding, so Peer stays 56 bytes.
	TTL   uint8
	flags uint16
	// MSS is the maximum segment size the endpoint offered in its SYN.
	MSS uint16
	// Window is the last raw (unscaled) window the endpoint advertised.
	Window uint16
	// DupAcks counts duplicate acknowledgements (saturating).
	DupAcks uint16
	// Keepalives counts keepalive probes (saturating).
	Keepalives uint16
	// ZeroWindows counts the times the endpoint's window closed to zero
	// (saturating).
	ZeroWindows uint16
	// ISN is the endpoint's initial sequence number; for a connection picked
	// up mid-stream, one less than the first sequence number seen.
	ISN seqnum.Value
	// Next is one past the highest sequence number the endpoint has sent
	// (SND.MAX in RFC 793 terms).
	Next seqnum.Value
	// Ack is the highest acknowledgement number the endpoint has sent.
	Ack seqnum.Value
	// FinSeq is the sequence number of the endpoint's FIN, if it sent one.
	FinSeq seqnum.Value
	// Pkts counts the segments the endpoint sent.
	Pkts uint32
	// Retrans counts retransmitted segments (data, SYN or FIN already sent).
	Retrans uint32
	// Bytes counts payload bytes, each sequence number once (retransmissions
	// are not counted again).
	Bytes uint64
	// IPBytes counts IP-level bytes of every segment, retransmissions too.
	IPBytes uint64
}

// Inferred reports whether State rests on assumed delivery of the other
// side's segment rather than on this endpoint's own packets.
func (p *Peer) Inferred() bool { return p.flags&peerInferred != 0 }

// SawSYN reports whether the endpoint sent a SYN.
func (p *Peer) SawSYN() bool { return p.flags&peerSawSYN != 0 }

// SawFIN reports whether the endpoint sent a FIN.
func (p *Peer) SawFIN() bool { return p.flags&peerSawFIN != 0 }

// SawRST reports whether the endpoint sent a RST.
func (p *Peer) SawRST() bool { return p.flags&peerSawRST != 0 }

// WasTimeWait reports whether the endpoint entered TIME_WAIT at some point.
func (p *Peer) WasTimeWait() bool { return p.flags&peerWasTimeWait != 0 }

// SawSYNACK reports whether the endpoint answered a SYN with a SYN-ACK.
func (p *Peer) SawSYNACK() bool { return p.flags&peerSYNACK != 0 }

// HaveSeq reports whether any segment was seen from the endpoint.
func (p *Peer) HaveSeq() bool { return p.flags&peerHaveSeq != 0 }

// HaveAck reports whether the endpoint sent any ACK.
func (p *Peer) HaveAck() bool { return p.flags&peerHaveAck != 0 }

// RcvdFIN reports whether the endpoint acknowledged the other side's FIN.
func (p *Peer) RcvdFIN() bool { return p.flags&peerRcvdFIN != 0 }

// OfferedWScale reports whether the endpoint's SYN carried a window scale.
func (p *Peer) OfferedWScale() bool { return p.flags&peerWScale != 0 }

// OfferedSACK reports whether the endpoint's SYN offered SACK.
func (p *Peer) OfferedSACK() bool { return p.flags&peerSACK != 0 }

// UsesTimestamps reports whether the endpoint sent TCP timestamps.
func (p *Peer) UsesTimestamps() bool { return p.flags&peerTS != 0 }

// TTLSteady reports whether TTL can be trusted as the endpoint's: its last
// two segments other than RSTs arrived with the same TTL, or only one was
// seen. A path that changes (a route flap, ECMP) clears it until the TTL
// settles again.
func (p *Peer) TTLSteady() bool { return p.TTL != 0 && p.flags&peerTTLVaried == 0 }

// noteTTL records the TTL of a segment (not a RST) the endpoint sent; 0
// (a synthetic or unknown TTL) is ignored.
func (p *Peer) noteTTL(ttl uint8) {
	switch {
	case ttl == 0:
	case p.TTL != 0 && p.TTL != ttl:
		p.flags |= peerTTLVaried
	default:
		p.flags &^= peerTTLVaried
	}
	if ttl != 0 {
		p.TTL = ttl
	}
}

// ZeroWindow reports whether the endpoint's last advertised window was zero.
func (p *Peer) ZeroWindow() bool { return p.flags&peerZeroWin != 0 }

// acksFIN reports whether the endpoint has acknowledged other's FIN in ack.
func acksFIN(seg *Segment, other *Peer) bool {
	return seg.Flags&FlagACK != 0 && other.flags&peerSawFIN != 0 &&
		seg.Ack.GreaterThanEq(other.FinSeq.Add(1))
}

// Connection flag bits (Conn.Flags).
const (
	// ConnPartial marks a connection picked up without its SYN.
	ConnPartial uint16 = 1 << iota
	// ConnIPv6 marks an IPv6 connection.
	ConnIPv6
	// ConnExpiredIdle marks a connection removed after the idle timeout,
	// still open as far as the capture shows.
	ConnExpiredIdle
	// ConnEvicted marks a connection removed to keep memory bounded.
	ConnEvicted
	// ConnSuperseded marks an incarnation that a new SYN on the same 4-tuple
	// replaced while it was still open on at least one side.
	ConnSuperseded
	// ConnRecording marks a connection whose packets are being recorded into
	// a timeline.
	ConnRecording
	// ConnDone marks a connection both of whose endpoints have closed or
	// entered TIME_WAIT.
	ConnDone
	// ConnFlipped marks a connection whose originator was re-assigned after
	// the first packet (a SYN-ACK seen before its SYN, for example).
	ConnFlipped
	// ConnGuessedOrig marks a partial connection whose originator was guessed.
	ConnGuessedOrig
	// ConnOrigClosedFirst and ConnRespClosedFirst mark which side sent the
	// connection's first FIN (the active closer).
	ConnOrigClosedFirst
	ConnRespClosedFirst
	// ConnReincarnated marks an incarnation whose 4-tuple a newer one took
	// over (open or closed at the time; ConnSuperseded says open). Until
	// it is emitted, its successor holds it, out of the flow table.
	ConnReincarnated
	// ConnLateSegments marks an incarnation that was sent segments after a
	// newer one took over its 4-tuple (stale ones, or its own while open).
	ConnLateSegments
	// ConnMiddleboxReset marks a connection reset by something in the
	// path rather than by either endpoint: a RST whose IP TTL disagreed
	// with the claimed sender's other packets. The middlebox-reset
	// detector (tracker/detect) sets it when it reports the finding; a
	// "reset_by" field reads it (MiddleboxReset).
	ConnMiddleboxReset
	// ConnRespRSTFirst marks, when both endpoints sent RSTs, that the
	// responder's came first (ResetBy).
	ConnRespRSTFirst
	// ConnCaptureLoss marks a connection one of whose endpoints
	// acknowledged data the capture never saw (Metrics.AcksForUnseen):
	// the capture, not the network, lost packets of it, so findings that
	// rest on a packet not being seen are uncertain on it.
	ConnCaptureLoss
)

// wsEndFirst, in Peer.wscale, marks the endpoint that sent the
// connection's first FIN or RST (Conn.ClosedBy). Peer.flags has no bit to
// spare, nor Peer a byte.
const wsEndFirst uint8 = 1 << 7

// WScale returns the window scale shift the endpoint offered in its SYN,
// as used: at most 14 (RFC 7323 section 2.3).
func (p *Peer) WScale() uint8 { return p.wscale & 0x0f }

// setWScale records the shift offered in the endpoint's SYN.
func (p *Peer) setWScale(shift uint8) { p.wscale = p.wscale&^0x0f | min(shift, 14) }

// markEnd records that side s sent a FIN (or a RST when rst is set; its
// peerSawRST is already set): the first of either names the side that
// ended the connection, and the first RST the side that reset it.
func (c *Conn) markEnd(s Side, rst bool) {
	o, r := &c.Peers[Orig], &c.Peers[Resp]
	if (o.wscale|r.wscale)&wsEndFirst == 0 {
		c.Peers[s].wscale |= wsEndFirst
	}
	if rst && s == Resp && o.flags&peerSawRST == 0 {
		c.Flags |= ConnRespRSTFirst
	}
}

// ClosedBy returns the side that sent the connection's first FIN or RST,
// and false if it sent neither.
func (c *Conn) ClosedBy() (Side, bool) {
	switch {
	case c.Peers[Orig].wscale&wsEndFirst != 0:
		return Orig, true
	case c.Peers[Resp].wscale&wsEndFirst != 0:
		return Resp, true
	}
	return Orig, false
}

// ResetBy says who reset the connection: "middlebox" when the
// middlebox-reset detector judged a RST of it forged (ConnMiddleboxReset),
// else "orig" or "resp" (the source of its first RST), or "" when no RST
// was seen.
func (c *Conn) ResetBy() string {
	o, r := c.Peers[Orig].SawRST(), c.Peers[Resp].SawRST()
	switch {
	case c.Flags&ConnMiddleboxReset != 0:
		return "middlebox"
	case r && (!o || c.Flags&ConnRespRSTFirst != 0):
		return "resp"
	case o:
		return "orig"
	}
	return ""
}

// Conn is one incarnation of a TCP 4-tuple as the capture shows it. A Conn is
// owned by the shard worker that processes its packets; readers see copies
// taken under the shard lock.
type Conn struct {
	// Orig and Resp are the originator's and responder's endpoints.
	Orig, Resp Endpoint
	// Flags and Hist sit here, in the padding before UID, to keep Conn
	// within 232 bytes (TestConnSize).
	// Flags holds Conn* bits.
	Flags uint16
	// Hist holds Zeek-style history bookkeeping, owned by the history code.
	Hist History
	// UID identifies this incarnation.
	UID UID
	// PrevUID is the uid of the previous incarnation of the same 4-tuple
	// still remembered when this one began, or zero.
	PrevUID UID
	// FirstFrame is the frame number of the connection's first packet.
	FirstFrame uint64
	// Start and Last are the times of the first and last packet.
	Start, Last int64
	// DoneAt is the time both endpoints had closed or entered TIME_WAIT.
	DoneAt int64
	// Peers holds the originator's (Orig) and responder's (Resp) endpoint.
	Peers [2]Peer
	// Anomalies is a bit set of finding kinds (bits below 24), owned by
	// the detectors; its top byte holds their watch bits (see Watching).
	Anomalies uint32
	prev      uint32 // slab index+1 of the previous incarnation, 0 if none
}

// Partial reports whether the connection was picked up without its SYN.
func (c *Conn) Partial() bool { return c.Flags&ConnPartial != 0 }

// MiddleboxReset reports whether a RST of the connection was judged made by
// a middlebox (a firewall, IPS or load balancer injecting resets) rather
// than by the endpoint it claims to come from (ConnMiddleboxReset).
func (c *Conn) MiddleboxReset() bool { return c.Flags&ConnMiddleboxReset != 0 }

// Done reports whether both endpoints have closed or entered TIME_WAIT.
func (c *Conn) Done() bool { return c.Flags&ConnDone != 0 }

// ClosedFirst returns the side that sent the first FIN, and false if no FIN
// was seen.
func (c *Conn) ClosedFirst() (Side, bool) {
	switch {
	case c.Flags&ConnOrigClosedFirst != 0:
		return Orig, true
	case c.Flags&ConnRespClosedFirst != 0:
		return Resp, true
	}
	return Orig, false
}

// Endpoint returns the endpoint of side s.
func (c *Conn) Endpoint(s Side) Endpoint {
	if s == Orig {
		return c.Orig
	}
	return c.Resp
}

// Key returns the connection's canonical 4-tuple key.
func (c *Conn) Key() FlowKey {
	k, _ := MakeFlowKey(c.Orig, c.Resp)
	return k
}

// SideOf returns the side that sends from endpoint src.
func (c *Conn) SideOf(src Endpoint) Side {
	if src == c.Orig {
		return Orig
	}
	return Resp
}

// RelSeq returns seq relative to side s's ISN, as Wireshark shows it.
func (c *Conn) RelSeq(s Side, seq seqnum.Value) uint32 {
	return uint32(c.Peers[s].ISN.Size(seq))
}

// scaledWindow returns side s's last advertised window in bytes, applying
// window scaling when both SYNs offered it (RFC 7323 section 2.2).
func (c *Conn) scaledWindow(s Side) uint32 {
	p := &c.Peers[s]
	w := uint32(p.Window)
	if p.flags&peerWScale != 0 && c.Peers[s.Other()].flags&peerWScale != 0 {
		w <<= p.WScale()
	}
	return w
}

// segmentWindow returns the window segment seg (from side s) advertises,
// in bytes: scaled where both SYNs offered scaling, except in a SYN, whose
// window is never scaled (RFC 7323 section 2.2).
func (c *Conn) segmentWindow(seg *Segment, s Side) uint32 {
	w := uint32(seg.Window)
	if seg.Flags&FlagSYN == 0 && c.Peers[s].flags&peerWScale != 0 && c.Peers[s.Other()].flags&peerWScale != 0 {
		w <<= c.Peers[s].WScale()
	}
	return w
}

// ScaledWindow returns side s's last advertised window in bytes.
func (c *Conn) ScaledWindow(s Side) uint32 { return c.scaledWindow(s) }
