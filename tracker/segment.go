// Package tracker rebuilds, from observed TCP segments, the RFC 793 state of
// both endpoints of every connection.
//
// The tracker is pure: it does no I/O, reads no flags and never looks at the
// wall clock. Packet timestamps are its only clock, so offline and live
// analysis of the same packets agree. The capture package fills Segment
// values; the report package reads the Conn records and events it produces.
package tracker

import (
	"bytes"
	"encoding/binary"
	"net/netip"

	"github.com/wirestate/wirestate/tracker/seqnum"
)

// TCP header flag bits, as they appear in byte 13 of the TCP header.
const (
	FlagFIN uint8 = 1 << iota
	FlagSYN
	FlagRST
	FlagPSH
	FlagACK
	FlagURG
	FlagECE
	FlagCWR
)

// Addr is an IPv4 or IPv6 address stored in 16 bytes; IPv4 addresses use the
// IPv4-mapped form (::ffff:a.b.c.d). It is comparable and never allocates.
type Addr [16]byte

// AddrFrom4 returns the Addr of an IPv4 address.
func AddrFrom4(b [4]byte) Addr {
	// One 8-byte store for the mapped half (bytes 8 to 15: 0 0 ff ff and
	// the address) rather than six byte stores.
	var a Addr
	binary.LittleEndian.PutUint64(a[8:], 0xffff<<16|uint64(binary.LittleEndian.Uint32(b[:]))<<32)
	return a
}

// AddrFromSlice returns the Addr of a 4- or 16-byte address; any other length
// gives the zero Addr.
func AddrFromSlice(b []byte) Addr {
	var a Addr
	switch len(b) {
	case 4:
		a[10], a[11] = 0xff, 0xff
		copy(a[12:], b)
	case 16:
		copy(a[:], b)
	}
	return a
}

// Is4 reports whether a is an IPv4 address.
func (a Addr) Is4() bool {
	for _, b := range a[:10] {
		if b != 0 {
			return false
		}
	}
	return a[10] == 0xff && a[11] == 0xff
}

// Netip returns a as a net/netip address (IPv4 unmapped).
func (a Addr) Netip() netip.Addr { return netip.AddrFrom16(a).Unmap() }

// Less orders addresses as reports list them: IPv4 before IPv6, then by
// bytes.
func (a *Addr) Less(b *Addr) bool {
	if a4, b4 := a.Is4(), b.Is4(); a4 != b4 {
		return a4
	}
	return bytes.Compare(a[:], b[:]) < 0
}

// String formats a as dotted quad or RFC 5952 IPv6 text.
func (a Addr) String() string { return a.Netip().String() }

// AppendTo appends the text form of a, as String returns it, to b.
func (a Addr) AppendTo(b []byte) []byte { return a.Netip().AppendTo(b) }

// Endpoint is one side of a TCP connection: an address and a port.
type Endpoint struct {
	Addr Addr
	Port uint16
}

// String formats e as tcpdump does: 10.0.0.1.80, or [2001:db8::1]:80 for IPv6
// is left to callers; this form is address:port with IPv6 bracketed.
func (e Endpoint) String() string {
	return netip.AddrPortFrom(e.Addr.Netip(), e.Port).String()
}

// AppendTo appends the text form of e, as String returns it, to b.
func (e Endpoint) AppendTo(b []byte) []byte {
	return netip.AddrPortFrom(e.Addr.Netip(), e.Port).AppendTo(b)
}

// Less orders endpoints by address bytes, then port.
func (e *Endpoint) Less(o *Endpoint) bool {
	a0, b0 := binary.BigEndian.Uint64(e.Addr[:8]), binary.BigEndian.Uint64(o.Addr[:8])
	if a0 != b0 {
		return a0 < b0
	}
	a1, b1 := binary.BigEndian.Uint64(e.Addr[8:]), binary.BigEndian.Uint64(o.Addr[8:])
	if a1 != b1 {
		return a1 < b1
	}
	return e.Port < o.Port
}

// FlowKey names a 4-tuple without direction: Lo is the endpoint that sorts
// first. Both directions of a connection map to the same FlowKey.
type FlowKey struct {
	Lo, Hi Endpoint
}

// MakeFlowKey returns the canonical key of the 4-tuple (a, b) and whether a is
// the key's Lo endpoint.
func MakeFlowKey(a, b Endpoint) (FlowKey, bool) {
	if b.Less(&a) {
		return FlowKey{Lo: b, Hi: a}, false
	}
	return FlowKey{Lo: a, Hi: b}, true
}

// Segment is one observed TCP segment, filled by the capture package. It is
// a plain value: the tracker copies it and keeps no reference to packet data.
type Segment struct {
	// Time is the capture timestamp in nanoseconds since the Unix epoch.
	Time int64
	// Frame is the packet's 1-based number in the capture (across merged
	// files, in merge order), as tcpdump and Wireshark count.
	Frame uint64

	Src, Dst Endpoint

	Seq, Ack seqnum.Value
	// Flags holds the TCP flag bits (FlagFIN ... FlagCWR).
	Flags uint8
	// TTL is the IPv4 time to live or the IPv6 hop limit of the packet
	// (the innermost IP header's), as it arrived at the capture point.
	TTL uint8
	// Window is the raw, unscaled window field.
	Window uint16
	// IPID is the IPv4 identification field; IPv6 has none and leaves it
	// zero.
	IPID uint16
	// PayloadLen is the TCP payload length computed from the IP header's
	// length fields, so it is right even when the capture truncated the
	// packet (headers-only snaplen).
	PayloadLen uint32
	// IPLen is the IP packet length (IPv4 total length, or IPv6 payload
	// length plus 40), as Zeek's ip_bytes counts it.
	IPLen uint32

	// TCP options; Opts says which were present.
	Opts   uint8
	MSS    uint16
	WScale uint8
	TSVal  uint32
	TSEcr  uint32
	// SACKLeft and SACKRight bound the first SACK block (RFC 2018), set
	// with OptSACK. A first block below the cumulative ACK is a D-SACK
	// (RFC 2883): the receiver reports a duplicate it discarded.
	SACKLeft, SACKRight seqnum.Value

	// BadChecksum is set when the capture layer verified the TCP checksum and
	// it was wrong (only when checksums are validated and the packet is whole).
	BadChecksum bool
}

// Bits of Segment.Opts saying which TCP options a segment carried.
const (
	OptMSS uint8 = 1 << iota
	OptWScale
	OptSACKPermitted
	OptSACK
	OptTimestamp
)

// Has reports whether every bit of f is set in the segment's flags.
func (s *Segment) Has(f uint8) bool { return s.Flags&f == f }

// SeqLen returns the amount of sequence space the segment occupies: its
// payload plus one for SYN and one for FIN (RFC 793 section 3.3, SEG.LEN).
func (s *Segment) SeqLen() seqnum.Size {
	n := seqnum.Size(s.PayloadLen)
	if s.Flags&FlagSYN != 0 {
		n++
	}
	if s.Flags&FlagFIN != 0 {
		n++
	}
	return n
}

// FlagString formats TCP flags the way tcpdump prints them: S, F, R, P, .
// for ACK, U, E, W; "[none]" when no flag is set.
func FlagString(f uint8) string {
	var b [9]byte
	n := 0
	for _, x := range [...]struct {
		bit uint8
		c   byte
	}{{FlagSYN, 'S'}, {FlagFIN, 'F'}, {FlagRST, 'R'}, {FlagPSH, 'P'}, {FlagURG, 'U'}, {FlagECE, 'E'}, {FlagCWR, 'W'}, {FlagACK, '.'}} {
		if f&x.bit != 0 {
			b[n] = x.c
			n++
		}
	}
	if n == 0 {
		return "none"
	}
	return string(b[:n])
}
