package capture

import (
	"bytes"
	"encoding/binary"
	"net"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Helpers that build test packets with gopacket's serializers; headers
// gopacket cannot write are raw gopacket.Payload layers.

var (
	macA = net.HardwareAddr{0x02, 0, 0, 0, 0, 1}
	macB = net.HardwareAddr{0x02, 0, 0, 0, 0, 2}
	ip4A = net.IP{10, 0, 0, 1}
	ip4B = net.IP{192, 168, 1, 2}
	ip6A = net.ParseIP("2001:db8::1")
	ip6B = net.ParseIP("2001:db8:ffff::2")
)

// serialize builds a packet from layers, fixing lengths and checksums.
func serialize(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatalf("serialize: %v", err)
	}
	return bytes.Clone(buf.Bytes())
}

func eth(t layers.EthernetType) *layers.Ethernet {
	return &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: t}
}

func vlan(id uint16, t layers.EthernetType) *layers.Dot1Q {
	return &layers.Dot1Q{VLANIdentifier: id, Type: t}
}

func ipv4(src, dst net.IP, proto layers.IPProtocol) *layers.IPv4 {
	return &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: proto, SrcIP: src, DstIP: dst, Id: 77}
}

func ipv6(src, dst net.IP, next layers.IPProtocol) *layers.IPv6 {
	return &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: next, SrcIP: src, DstIP: dst}
}

// synOptions are the options of a Linux SYN.
func synOptions() []layers.TCPOption {
	return []layers.TCPOption{
		{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{0x05, 0xb4}},
		{OptionType: layers.TCPOptionKindSACKPermitted, OptionLength: 2},
		{OptionType: layers.TCPOptionKindTimestamps, OptionLength: 10, OptionData: []byte{0, 0, 0x30, 0x39, 0, 0, 0, 7}},
		{OptionType: layers.TCPOptionKindNop, OptionLength: 1},
		{OptionType: layers.TCPOptionKindWindowScale, OptionLength: 3, OptionData: []byte{7}},
	}
}

// tcpOver returns a TCP header whose checksum is computed over net.
func tcpOver(net gopacket.NetworkLayer, sport, dport uint16, syn bool, opts []layers.TCPOption) *layers.TCP {
	tcp := &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), Seq: 1000, Ack: 2000,
		SYN: syn, ACK: !syn, PSH: !syn, Window: 65535, Options: opts}
	if net != nil {
		tcp.SetNetworkLayerForChecksum(net)
	}
	return tcp
}

func payload(n int) gopacket.Payload {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i * 7)
	}
	return p
}

// raw is a header gopacket cannot serialize, written as bytes.
func raw(b ...byte) gopacket.Payload { return gopacket.Payload(b) }

// u16 and u32 write big-endian numbers.
func u16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// ipv4TCP is an Ethernet/IPv4/TCP packet with n payload bytes.
func ipv4TCP(t testing.TB, n int, opts []layers.TCPOption) []byte {
	ip := ipv4(ip4A, ip4B, layers.IPProtocolTCP)
	return serialize(t, eth(layers.EthernetTypeIPv4), ip, tcpOver(ip, 40000, 80, opts != nil, opts), payload(n))
}

// vlanIPv6TCP is an Ethernet/802.1Q/IPv6/TCP packet with n payload bytes.
func vlanIPv6TCP(t testing.TB, n int) []byte {
	ip := ipv6(ip6A, ip6B, layers.IPProtocolTCP)
	return serialize(t, eth(layers.EthernetTypeDot1Q), vlan(10, layers.EthernetTypeIPv6), ip, tcpOver(ip, 40000, 443, false, nil), payload(n))
}

// sll2Header is a LINKTYPE_LINUX_SLL2 header for protocol proto.
func sll2Header(proto uint16) []byte {
	return cat(u16(proto), u16(0), u32(2), u16(1), []byte{0, 6}, []byte{2, 0, 0, 0, 0, 1, 0, 0})
}

// sllHeader is a LINKTYPE_LINUX_SLL header for protocol proto with a
// hardware address length of addrLen.
func sllHeader(proto uint16, addrLen uint16) []byte {
	return cat(u16(0), u16(1), u16(addrLen), []byte{2, 0, 0, 0, 0, 1, 0, 0}, u16(proto))
}

// sll2IPv4TCP is an SLL2/IPv4/TCP packet with n payload bytes.
func sll2IPv4TCP(t testing.TB, n int) []byte {
	ip := ipv4(ip4A, ip4B, layers.IPProtocolTCP)
	return serialize(t, raw(sll2Header(0x0800)...), ip, tcpOver(ip, 40000, 80, false, nil), payload(n))
}
