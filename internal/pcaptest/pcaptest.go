// Package pcaptest reads and writes small pcap files for tests.
package pcaptest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Packet is one packet of a capture.
type Packet struct {
	CI   gopacket.CaptureInfo
	Data []byte
}

// Read returns the link type, snapshot length and packets of the
// pcap file at path.
func Read(t testing.TB, path string) (layers.LinkType, uint32, []Packet) {
	t.Helper()
	in, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	r, err := pcapgo.NewReader(in)
	if err != nil {
		t.Fatal(err)
	}
	var pkts []Packet
	for {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			break
		}
		pkts = append(pkts, Packet{ci, append([]byte(nil), data...)})
	}
	if len(pkts) == 0 {
		t.Fatalf("%s holds no packet", path)
	}
	return r.LinkType(), r.Snaplen(), pkts
}

// Write writes pkts to a new pcap file named name in a temporary
// directory and returns its path.
func Write(t testing.TB, name string, link layers.LinkType, snaplen uint32, pkts []Packet) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	w := pcapgo.NewWriterNanos(out)
	if err := w.WriteFileHeader(snaplen, link); err != nil {
		t.Fatal(err)
	}
	for _, p := range pkts {
		if err := w.WritePacket(p.CI, p.Data); err != nil {
			t.Fatal(err)
		}
	}
	return path
}
