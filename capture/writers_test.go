package capture

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/wirestate/wirestate/tracker"
)

// Helpers that write capture files byte by byte, so that tests control
// every field, including broken ones.

// testPacket is one packet to write: its time in nanoseconds, its bytes,
// and its original length (0 means len(data)).
type testPacket struct {
	ts    int64
	data  []byte
	wire  int
	iface int // pcapng interface
}

// pcapFile returns a classic pcap file.
func pcapFile(order binary.AppendByteOrder, nanos bool, link LinkType, snaplen uint32, pkts []testPacket) []byte {
	var b []byte
	magic := uint32(pcapMagicMicros)
	if nanos {
		magic = pcapMagicNanos
	}
	b = order.AppendUint32(b, magic)
	b = order.AppendUint16(b, 2)
	b = order.AppendUint16(b, 4)
	b = order.AppendUint32(b, 0)
	b = order.AppendUint32(b, 0)
	b = order.AppendUint32(b, snaplen)
	b = order.AppendUint32(b, uint32(link))
	for _, p := range pkts {
		frac := p.ts % 1e9
		if !nanos {
			frac /= 1000
		}
		wire := p.wire
		if wire == 0 {
			wire = len(p.data)
		}
		b = order.AppendUint32(b, uint32(p.ts/1e9))
		b = order.AppendUint32(b, uint32(frac))
		b = order.AppendUint32(b, uint32(len(p.data)))
		b = order.AppendUint32(b, uint32(wire))
		b = append(b, p.data...)
	}
	return b
}

// ngInterface describes a pcapng interface; tsresol 0 leaves the default
// (microseconds).
type ngInterface struct {
	link    LinkType
	snaplen uint32
	tsresol byte
}

// ngBlock returns a pcapng block of type typ with body.
func ngBlock(order binary.AppendByteOrder, typ uint32, body []byte) []byte {
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	n := uint32(12 + len(body))
	b := order.AppendUint32(nil, typ)
	b = order.AppendUint32(b, n)
	b = append(b, body...)
	return order.AppendUint32(b, n)
}

// ngSection returns a section header and interface blocks.
func ngSection(order binary.AppendByteOrder, ifaces []ngInterface) []byte {
	shb := order.AppendUint32(nil, ngByteOrderMagic)
	shb = order.AppendUint16(shb, 1)
	shb = order.AppendUint16(shb, 0)
	shb = order.AppendUint64(shb, ^uint64(0))
	b := ngBlock(order, ngBlockSectionHeader, shb)
	for _, i := range ifaces {
		idb := order.AppendUint16(nil, uint16(i.link))
		idb = order.AppendUint16(idb, 0)
		idb = order.AppendUint32(idb, i.snaplen)
		if i.tsresol != 0 {
			idb = order.AppendUint16(idb, 9)
			idb = order.AppendUint16(idb, 1)
			idb = append(idb, i.tsresol, 0, 0, 0)
			idb = append(idb, 0, 0, 0, 0) // end of options
		}
		b = append(b, ngBlock(order, ngBlockInterface, idb)...)
	}
	return b
}

// ngPackets returns enhanced packet blocks; ts is in units of the
// interface's resolution.
func ngPackets(order binary.AppendByteOrder, pkts []testPacket, units func(p testPacket) uint64) []byte {
	var b []byte
	for _, p := range pkts {
		ts := units(p)
		wire := p.wire
		if wire == 0 {
			wire = len(p.data)
		}
		epb := order.AppendUint32(nil, uint32(p.iface))
		epb = order.AppendUint32(epb, uint32(ts>>32))
		epb = order.AppendUint32(epb, uint32(ts))
		epb = order.AppendUint32(epb, uint32(len(p.data)))
		epb = order.AppendUint32(epb, uint32(wire))
		epb = append(epb, p.data...)
		b = append(b, ngBlock(order, ngBlockEnhanced, epb)...)
	}
	return b
}

// pcapngFile returns a one-section pcapng file with one Ethernet interface
// of microsecond resolution.
func pcapngFile(order binary.AppendByteOrder, pkts []testPacket) []byte {
	b := ngSection(order, []ngInterface{{link: LinkEthernet, snaplen: 65535}})
	return append(b, ngPackets(order, pkts, func(p testPacket) uint64 { return uint64(p.ts / 1000) })...)
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// writeFile writes content to name in dir and returns the path.
func writeFile(t testing.TB, dir, name string, content []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, content, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// readAll reads every segment of the named inputs and checks that the
// counters add up.
func readAll(t testing.TB, names []string, opts FileOptions) ([]tracker.Segment, Stats, error) {
	t.Helper()
	s, err := Open(names, opts)
	if err != nil {
		return nil, Stats{}, err
	}
	defer s.Close()
	var segs []tracker.Segment
	for {
		var seg tracker.Segment
		err := s.Next(&seg)
		if err == io.EOF {
			break
		}
		if err != nil {
			return segs, s.Stats(), err
		}
		segs = append(segs, seg)
	}
	st := s.Stats()
	sum := st.TCPSegments
	for _, n := range st.Skipped {
		sum += n
	}
	if sum != st.Packets {
		t.Errorf("Packets %d != TCPSegments + skipped %d", st.Packets, sum)
	}
	if err := s.Next(new(tracker.Segment)); err != io.EOF {
		t.Errorf("Next after the end = %v, want io.EOF", err)
	}
	return segs, st, nil
}

// tcpPacketPort is an Ethernet/IPv4/TCP packet from source port sport.
func tcpPacketPort(t testing.TB, sport uint16) []byte {
	b := ipv4TCP(t, 10, nil)
	binary.BigEndian.PutUint16(b[34:36], sport)
	return b
}

func arpPacket(t testing.TB) []byte {
	return cat(macB, macA, u16(0x0806), make([]byte, 46))
}
