package capture

import (
	"testing"

	"github.com/gopacket/gopacket/layers"

	"github.com/wirestate/wirestate/tracker"
)

// benchPackets are the common packets the allocation tests and benchmarks
// decode.
func benchPackets(t testing.TB) []struct {
	name string
	link LinkType
	data []byte
} {
	return []struct {
		name string
		link LinkType
		data []byte
	}{
		{"ethernet-ipv4", LinkEthernet, ipv4TCP(t, 1400, nil)},
		{"ethernet-ipv4-syn", LinkEthernet, ipv4TCP(t, 0, synOptions())},
		{"vlan-ipv6", LinkEthernet, vlanIPv6TCP(t, 1400)},
		{"sll2-ipv4", LinkLinuxSLL2, sll2IPv4TCP(t, 1400)},
		{"headers-only-ipv4", LinkEthernet, ipv4TCP(t, 1400, synOptions()[:3])[:64]},
	}
}

// TestDecodeDoesNotAllocate fails on any allocation in Decode, on the fast
// path and on the gopacket path, with and without checksum validation.
func TestDecodeDoesNotAllocate(t *testing.T) {
	for _, validate := range []bool{false, true} {
		fast, slow := decoders(validate)
		for _, p := range benchPackets(t) {
			for _, d := range []*Decoder{fast, slow} {
				var seg tracker.Segment
				allocs := testing.AllocsPerRun(200, func() {
					if r := d.Decode(p.link, p.data, &seg); r != SkipNone {
						t.Fatalf("%s: %v", p.name, r)
					}
				})
				if allocs != 0 {
					t.Errorf("%s (noFastPath=%v, checksums=%v): %v allocations per packet", p.name, d.noFastPath, validate, allocs)
				}
			}
		}
	}
}

// TestSkippedPacketsDoNotAllocate covers the common non-TCP packets.
func TestSkippedPacketsDoNotAllocate(t *testing.T) {
	ip := ipv4(ip4A, ip4B, layers.IPProtocolUDP)
	udp := &layers.UDP{SrcPort: 53, DstPort: 5353}
	udp.SetNetworkLayerForChecksum(ip)
	dns := serialize(t, eth(layers.EthernetTypeIPv4), ip, udp, payload(40))
	arp := serialize(t, eth(layers.EthernetTypeARP), payload(28))
	fast, slow := decoders(false)
	for _, d := range []*Decoder{fast, slow} {
		var seg tracker.Segment
		if a := testing.AllocsPerRun(100, func() { d.Decode(LinkEthernet, dns, &seg); d.Decode(LinkEthernet, arp, &seg) }); a != 0 {
			t.Errorf("noFastPath=%v: %v allocations", d.noFastPath, a)
		}
	}
}

// BenchmarkDecode measures Decode per packet kind and path.
func BenchmarkDecode(b *testing.B) {
	fast, slow := decoders(false)
	for _, p := range benchPackets(b) {
		for _, d := range []*Decoder{fast, slow} {
			path := "fast"
			if d.noFastPath {
				path = "gopacket"
			}
			if p.link != LinkEthernet && path == "fast" {
				continue
			}
			b.Run(p.name+"/"+path, func(b *testing.B) {
				var seg tracker.Segment
				b.ReportAllocs()
				b.SetBytes(int64(len(p.data)))
				for b.Loop() {
					d.Decode(p.link, p.data, &seg)
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "packets/s")
			})
		}
	}
}
