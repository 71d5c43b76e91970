package capture

import (
	"encoding/binary"
	"io"
	"os"
	"testing"

	"github.com/gopacket/gopacket/pcapgo"

	"github.com/wirestate/wirestate/tracker"
)

// benchFile writes a capture of n packets, a mix of full-size, small and
// SYN segments, in the given format, and returns its path.
func benchFile(b *testing.B, format string, n int) string {
	kinds := [][]byte{ipv4TCP(b, 1400, nil), ipv4TCP(b, 0, nil), ipv4TCP(b, 0, synOptions()), vlanIPv6TCP(b, 600)}
	pkts := make([]testPacket, n)
	for i := range pkts {
		pkts[i] = testPacket{ts: 1.7e18 + int64(i)*1000, data: kinds[i%len(kinds)]}
	}
	le := binary.LittleEndian
	var content []byte
	switch format {
	case "pcap":
		content = pcapFile(le, false, LinkEthernet, 65535, pkts)
	case "pcap.gz":
		content = gzipped(pcapFile(le, false, LinkEthernet, 65535, pkts))
	case "pcapng":
		content = pcapngFile(le, pkts)
	case "pcapng-sll2":
		sll := sll2IPv4TCP(b, 1400)
		for i := range pkts {
			pkts[i].data = sll
		}
		content = cat(ngSection(le, []ngInterface{{link: LinkLinuxSLL2, snaplen: 65535}}),
			ngPackets(le, pkts, func(p testPacket) uint64 { return uint64(p.ts / 1000) }))
	}
	return writeFile(b, b.TempDir(), "bench."+format, content)
}

// BenchmarkReadFile measures reading and decoding a file end to end, per
// packet: one op is one Next call (the file is reopened when it ends, which
// costs a negligible share over 100000 packets).
func BenchmarkReadFile(b *testing.B) {
	for _, format := range []string{"pcap", "pcap.gz", "pcapng", "pcapng-sll2"} {
		b.Run(format, func(b *testing.B) {
			path := benchFile(b, format, 100000)
			s, err := Open([]string{path}, FileOptions{})
			if err != nil {
				b.Fatal(err)
			}
			var seg tracker.Segment
			b.ReportAllocs()
			for b.Loop() {
				if err := s.Next(&seg); err == io.EOF {
					s.Close()
					if s, err = Open([]string{path}, FileOptions{}); err != nil {
						b.Fatal(err)
					}
				} else if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "packets/s")
		})
	}
}

// BenchmarkPcapReaders compares the hand-written classic pcap record reader
// with pcapgo.Reader's ZeroCopyReadPacketData, per record.
func BenchmarkPcapReaders(b *testing.B) {
	path := benchFile(b, "pcap", 100000)
	b.Run("hand-written", func(b *testing.B) {
		var info FileInfo
		in, err := openInput(path, FileOptions{}, &info)
		if err != nil {
			b.Fatal(err)
		}
		var rec record
		b.ReportAllocs()
		for b.Loop() {
			if err := in.reader.next(&rec); err == io.EOF {
				in.closer.Close()
				in, _ = openInput(path, FileOptions{}, &info)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "packets/s")
	})
	b.Run("pcapgo", func(b *testing.B) {
		f, _ := os.Open(path)
		r, err := pcapgo.NewReader(f)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := r.ZeroCopyReadPacketData(); err == io.EOF {
				f.Close()
				f, _ = os.Open(path)
				r, _ = pcapgo.NewReader(f)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "packets/s")
	})
}
