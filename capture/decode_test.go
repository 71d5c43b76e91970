package capture

import (
	"fmt"
	"net"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/wirestate/wirestate/tracker"
)

// decoders returns a Decoder using the fast path where it applies and one
// forced onto the gopacket path.
func decoders(validate bool) (fast, slow *Decoder) {
	fast = NewDecoder(DecoderOptions{ValidateChecksums: validate})
	slow = NewDecoder(DecoderOptions{ValidateChecksums: validate})
	slow.noFastPath = true
	return fast, slow
}

// wantSeg lists the Segment fields a decode case checks.
type wantSeg struct {
	src, dst          string // addr:port as tracker.Endpoint.String formats
	payloadLen, ipLen uint32
	flags             uint8 // checked when not zero
	opts              uint8
	mss               uint16
	wscale            uint8
	tsval, tsecr      uint32
	badChecksum       bool
}

func (w wantSeg) check(t *testing.T, seg *tracker.Segment) {
	t.Helper()
	got := wantSeg{
		src: seg.Src.String(), dst: seg.Dst.String(), payloadLen: seg.PayloadLen, ipLen: seg.IPLen,
		opts: seg.Opts, badChecksum: seg.BadChecksum,
	}
	if w.flags != 0 {
		got.flags = seg.Flags
	}
	if seg.Opts&tracker.OptMSS != 0 {
		got.mss = seg.MSS
	}
	if seg.Opts&tracker.OptWScale != 0 {
		got.wscale = seg.WScale
	}
	if seg.Opts&tracker.OptTimestamp != 0 {
		got.tsval, got.tsecr = seg.TSVal, seg.TSEcr
	}
	if got != w {
		t.Errorf("segment\n got %+v\nwant %+v", got, w)
	}
}

type decodeCase struct {
	name string
	link LinkType
	data []byte
	want SkipReason
	seg  wantSeg // checked when want is SkipNone
}

const allSYNOpts = tracker.OptMSS | tracker.OptSACKPermitted | tracker.OptTimestamp | tracker.OptWScale

func decodeCases(t testing.TB) []decodeCase {
	v4 := func(sport, dport uint16) (string, string) {
		return fmt.Sprintf("10.0.0.1:%d", sport), fmt.Sprintf("192.168.1.2:%d", dport)
	}
	s4, d4 := v4(40000, 80)
	s6, d6 := "[2001:db8::1]:40000", "[2001:db8:ffff::2]:443"
	plain4 := func(n int) wantSeg { return wantSeg{src: s4, dst: d4, payloadLen: uint32(n), ipLen: uint32(40 + n)} }
	plain6 := func(n int) wantSeg { return wantSeg{src: s6, dst: d6, payloadLen: uint32(n), ipLen: uint32(60 + n)} }

	var cases []decodeCase
	add := func(c decodeCase) { cases = append(cases, c) }

	// Ethernet, VLAN, IPv4, IPv6, TCP: the fast path.
	syn := ipv4TCP(t, 0, synOptions())
	add(decodeCase{"ipv4 syn with options", LinkEthernet, syn, SkipNone, wantSeg{src: s4, dst: d4, ipLen: 60,
		flags: tracker.FlagSYN, opts: allSYNOpts, mss: 1460, wscale: 7, tsval: 12345, tsecr: 7}})
	add(decodeCase{"ipv4 data", LinkEthernet, ipv4TCP(t, 1000, nil), SkipNone, plain4(1000)})
	add(decodeCase{"ipv4 ethernet padding", LinkEthernet, ipv4TCP(t, 0, nil), SkipNone, plain4(0)})
	add(decodeCase{"vlan ipv6", LinkEthernet, vlanIPv6TCP(t, 100), SkipNone, plain6(100)})
	{
		ip := ipv4(ip4A, ip4B, layers.IPProtocolTCP)
		add(decodeCase{"qinq ipv4", LinkEthernet, serialize(t, eth(layers.EthernetTypeQinQ), vlan(100, layers.EthernetTypeDot1Q),
			vlan(200, layers.EthernetTypeIPv4), ip, tcpOver(ip, 40000, 80, false, nil), payload(10)), SkipNone, plain4(10)})
	}
	{
		ip := ipv4(ip4A, ip4B, layers.IPProtocolTCP)
		ip.Options = []layers.IPv4Option{{OptionType: 148, OptionLength: 4, OptionData: []byte{0, 0}}}
		add(decodeCase{"ipv4 with options", LinkEthernet, serialize(t, eth(layers.EthernetTypeIPv4), ip,
			tcpOver(ip, 40000, 80, false, nil), payload(10)), SkipNone, wantSeg{src: s4, dst: d4, payloadLen: 10, ipLen: 54}})
		bad := serialize(t, eth(layers.EthernetTypeIPv4), ip, tcpOver(ip, 40000, 80, false, nil), payload(10))
		bad[14+21] = 1 // option length 1
		add(decodeCase{"ipv4 malformed options", LinkEthernet, bad, SkipBadIPHeader, wantSeg{}})
	}

	// Headers-only captures: lengths from the IP header.
	big := ipv4TCP(t, 1460, synOptions()[:3])
	add(decodeCase{"snaplen 54", LinkEthernet, big[:54], SkipNone, wantSeg{src: s4, dst: d4, payloadLen: 1460, ipLen: 1460 + 56, flags: tracker.FlagSYN}})
	add(decodeCase{"snaplen 60 cuts timestamp option", LinkEthernet, big[:60], SkipNone, wantSeg{src: s4, dst: d4, payloadLen: 1460, ipLen: 1460 + 56,
		opts: tracker.OptMSS | tracker.OptSACKPermitted, mss: 1460}})
	add(decodeCase{"snaplen 96", LinkEthernet, big[:96], SkipNone, wantSeg{src: s4, dst: d4, payloadLen: 1460, ipLen: 1460 + 56,
		opts: tracker.OptMSS | tracker.OptSACKPermitted | tracker.OptTimestamp, mss: 1460, tsval: 12345, tsecr: 7}})
	add(decodeCase{"cut in ethernet header", LinkEthernet, big[:10], SkipTruncated, wantSeg{}})
	add(decodeCase{"cut in ip header", LinkEthernet, big[:30], SkipTruncated, wantSeg{}})
	add(decodeCase{"cut in tcp header", LinkEthernet, big[:45], SkipTruncated, wantSeg{}})
	add(decodeCase{"cut after ip header", LinkEthernet, big[:34], SkipTruncated, wantSeg{}})
	v6big := vlanIPv6TCP(t, 1000)
	add(decodeCase{"ipv6 snaplen 78", LinkEthernet, v6big[:78], SkipNone, plain6(1000)})
	add(decodeCase{"ipv6 cut in tcp header", LinkEthernet, v6big[:70], SkipTruncated, wantSeg{}})
	add(decodeCase{"cut in vlan tag", LinkEthernet, v6big[:16], SkipTruncated, wantSeg{}})

	// Lies in the headers.
	mut := func(b []byte, f func([]byte)) []byte { c := append([]byte(nil), b...); f(c); return c }
	add(decodeCase{"ipv4 version 5", LinkEthernet, mut(syn, func(b []byte) { b[14] = 0x55 }), SkipBadIPHeader, wantSeg{}})
	add(decodeCase{"ipv4 ihl 4", LinkEthernet, mut(syn, func(b []byte) { b[14] = 0x44 }), SkipBadIPHeader, wantSeg{}})
	add(decodeCase{"ipv4 total length < ihl", LinkEthernet, mut(syn, func(b []byte) { b[16], b[17] = 0, 19 }), SkipBadIPHeader, wantSeg{}})
	add(decodeCase{"ipv4 total length leaves no tcp header", LinkEthernet, mut(syn, func(b []byte) { b[16], b[17] = 0, 30 }), SkipBadTCPHeader, wantSeg{}})
	add(decodeCase{"tcp data offset 4", LinkEthernet, mut(syn, func(b []byte) { b[46] = 0x40 }), SkipBadTCPHeader, wantSeg{}})
	add(decodeCase{"tcp data offset past ip length", LinkEthernet, mut(syn, func(b []byte) { b[46] = 0xf0 }), SkipBadTCPHeader, wantSeg{}})
	add(decodeCase{"ipv4 total length zero (TSO)", LinkEthernet, mut(ipv4TCP(t, 2000, nil), func(b []byte) { b[16], b[17] = 0, 0 }),
		SkipNone, plain4(2000)})
	add(decodeCase{"ipv6 version 4", LinkEthernet, mut(v6big, func(b []byte) { b[18] = 0x40 }), SkipBadIPHeader, wantSeg{}})
	add(decodeCase{"ipv6 payload length zero (BIG TCP)", LinkEthernet, mut(v6big, func(b []byte) { b[22], b[23] = 0, 0 }),
		SkipNone, plain6(1000)})

	// Not TCP.
	add(decodeCase{"arp", LinkEthernet, serialize(t, eth(layers.EthernetTypeARP), &layers.ARP{AddrType: layers.LinkTypeEthernet,
		Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4, SourceHwAddress: macA, SourceProtAddress: ip4A,
		DstHwAddress: macB, DstProtAddress: ip4B}), SkipNotIP, wantSeg{}})
	{
		ip := ipv4(ip4A, ip4B, layers.IPProtocolUDP)
		udp := &layers.UDP{SrcPort: 53, DstPort: 5353}
		udp.SetNetworkLayerForChecksum(ip)
		add(decodeCase{"udp", LinkEthernet, serialize(t, eth(layers.EthernetTypeIPv4), ip, udp, payload(20)), SkipUDP, wantSeg{}})
		ip6 := ipv6(ip6A, ip6B, layers.IPProtocolUDP)
		udp.SetNetworkLayerForChecksum(ip6)
		add(decodeCase{"udp6", LinkEthernet, serialize(t, eth(layers.EthernetTypeIPv6), ip6, udp, payload(20)), SkipUDP, wantSeg{}})
	}
	add(decodeCase{"icmp", LinkEthernet, serialize(t, eth(layers.EthernetTypeIPv4), ipv4(ip4A, ip4B, layers.IPProtocolICMPv4),
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0)}, payload(8)), SkipICMP, wantSeg{}})
	add(decodeCase{"icmpv6", LinkEthernet, serialize(t, eth(layers.EthernetTypeIPv6), ipv6(ip6A, ip6B, layers.IPProtocolICMPv6),
		raw(128, 0, 0, 0, 0, 1, 0, 1)), SkipICMP, wantSeg{}})
	add(decodeCase{"gre", LinkEthernet, serialize(t, eth(layers.EthernetTypeIPv4), ipv4(ip4A, ip4B, layers.IPProtocolGRE),
		payload(20)), SkipOtherIPProto, wantSeg{}})
	add(decodeCase{"lldp ethertype", LinkEthernet, serialize(t, eth(0x88cc), payload(40)), SkipNotIP, wantSeg{}})

	// IPv4 fragments.
	{
		ip := ipv4(ip4A, ip4B, layers.IPProtocolTCP)
		ip.Flags = layers.IPv4MoreFragments
		add(decodeCase{"first fragment tcp", LinkEthernet, serialize(t, eth(layers.EthernetTypeIPv4), ip, tcpOver(ip, 40000, 80, false, nil),
			payload(100)), SkipNone, plain4(100)})
		ip2 := ipv4(ip4A, ip4B, layers.IPProtocolTCP)
		ip2.FragOffset = 185
		add(decodeCase{"later fragment", LinkEthernet, serialize(t, eth(layers.EthernetTypeIPv4), ip2, payload(100)), SkipFragment, wantSeg{}})
		add(decodeCase{"first fragment with short tcp header", LinkEthernet, serialize(t, eth(layers.EthernetTypeIPv4), ip, payload(8)),
			SkipFragment, wantSeg{}})
		ipu := ipv4(ip4A, ip4B, layers.IPProtocolUDP)
		ipu.Flags = layers.IPv4MoreFragments
		add(decodeCase{"first fragment udp", LinkEthernet, serialize(t, eth(layers.EthernetTypeIPv4), ipu,
			raw(0, 1, 0, 2, 0, 108, 0, 0), payload(100)), SkipFragment, wantSeg{}})
	}

	// Checksums.
	{
		good := ipv4TCP(t, 33, nil)
		add(decodeCase{"bad checksum", LinkEthernet, mut(good, func(b []byte) { b[len(b)-1] ^= 0xff }), SkipNone,
			wantSeg{src: s4, dst: d4, payloadLen: 33, ipLen: 73, badChecksum: true}})
		g6 := vlanIPv6TCP(t, 7)
		add(decodeCase{"bad checksum ipv6", LinkEthernet, mut(g6, func(b []byte) { b[len(b)-1] ^= 0x01 }), SkipNone,
			wantSeg{src: s6, dst: d6, payloadLen: 7, ipLen: 67, badChecksum: true}})
	}

	// Linux cooked captures.
	{
		ip := ipv4(ip4A, ip4B, layers.IPProtocolTCP)
		add(decodeCase{"sll", LinkLinuxSLL, serialize(t, raw(sllHeader(0x0800, 6)...), ip, tcpOver(ip, 40000, 80, false, nil), payload(5)),
			SkipNone, plain4(5)})
		add(decodeCase{"sll ipoib address length 20", LinkLinuxSLL, serialize(t, raw(sllHeader(0x0800, 20)...), ip,
			tcpOver(ip, 40000, 80, false, nil), payload(5)), SkipNone, plain4(5)})
		add(decodeCase{"sll2", LinkLinuxSLL2, sll2IPv4TCP(t, 5), SkipNone, plain4(5)})
		ip6 := ipv6(ip6A, ip6B, layers.IPProtocolTCP)
		add(decodeCase{"sll2 ipv6", LinkLinuxSLL2, serialize(t, raw(sll2Header(0x86dd)...), ip6, tcpOver(ip6, 40000, 443, false, nil), payload(5)),
			SkipNone, plain6(5)})
		add(decodeCase{"sll2 arp", LinkLinuxSLL2, serialize(t, raw(sll2Header(0x0806)...), payload(28)), SkipNotIP, wantSeg{}})
		add(decodeCase{"sll2 cut", LinkLinuxSLL2, sll2Header(0x0800)[:12], SkipTruncated, wantSeg{}})
	}

	// Raw IP and loopback.
	{
		ip := ipv4(ip4A, ip4B, layers.IPProtocolTCP)
		r4 := serialize(t, ip, tcpOver(ip, 40000, 80, false, nil), payload(3))
		ip6 := ipv6(ip6A, ip6B, layers.IPProtocolTCP)
		r6 := serialize(t, ip6, tcpOver(ip6, 40000, 443, false, nil), payload(3))
		for _, l := range []LinkType{LinkRaw, LinkRawDLT12, LinkRawDLT14} {
			add(decodeCase{"raw ipv4 " + LinkTypeName(l), l, r4, SkipNone, plain4(3)})
			add(decodeCase{"raw ipv6 " + LinkTypeName(l), l, r6, SkipNone, plain6(3)})
		}
		add(decodeCase{"linktype ipv4", LinkIPv4, r4, SkipNone, plain4(3)})
		add(decodeCase{"linktype ipv6", LinkIPv6, r6, SkipNone, plain6(3)})
		add(decodeCase{"raw version 5", LinkRaw, mut(r4, func(b []byte) { b[0] = 0x55 }), SkipBadIPHeader, wantSeg{}})
		add(decodeCase{"null ipv4", LinkNull, cat([]byte{2, 0, 0, 0}, r4), SkipNone, plain4(3)})
		add(decodeCase{"null ipv6 darwin", LinkNull, cat([]byte{30, 0, 0, 0}, r6), SkipNone, plain6(3)})
		add(decodeCase{"loop ipv4", LinkLoop, cat([]byte{0, 0, 0, 2}, r4), SkipNone, plain4(3)})
		add(decodeCase{"loop ipv6 openbsd", LinkLoop, cat([]byte{0, 0, 0, 24}, r6), SkipNone, plain6(3)})
		add(decodeCase{"null unknown family", LinkNull, cat([]byte{7, 0, 0, 0}, r4), SkipNotIP, wantSeg{}})
		add(decodeCase{"unknown link type", LinkType(147), r4, SkipUnknownLink, wantSeg{}})
	}

	// IPv6 extension headers.
	{
		tcpFor := func(ip *layers.IPv6) gopacket.SerializableLayer { return tcpOver(ip, 40000, 443, false, nil) }
		ip := ipv6(ip6A, ip6B, layers.IPProtocolIPv6HopByHop)
		hbh := raw(6, 0, 1, 4, 0, 0, 0, 0)
		add(decodeCase{"ipv6 hop-by-hop", LinkEthernet, serialize(t, eth(layers.EthernetTypeIPv6), ip, hbh, tcpFor(ip), payload(9)),
			SkipNone, wantSeg{src: s6, dst: d6, payloadLen: 9, ipLen: 40 + 8 + 20 + 9}})
		ip = ipv6(ip6A, ip6B, layers.IPProtocolIPv6Destination)
		dst := raw(43, 0, 1, 4, 0, 0, 0, 0)
		final := net.ParseIP("2001:db8::99")
		rt := cat([]byte{6, 2, 0, 1, 0, 0, 0, 0}, final)
		tcp := tcpOver(&layers.IPv6{SrcIP: ip6A, DstIP: final}, 40000, 443, false, nil)
		add(decodeCase{"ipv6 destination options and routing header", LinkEthernet,
			serialize(t, eth(layers.EthernetTypeIPv6), ip, dst, raw(rt...), tcp, payload(9)),
			SkipNone, wantSeg{src: s6, dst: d6, payloadLen: 9, ipLen: 40 + 8 + 24 + 20 + 9}})
		ip = ipv6(ip6A, ip6B, layers.IPProtocolIPv6Fragment)
		add(decodeCase{"ipv6 first fragment", LinkEthernet, serialize(t, eth(layers.EthernetTypeIPv6), ip,
			raw(6, 0, 0, 1, 0, 0, 0, 9), tcpFor(ip), payload(9)), SkipNone, wantSeg{src: s6, dst: d6, payloadLen: 9, ipLen: 40 + 8 + 20 + 9}})
		add(decodeCase{"ipv6 atomic fragment", LinkEthernet, serialize(t, eth(layers.EthernetTypeIPv6), ip,
			raw(6, 0, 0, 0, 0, 0, 0, 9), tcpFor(ip), payload(9)), SkipNone, wantSeg{src: s6, dst: d6, payloadLen: 9, ipLen: 40 + 8 + 20 + 9}})
		add(decodeCase{"ipv6 later fragment", LinkEthernet, serialize(t, eth(layers.EthernetTypeIPv6), ip,
			raw(6, 0, 0x05, 0xc9, 0, 0, 0, 9), payload(40)), SkipFragment, wantSeg{}})
		ip = ipv6(ip6A, ip6B, layers.IPProtocolIPv6Destination)
		long := serialize(t, eth(layers.EthernetTypeIPv6), ip, raw(6, 0, 1, 4, 0, 0, 0, 0))
		long[14+41] = 4 // header of 40 bytes in a payload of 8
		add(decodeCase{"ipv6 extension header past payload", LinkEthernet, long, SkipBadIPHeader, wantSeg{}})
		add(decodeCase{"ipv6 no next header", LinkEthernet, serialize(t, eth(layers.EthernetTypeIPv6), ipv6(ip6A, ip6B, layers.IPProtocolNoNextHeader)),
			SkipOtherIPProto, wantSeg{}})
	}

	// Layer-2 encapsulations.
	{
		ip := ipv4(ip4A, ip4B, layers.IPProtocolTCP)
		inner := serialize(t, ip, tcpOver(ip, 40000, 80, false, nil), payload(11))
		ip6 := ipv6(ip6A, ip6B, layers.IPProtocolTCP)
		inner6 := serialize(t, ip6, tcpOver(ip6, 40000, 443, false, nil), payload(11))
		pppoe := func(proto uint16, ip []byte) []byte {
			return cat([]byte{0x11, 0}, u16(0x1234), u16(uint16(len(ip)+2)), u16(proto), ip)
		}
		add(decodeCase{"pppoe over qinq", LinkEthernet, serialize(t, eth(layers.EthernetTypeQinQ), vlan(1, layers.EthernetTypeDot1Q),
			vlan(2, layers.EthernetTypePPPoESession), raw(pppoe(0x21, inner)...)), SkipNone, plain4(11)})
		add(decodeCase{"pppoe ipv6", LinkEthernet, serialize(t, eth(layers.EthernetTypePPPoESession), raw(pppoe(0x57, inner6)...)),
			SkipNone, plain6(11)})
		add(decodeCase{"pppoe lcp", LinkEthernet, serialize(t, eth(layers.EthernetTypePPPoESession), raw(pppoe(0xc021, payload(10))...)),
			SkipNotIP, wantSeg{}})
		add(decodeCase{"pppoe version 2", LinkEthernet, serialize(t, eth(layers.EthernetTypePPPoESession),
			raw(mut(pppoe(0x21, inner), func(b []byte) { b[0] = 0x21 })...)), SkipBadLinkHeader, wantSeg{}})
		add(decodeCase{"mpls two labels", LinkEthernet, serialize(t, eth(layers.EthernetTypeMPLSUnicast), &layers.MPLS{Label: 100, TTL: 64},
			&layers.MPLS{Label: 200, StackBottom: true, TTL: 64}, raw(inner...)), SkipNone, plain4(11)})
		add(decodeCase{"mpls in vlan ipv6", LinkEthernet, serialize(t, eth(layers.EthernetTypeDot1Q), vlan(5, layers.EthernetTypeMPLSUnicast),
			&layers.MPLS{Label: 2, StackBottom: true, TTL: 64}, raw(inner6...)), SkipNone, plain6(11)})
		add(decodeCase{"mpls pseudowire", LinkEthernet, serialize(t, eth(layers.EthernetTypeMPLSUnicast),
			&layers.MPLS{Label: 2, StackBottom: true, TTL: 64}, raw(0, 0, 0, 0), payload(60)), SkipNotIP, wantSeg{}})
		add(decodeCase{"mpls cut", LinkEthernet, serialize(t, eth(layers.EthernetTypeMPLSUnicast), &layers.MPLS{Label: 2, TTL: 64})[:20],
			SkipTruncated, wantSeg{}})
		snap := []byte{0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00}
		add(decodeCase{"fddi llc snap", LinkFDDI, cat([]byte{0x50}, macA, macB, snap, inner), SkipNone, plain4(11)})
		add(decodeCase{"fddi smt frame", LinkFDDI, cat([]byte{0x41}, macA, macB, payload(40)), SkipNotIP, wantSeg{}})
		add(decodeCase{"802.3 llc snap", LinkEthernet, cat(macB, macA, u16(uint16(len(snap)+len(inner))), snap, inner), SkipNone, plain4(11)})
		add(decodeCase{"cisco fabricpath", LinkEthernet, serialize(t, eth(etherTypeFabricPath), raw(0x00, 0x20),
			eth(layers.EthernetTypeIPv4), raw(inner...)), SkipNone, plain4(11)})
	}

	// Tunnels.
	{
		ip := ipv4(net.IP{100, 64, 0, 1}, net.IP{100, 64, 0, 2}, layers.IPProtocolTCP)
		inner := serialize(t, ip, tcpOver(ip, 5000, 80, false, nil), payload(11))
		innerWant := wantSeg{src: "100.64.0.1:5000", dst: "100.64.0.2:80", payloadLen: 11, ipLen: 51}
		ip6 := ipv6(ip6A, ip6B, layers.IPProtocolTCP)
		inner6 := serialize(t, ip6, tcpOver(ip6, 40000, 443, false, nil), payload(11))
		udpIn := func(sport, dport uint16, body []byte) []byte {
			outer := ipv4(ip4A, ip4B, layers.IPProtocolUDP)
			udp := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
			udp.SetNetworkLayerForChecksum(outer)
			return serialize(t, eth(layers.EthernetTypeIPv4), outer, udp, raw(body...))
		}
		gtp := func(flags byte, opt []byte, body []byte) []byte {
			return cat([]byte{flags, 0xff}, u16(uint16(len(opt)+len(body))), u32(0xabcd), opt, body)
		}
		add(decodeCase{"gtp-u", LinkEthernet, udpIn(2152, 2152, gtp(0x30, nil, inner)), SkipNone, innerWant})
		add(decodeCase{"gtp-u one side", LinkEthernet, udpIn(5906, 2152, gtp(0x30, nil, inner)), SkipNone, innerWant})
		add(decodeCase{"gtp-u sequence number", LinkEthernet, udpIn(2152, 2152, gtp(0x32, []byte{0, 1, 0, 0}, inner6)), SkipNone, plain6(11)})
		ext := []byte{0, 0, 0, 0x85, 1, 0x10, 0x05, 0}
		add(decodeCase{"gtp-u extension header", LinkEthernet, udpIn(2152, 2152, gtp(0x34, ext, inner)), SkipNone, innerWant})
		badExt := []byte{0, 0, 0, 0x85, 0, 0x10, 0x05, 0}
		add(decodeCase{"gtp-u extension header length 0", LinkEthernet, udpIn(2152, 2152, gtp(0x34, badExt, inner)), SkipBadEncapsulation, wantSeg{}})
		echo := cat([]byte{0x32, 1}, u16(4), u32(0), []byte{0, 1, 0, 0})
		add(decodeCase{"gtp echo request", LinkEthernet, udpIn(2152, 2152, echo), SkipUDP, wantSeg{}})
		add(decodeCase{"gtp-u headers only", LinkEthernet, udpIn(2152, 2152, gtp(0x30, nil, inner))[:14+20+8+8+30], SkipTruncated, wantSeg{}})
		{
			outer := ipv4(ip4A, ip4B, layers.IPProtocolUDP)
			outer.Flags = layers.IPv4MoreFragments
			frag := serialize(t, eth(layers.EthernetTypeIPv4), outer, raw(cat(u16(2152), u16(2152), u16(8+8+uint16(len(inner))+500), u16(0),
				gtp(0x30, nil, cat(inner, make([]byte, 500))))[:8+8+60]...))
			add(decodeCase{"gtp-u in first fragment", LinkEthernet, frag, SkipNone, innerWant})
		}
		teredo := func(prefix, ip []byte) []byte { return udpIn(3544, 50000, cat(prefix, ip)) }
		add(decodeCase{"teredo", LinkEthernet, teredo(nil, inner6), SkipNone, plain6(11)})
		add(decodeCase{"teredo origin indication", LinkEthernet, teredo([]byte{0, 0, 0xf2, 0x27, 0xbe, 0xff, 0xfe, 0xfd}, inner6), SkipNone, plain6(11)})
		add(decodeCase{"teredo authentication and origin", LinkEthernet, teredo(cat([]byte{0, 1, 0, 0}, make([]byte, 9),
			[]byte{0, 0, 0xf2, 0x27, 0xbe, 0xff, 0xfe, 0xfd}), inner6), SkipNone, plain6(11)})
		add(decodeCase{"teredo length mismatch", LinkEthernet, teredo(nil, cat(inner6, []byte{1, 2})), SkipUDP, wantSeg{}})
		add(decodeCase{"udp on teredo port", LinkEthernet, udpIn(3544, 3544, payload(50)), SkipUDP, wantSeg{}})
		outer := ipv4(ip4A, ip4B, layers.IPProtocolIPv4)
		add(decodeCase{"ip in ip", LinkEthernet, serialize(t, eth(layers.EthernetTypeIPv4), outer, raw(inner...)), SkipNone, innerWant})
		outer6in4 := ipv4(ip4A, ip4B, layers.IPProtocolIPv6)
		add(decodeCase{"6in4", LinkEthernet, serialize(t, eth(layers.EthernetTypeIPv4), outer6in4, raw(inner6...)), SkipNone, plain6(11)})
		outer4in6 := ipv6(ip6A, ip6B, layers.IPProtocolIPv4)
		add(decodeCase{"4in6", LinkEthernet, serialize(t, eth(layers.EthernetTypeIPv6), outer4in6, raw(inner...)), SkipNone, innerWant})
		nested := inner
		for range 30 {
			nested = serialize(t, ipv4(ip4A, ip4B, layers.IPProtocolIPv4), raw(nested...))
		}
		add(decodeCase{"too deep", LinkRaw, nested, SkipBadEncapsulation, wantSeg{}})
	}
	return cases
}

// TestDecode runs every case through the fast path (where it applies) and
// the gopacket path, which must agree with the expectation and each other.
func TestDecode(t *testing.T) {
	fast, slow := decoders(true)
	for _, c := range decodeCases(t) {
		t.Run(c.name, func(t *testing.T) {
			for _, d := range []*Decoder{fast, slow} {
				var seg tracker.Segment
				seg.Time, seg.Frame = 42, 7
				r := d.Decode(c.link, c.data, &seg)
				if r != c.want {
					t.Fatalf("noFastPath=%v: got %v, want %v", d.noFastPath, r, c.want)
				}
				if seg.Time != 42 || seg.Frame != 7 {
					t.Errorf("Decode changed Time or Frame")
				}
				if r == SkipNone {
					c.seg.check(t, &seg)
				}
			}
		})
	}
}

// TestDecodeFields checks every field of one segment.
func TestDecodeFields(t *testing.T) {
	ip := ipv4(ip4A, ip4B, layers.IPProtocolTCP)
	ip.TTL, ip.Id = 57, 0xbeef
	tcp := tcpOver(ip, 40000, 80, false, nil)
	tcp.Seq, tcp.Ack, tcp.Window = 0xfffffff0, 0x12345678, 1234
	tcp.FIN, tcp.RST, tcp.URG, tcp.ECE, tcp.CWR = true, true, true, true, true
	tcp.Options = []layers.TCPOption{{OptionType: layers.TCPOptionKindSACK, OptionLength: 10, OptionData: []byte{0xff, 0xff, 0xff, 0x00, 0, 0, 0, 0x10}}}
	data := serialize(t, eth(layers.EthernetTypeIPv4), ip, tcp, payload(3))
	want := tracker.Segment{
		Src: tracker.Endpoint{Addr: tracker.AddrFrom4([4]byte{10, 0, 0, 1}), Port: 40000},
		Dst: tracker.Endpoint{Addr: tracker.AddrFrom4([4]byte{192, 168, 1, 2}), Port: 80},
		Seq: 0xfffffff0, Ack: 0x12345678,
		Flags:  tracker.FlagFIN | tracker.FlagRST | tracker.FlagPSH | tracker.FlagACK | tracker.FlagURG | tracker.FlagECE | tracker.FlagCWR,
		Window: 1234, PayloadLen: 3, IPLen: 20 + 32 + 3, Opts: tracker.OptSACK,
		SACKLeft: 0xffffff00, SACKRight: 0x10, TTL: 57, IPID: 0xbeef,
	}
	fast, slow := decoders(true)
	for _, d := range []*Decoder{fast, slow} {
		var seg tracker.Segment
		if r := d.Decode(LinkEthernet, data, &seg); r != SkipNone {
			t.Fatal(r)
		}
		if seg != want {
			t.Errorf("noFastPath=%v:\n got %+v\nwant %+v", d.noFastPath, seg, want)
		}
	}
}

// TestDecodeTTL checks the TTL (hop limit) and IP ID of the innermost IP
// header on both paths: IPv4, IPv6 (no ID), and IPv6 inside IPv4, where
// the outer header's TTL and ID must not leak through.
func TestDecodeTTL(t *testing.T) {
	v4 := ipv4(ip4A, ip4B, layers.IPProtocolTCP)
	v4.TTL, v4.Id = 3, 0x1234
	v6 := ipv6(ip6A, ip6B, layers.IPProtocolTCP)
	v6.HopLimit = 250
	outer := ipv4(ip4A, ip4B, layers.IPProtocolIPv6)
	outer.TTL, outer.Id = 9, 0x9999
	inner := ipv6(ip6A, ip6B, layers.IPProtocolTCP)
	inner.HopLimit = 17
	for _, c := range []struct {
		name string
		data []byte
		ttl  uint8
		id   uint16
	}{
		{"ipv4", serialize(t, eth(layers.EthernetTypeIPv4), v4, tcpOver(v4, 1, 2, false, nil)), 3, 0x1234},
		{"ipv6", serialize(t, eth(layers.EthernetTypeIPv6), v6, tcpOver(v6, 1, 2, false, nil)), 250, 0},
		{"6in4", serialize(t, eth(layers.EthernetTypeIPv4), outer, inner, tcpOver(inner, 1, 2, false, nil)), 17, 0},
	} {
		fast, slow := decoders(false)
		for _, d := range []*Decoder{fast, slow} {
			var seg tracker.Segment
			if r := d.Decode(LinkEthernet, c.data, &seg); r != SkipNone {
				t.Fatalf("%s: %v", c.name, r)
			}
			if seg.TTL != c.ttl || seg.IPID != c.id {
				t.Errorf("%s noFastPath=%v: TTL %d IPID %#x, want %d %#x", c.name, d.noFastPath, seg.TTL, seg.IPID, c.ttl, c.id)
			}
		}
	}
}

func TestSkipReasonNames(t *testing.T) {
	seen := map[string]bool{}
	for r := SkipReason(0); r < NumSkipReasons; r++ {
		n := r.String()
		if n == "" || seen[n] || n == "unknown-skip-reason" {
			t.Errorf("reason %d has name %q", r, n)
		}
		seen[n] = true
	}
	if NumSkipReasons.String() != "unknown-skip-reason" {
		t.Error("out of range reason")
	}
}

func TestLinkTypeName(t *testing.T) {
	for l, want := range map[LinkType]string{LinkEthernet: "EN10MB", LinkLinuxSLL2: "LINUX_SLL2", LinkRaw: "RAW", 147: "LINKTYPE_147"} {
		if got := LinkTypeName(l); got != want {
			t.Errorf("LinkTypeName(%d) = %q, want %q", l, got, want)
		}
	}
}
