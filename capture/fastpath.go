package capture

import (
	"encoding/binary"

	"github.com/wirestate/wirestate/tracker"
	"github.com/wirestate/wirestate/tracker/seqnum"
)

// maxFastVLANTags is the most 802.1Q tags the fast path walks; deeper stacks
// go to the gopacket path, which bounds nesting for every layer.
const maxFastVLANTags = 8

// fastEthernet decodes an Ethernet frame carrying, after any stack of
// 802.1Q/802.1ad tags, IPv4 or IPv6 and then TCP. handled is false when the
// frame holds something else (MPLS, PPPoE, LLC, tunnels, IPv6 extension
// headers ...) and must go to the gopacket path.
func (d *Decoder) fastEthernet(data []byte, seg *tracker.Segment) (r SkipReason, handled bool) {
	if len(data) < 14 {
		return SkipTruncated, true
	}
	etherType := binary.BigEndian.Uint16(data[12:14])
	off := 14
	for tags := 0; ; tags++ {
		switch classifyEtherType(etherType) {
		case etherIPv4:
			return d.fastIPv4(data[off:], seg)
		case etherIPv6:
			return d.fastIPv6(data[off:], seg)
		case etherNotIP:
			return SkipNotIP, true
		case etherVLAN:
			if tags == maxFastVLANTags {
				return SkipNone, false
			}
			if len(data) < off+4 {
				return SkipTruncated, true
			}
			etherType = binary.BigEndian.Uint16(data[off+2 : off+4])
			off += 4
		default:
			return SkipNone, false
		}
	}
}

// ipv4OptionsValid reports whether the IPv4 option area opts is well formed:
// every option other than end-of-list and no-op has a length of at least 2
// that stays inside the area.
func ipv4OptionsValid(opts []byte) bool {
	for len(opts) > 0 {
		switch opts[0] {
		case 0:
			return true
		case 1:
			opts = opts[1:]
		default:
			if len(opts) < 2 || int(opts[1]) < 2 || int(opts[1]) > len(opts) {
				return false
			}
			opts = opts[opts[1]:]
		}
	}
	return true
}

// fastIPv4 decodes an IPv4 packet whose first byte is ip[0].
func (d *Decoder) fastIPv4(ip []byte, seg *tracker.Segment) (SkipReason, bool) {
	if len(ip) < 20 {
		return SkipTruncated, true
	}
	if ip[0]>>4 != 4 {
		return SkipBadIPHeader, true
	}
	hdrLen := int(ip[0]&0x0f) * 4
	if hdrLen < 20 {
		return SkipBadIPHeader, true
	}
	total := int(binary.BigEndian.Uint16(ip[2:4]))
	if total == 0 {
		// TCP segmentation offload leaves the field zero on the sending
		// host; the captured bytes are then the packet (as Zeek does).
		total = len(ip)
	}
	if total < hdrLen {
		return SkipBadIPHeader, true
	}
	if len(ip) < hdrLen {
		return SkipTruncated, true
	}
	if hdrLen > 20 && !ipv4OptionsValid(ip[20:hdrLen]) {
		return SkipBadIPHeader, true
	}
	if len(ip) > total {
		ip = ip[:total] // drop the link layer's padding or trailer
	}
	frag := binary.BigEndian.Uint16(ip[6:8])
	if frag&0x1fff != 0 {
		return SkipFragment, true
	}
	firstFragment := frag&0x2000 != 0
	class := classifyIPProto(ip[9], false)
	if firstFragment && class != ipTCP {
		// The first fragment of a tunnelled packet holds the inner
		// headers, which the gopacket path decodes; anything else is
		// just a fragment.
		if class == ipInIPv4 || class == ipInIPv6 || class == ipUDP && toTunnelPort(ip[hdrLen:]) {
			return SkipNone, false
		}
		return SkipFragment, true
	}
	switch class {
	case ipTCP:
		seg.Src.Addr = tracker.AddrFrom4([4]byte(ip[12:16]))
		seg.Dst.Addr = tracker.AddrFrom4([4]byte(ip[16:20]))
		seg.IPLen = uint32(total)
		seg.TTL = ip[8]
		seg.IPID = binary.BigEndian.Uint16(ip[4:6])
		return d.fastTCP(ip[hdrLen:], total-hdrLen, firstFragment, false, &seg.Dst.Addr, seg), true
	case ipUDP:
		return fastUDP(ip[hdrLen:])
	case ipICMP:
		return SkipICMP, true
	case ipOther:
		return SkipOtherIPProto, true
	}
	return SkipNone, false
}

// fastIPv6 decodes an IPv6 packet whose next header is TCP, UDP or ICMPv6;
// extension headers, jumbograms and tunnels go to the gopacket path.
func (d *Decoder) fastIPv6(ip []byte, seg *tracker.Segment) (SkipReason, bool) {
	if len(ip) < 40 {
		return SkipTruncated, true
	}
	if ip[0]>>4 != 6 {
		return SkipBadIPHeader, true
	}
	payloadLen := int(binary.BigEndian.Uint16(ip[4:6]))
	if payloadLen == 0 {
		return SkipNone, false
	}
	if len(ip) > 40+payloadLen {
		ip = ip[:40+payloadLen]
	}
	switch classifyIPProto(ip[6], true) {
	case ipTCP:
		seg.Src.Addr = tracker.Addr(ip[8:24])
		seg.Dst.Addr = tracker.Addr(ip[24:40])
		seg.IPLen = uint32(40 + payloadLen)
		seg.TTL = ip[7]
		return d.fastTCP(ip[40:], payloadLen, false, true, &seg.Dst.Addr, seg), true
	case ipUDP:
		return fastUDP(ip[40:])
	case ipICMP:
		return SkipICMP, true
	case ipOther:
		return SkipOtherIPProto, true
	}
	return SkipNone, false
}

// toTunnelPort reports whether the UDP header udp, of which at least the
// ports must be captured, is from or to a tunnel port.
func toTunnelPort(udp []byte) bool {
	return len(udp) >= 4 && (isTunnelPort(binary.BigEndian.Uint16(udp[0:2])) || isTunnelPort(binary.BigEndian.Uint16(udp[2:4])))
}

// fastUDP classifies a UDP datagram: tunnels go to the gopacket path.
func fastUDP(udp []byte) (SkipReason, bool) {
	if toTunnelPort(udp) {
		return SkipNone, false
	}
	return SkipUDP, true
}

// fastTCP decodes the TCP header at tcp[0], of a segment tcpLen bytes long
// by the IP header; tcp holds only its captured bytes. finalDst is the
// destination for the checksum pseudo-header.
func (d *Decoder) fastTCP(tcp []byte, tcpLen int, firstFragment, v6 bool, finalDst *tracker.Addr, seg *tracker.Segment) SkipReason {
	var dataOffset uint8
	if len(tcp) >= 20 {
		dataOffset = tcp[12] >> 4
	}
	if r := tcpLengthCheck(tcpLen, len(tcp), dataOffset, firstFragment); r != SkipNone {
		return r
	}
	seg.Src.Port = binary.BigEndian.Uint16(tcp[0:2])
	seg.Dst.Port = binary.BigEndian.Uint16(tcp[2:4])
	seg.Seq = seqnum.Value(binary.BigEndian.Uint32(tcp[4:8]))
	seg.Ack = seqnum.Value(binary.BigEndian.Uint32(tcp[8:12]))
	seg.Flags = tcp[13]
	seg.Window = binary.BigEndian.Uint16(tcp[14:16])
	hdrLen := int(dataOffset) * 4
	seg.PayloadLen = uint32(tcpLen - hdrLen)
	parseTCPOptions(seg, tcp[20:min(hdrLen, len(tcp))])
	if d.validateChecksums && !firstFragment && len(tcp) == tcpLen {
		seg.BadChecksum = !tcpChecksumOK(v6, &seg.Src.Addr, finalDst, tcp)
	}
	return SkipNone
}
