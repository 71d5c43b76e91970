package capture

import (
	"encoding/binary"
	"io"
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/wirestate/wirestate/tracker"
)

// compareDecoders decodes data with both paths and reports any difference.
func compareDecoders(t *testing.T, fast, slow *Decoder, link LinkType, data []byte, what string) bool {
	t.Helper()
	var a, b tracker.Segment
	ra := fast.Decode(link, data, &a)
	rb := slow.Decode(link, data, &b)
	if ra != rb {
		t.Errorf("%s: fast path says %v, gopacket path %v\n% x", what, ra, rb, data)
		return false
	}
	if ra == SkipNone && a != b {
		t.Errorf("%s: segments differ\n fast %+v\n slow %+v\n% x", what, a, b, data)
		return false
	}
	return true
}

// randomTCPOptions returns a random option list (never MPTCP, whose
// sub-option checks gopacket applies and the decoder does not need).
func randomTCPOptions(rng *rand.Rand) []layers.TCPOption {
	pool := []layers.TCPOption{
		{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{0x05, byte(rng.IntN(256))}},
		{OptionType: layers.TCPOptionKindSACKPermitted, OptionLength: 2},
		{OptionType: layers.TCPOptionKindTimestamps, OptionLength: 10, OptionData: []byte{1, 2, 3, byte(rng.IntN(256)), 5, 6, 7, 8}},
		{OptionType: layers.TCPOptionKindNop, OptionLength: 1},
		{OptionType: layers.TCPOptionKindWindowScale, OptionLength: 3, OptionData: []byte{byte(rng.IntN(15))}},
		{OptionType: layers.TCPOptionKindSACK, OptionLength: 18, OptionData: make([]byte, 16)},
		{OptionType: 254, OptionLength: 4, OptionData: []byte{0xf9, 0x89}},
	}
	n := rng.IntN(6)
	var opts []layers.TCPOption
	size := 0
	for range n {
		o := pool[rng.IntN(len(pool))]
		if size+int(o.OptionLength) > 40 {
			break
		}
		size += int(o.OptionLength)
		opts = append(opts, o)
	}
	return opts
}

// randomPacket builds a varied Ethernet packet: VLAN tags, IPv4 (with or
// without options and fragment bits) or IPv6, TCP with random options and
// flags, or UDP and ICMP; then maybe truncates it or overwrites a header
// byte.
func randomPacket(t *testing.T, rng *rand.Rand) []byte {
	var ls []gopacket.SerializableLayer
	tags := rng.IntN(4)
	etherTypes := []layers.EthernetType{}
	for range tags {
		if rng.IntN(2) == 0 {
			etherTypes = append(etherTypes, layers.EthernetTypeDot1Q)
		} else {
			etherTypes = append(etherTypes, layers.EthernetTypeQinQ)
		}
	}
	v6 := rng.IntN(3) == 0
	ipType := layers.EthernetTypeIPv4
	if v6 {
		ipType = layers.EthernetTypeIPv6
	}
	etherTypes = append(etherTypes, ipType)
	ls = append(ls, eth(etherTypes[0]))
	for i := 1; i < len(etherTypes); i++ {
		ls = append(ls, vlan(uint16(i), etherTypes[i]))
	}
	proto := layers.IPProtocolTCP
	switch rng.IntN(10) {
	case 0:
		proto = layers.IPProtocolUDP
	case 1:
		proto = layers.IPProtocolICMPv4
	}
	var netLayer gopacket.NetworkLayer
	if v6 {
		ip := ipv6(ip6A, ip6B, proto)
		ip.HopLimit = uint8(rng.IntN(256))
		ls, netLayer = append(ls, ip), ip
	} else {
		ip := ipv4(ip4A, ip4B, proto)
		ip.TTL, ip.Id = uint8(rng.IntN(256)), uint16(rng.IntN(65536))
		if rng.IntN(5) == 0 {
			ip.Options = []layers.IPv4Option{{OptionType: 148, OptionLength: 4, OptionData: []byte{0, 0}}}
		}
		if rng.IntN(8) == 0 {
			ip.Flags = layers.IPv4MoreFragments
		}
		if rng.IntN(16) == 0 {
			ip.FragOffset = uint16(rng.IntN(100))
		}
		ls, netLayer = append(ls, ip), ip
	}
	switch proto {
	case layers.IPProtocolTCP:
		tcp := tcpOver(netLayer, uint16(rng.IntN(65536)), uint16(rng.IntN(65536)), false, randomTCPOptions(rng))
		tcp.Seq, tcp.Ack, tcp.Window = rng.Uint32(), rng.Uint32(), uint16(rng.IntN(65536))
		f := rng.IntN(256)
		tcp.FIN, tcp.SYN, tcp.RST, tcp.PSH = f&1 != 0, f&2 != 0, f&4 != 0, f&8 != 0
		tcp.ACK, tcp.URG, tcp.ECE, tcp.CWR = f&16 != 0, f&32 != 0, f&64 != 0, f&128 != 0
		ls = append(ls, tcp)
	case layers.IPProtocolUDP:
		ports := []uint16{53, 443, udpPortGTPU, udpPortTeredo}
		udp := &layers.UDP{SrcPort: layers.UDPPort(ports[rng.IntN(4)]), DstPort: layers.UDPPort(ports[rng.IntN(4)])}
		udp.SetNetworkLayerForChecksum(netLayer)
		ls = append(ls, udp)
	default:
		ls = append(ls, raw(8, 0, 0, 0, 0, 1, 0, 1))
	}
	ls = append(ls, payload(rng.IntN(1500)))
	data := serialize(t, ls...)
	if rng.IntN(3) == 0 {
		data = data[:rng.IntN(len(data)+1)]
	}
	if rng.IntN(3) == 0 && len(data) > 0 {
		i := rng.IntN(min(len(data), 14+4*tags+80))
		v := byte(rng.IntN(256))
		if v == byte(layers.TCPOptionKindMultipathTCP) {
			v++
		}
		data[i] = v
	}
	return data
}

// TestFastPathMatchesGopacket compares the two decoding paths field by
// field on many generated packets, well-formed and broken, as Ethernet
// frames and, without their Ethernet header, as raw IP (live capture on
// any).
func TestFastPathMatchesGopacket(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	fast, slow := decoders(true)
	n := 20000
	if testing.Short() {
		n = 2000
	}
	failures := 0
	for i := 0; i < n && failures < 10; i++ {
		p := randomPacket(t, rng)
		if !compareDecoders(t, fast, slow, LinkEthernet, p, "generated packet") {
			failures++
		}
		if len(p) > 14 && binary.BigEndian.Uint16(p[12:14]) != 0x8100 && !compareDecoders(t, fast, slow, LinkRaw, p[14:], "generated packet as raw IP") {
			failures++
		}
	}
}

// traceFiles lists the capture files under dir (recursively).
func traceFiles(dir string) []string {
	var files []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		name := strings.TrimSuffix(d.Name(), ".gz")
		if strings.HasSuffix(name, ".pcap") || strings.HasSuffix(name, ".pcapng") || strings.HasSuffix(name, ".cap") {
			files = append(files, p)
		}
		return nil
	})
	return files
}

// zeekCasesDir is where the shared Zeek conformance traces live, next to the
// repository.
const zeekCasesDir = "../../shared/zeek-conformance/cases"

// TestFastPathMatchesGopacketOnTraces compares the two decoding paths on
// every packet of the project's traces (pcaps/) and of the shared Zeek
// conformance cases, when those directories exist.
func TestFastPathMatchesGopacketOnTraces(t *testing.T) {
	for _, dir := range []string{"../pcaps", zeekCasesDir} {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			files := traceFiles(dir)
			if len(files) == 0 {
				t.Skipf("no capture files under %s", dir)
			}
			fast, slow := decoders(true)
			for _, f := range files {
				comparePacketsOfFile(t, fast, slow, f)
			}
		})
	}
}

func comparePacketsOfFile(t *testing.T, fast, slow *Decoder, name string) {
	var info FileInfo
	in, err := openInput(name, FileOptions{}, &info)
	if err != nil {
		t.Logf("%s: not compared: %v", name, err)
		return
	}
	defer in.closer.Close()
	var rec record
	failures := 0
	for i := 1; failures < 5; i++ {
		err := in.reader.next(&rec)
		if err == io.EOF || err == errTruncatedRecord {
			return
		}
		if err != nil {
			t.Logf("%s: packet %d: %v", name, i, err)
			return
		}
		if !compareDecoders(t, fast, slow, rec.link, rec.data, name+" packet "+strconv.Itoa(i)) {
			failures++
		}
	}
}

// TestDecodeDamagedPackets feeds every decode case, cut short and with
// random bytes overwritten, to both paths under every link type: nothing
// may panic (the gopacket path must not even recover from a panic), and on
// Ethernet and raw IP (the fast paths' link types) the two paths must
// agree.
func TestDecodeDamagedPackets(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	fast, slow := decoders(true)
	links := []LinkType{LinkEthernet, LinkLinuxSLL, LinkLinuxSLL2, LinkNull, LinkLoop, LinkRaw, LinkFDDI, LinkIPv4, LinkIPv6}
	rounds := 200
	if testing.Short() {
		rounds = 20
	}
	failures := 0
	for _, c := range decodeCases(t) {
		for range rounds {
			data := append([]byte(nil), c.data...)
			for range 1 + rng.IntN(3) {
				if len(data) > 0 {
					// Not the MPTCP option kind: gopacket stops reading options
					// at a malformed MPTCP option, the decoder skips it.
					v := byte(rng.IntN(256))
					if v == byte(layers.TCPOptionKindMultipathTCP) {
						v++
					}
					data[rng.IntN(min(len(data), 120))] = v
				}
			}
			if rng.IntN(3) == 0 {
				data = data[:rng.IntN(len(data)+1)]
			}
			link := c.link
			if rng.IntN(4) == 0 {
				link = links[rng.IntN(len(links))]
			}
			if link == LinkEthernet || link == LinkRaw {
				if failures < 10 && !compareDecoders(t, fast, slow, link, data, c.name+" damaged") {
					failures++
				}
			} else {
				var seg tracker.Segment
				slow.Decode(link, data, &seg)
			}
			for _, d := range []*Decoder{fast, slow} {
				if err := d.fallback.recovered; err != nil {
					t.Fatalf("%s: gopacket path recovered from %v\n% x", c.name, err, data)
				}
			}
		}
	}
}

// FuzzDecode checks that no input makes either path panic, or makes the
// gopacket path recover from a panic.
func FuzzDecode(f *testing.F) {
	for _, c := range decodeCases(f) {
		f.Add(uint32(c.link), c.data)
	}
	fast, slow := decoders(true)
	f.Fuzz(func(t *testing.T, link uint32, data []byte) {
		var seg tracker.Segment
		fast.Decode(LinkType(link), data, &seg)
		slow.Decode(LinkType(link), data, &seg)
		if err := slow.fallback.recovered; err != nil {
			t.Fatalf("gopacket path recovered from %v", err)
		}
		if err := fast.fallback.recovered; err != nil {
			t.Fatalf("gopacket path recovered from %v", err)
		}
	})
}
