package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/wirestate/wirestate/tracker"
)

// threePackets are a TCP segment, an ARP frame and another TCP segment, at
// times with nanosecond digits.
func threePackets(t testing.TB) []testPacket {
	return []testPacket{
		{ts: 1700000000_123456789, data: tcpPacketPort(t, 1001)},
		{ts: 1700000001_000001999, data: arpPacket(t)},
		{ts: 1700000002_999999999, data: tcpPacketPort(t, 1003)},
	}
}

func TestOpenFormats(t *testing.T) {
	pkts := threePackets(t)
	le, be := binary.LittleEndian, binary.BigEndian
	viaPcapgo := func(nanos bool) []byte {
		var buf bytes.Buffer
		w := pcapgo.NewWriter(&buf)
		if nanos {
			w = pcapgo.NewWriterNanos(&buf)
		}
		w.WriteFileHeader(65535, layers.LinkTypeEthernet)
		for _, p := range pkts {
			w.WritePacket(gopacket.CaptureInfo{Timestamp: time.Unix(0, p.ts), CaptureLength: len(p.data), Length: len(p.data)}, p.data)
		}
		return buf.Bytes()
	}
	viaNgWriter := func() []byte {
		var buf bytes.Buffer
		w, err := pcapgo.NewNgWriter(&buf, layers.LinkTypeEthernet)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pkts {
			w.WritePacket(gopacket.CaptureInfo{Timestamp: time.Unix(0, p.ts), CaptureLength: len(p.data), Length: len(p.data)}, p.data)
		}
		w.Flush()
		return buf.Bytes()
	}
	cases := []struct {
		name       string
		content    []byte
		format     Format
		gzip       bool
		nanos, big bool
	}{
		{"pcap little-endian microseconds", pcapFile(le, false, LinkEthernet, 65535, pkts), FormatPcap, false, false, false},
		{"pcap big-endian microseconds", pcapFile(be, false, LinkEthernet, 65535, pkts), FormatPcap, false, false, true},
		{"pcap little-endian nanoseconds", pcapFile(le, true, LinkEthernet, 65535, pkts), FormatPcap, false, true, false},
		{"pcap big-endian nanoseconds", pcapFile(be, true, LinkEthernet, 65535, pkts), FormatPcap, false, true, true},
		{"pcapng little-endian", pcapngFile(le, pkts), FormatPcapNG, false, false, false},
		{"pcapng big-endian", pcapngFile(be, pkts), FormatPcapNG, false, false, false},
		{"gzip pcap", gzipped(pcapFile(le, true, LinkEthernet, 65535, pkts)), FormatPcap, true, true, false},
		{"gzip pcapng", gzipped(pcapngFile(be, pkts)), FormatPcapNG, true, false, false},
		{"pcapgo writer", viaPcapgo(false), FormatPcap, false, false, false},
		{"pcapgo nanosecond writer", viaPcapgo(true), FormatPcap, false, true, false},
		{"pcapgo ng writer", viaNgWriter(), FormatPcapNG, false, true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// The name says nothing: the format comes from the magic.
			path := writeFile(t, t.TempDir(), "capture.bin", c.content)
			segs, st, err := readAll(t, []string{path}, FileOptions{})
			if err != nil {
				t.Fatal(err)
			}
			fi := st.Files[0]
			if fi.Format != c.format || fi.Gzip != c.gzip || fi.Name != path {
				t.Errorf("file info %+v", fi)
			}
			if c.format == FormatPcap && (fi.Nanosecond != c.nanos || fi.BigEndian != c.big) {
				t.Errorf("nanos/big-endian = %v/%v, want %v/%v", fi.Nanosecond, fi.BigEndian, c.nanos, c.big)
			}
			if len(fi.LinkTypes) != 1 || fi.LinkTypes[0] != LinkEthernet || fi.Packets != 3 {
				t.Errorf("link types %v, packets %d", fi.LinkTypes, fi.Packets)
			}
			if len(segs) != 2 || st.Packets != 3 || st.TCPSegments != 2 || st.Skipped[SkipNotIP] != 1 {
				t.Fatalf("%d segments, stats %+v", len(segs), st)
			}
			for i, want := range []struct {
				frame uint64
				pkt   testPacket
			}{{1, pkts[0]}, {3, pkts[2]}} {
				wantTS := want.pkt.ts
				if !c.nanos {
					wantTS -= wantTS % 1000
				}
				if segs[i].Frame != want.frame || segs[i].Time != wantTS {
					t.Errorf("segment %d: frame %d time %d, want frame %d time %d", i, segs[i].Frame, segs[i].Time, want.frame, wantTS)
				}
			}
			if st.FirstTime != segs[0].Time || st.LastTime != segs[1].Time || st.BackwardsTimestamps != 0 {
				t.Errorf("times %d..%d backwards %d", st.FirstTime, st.LastTime, st.BackwardsTimestamps)
			}
			var size uint64
			for _, p := range pkts {
				size += uint64(len(p.data))
			}
			if st.Bytes != size || st.CapturedBytes != size {
				t.Errorf("bytes %d/%d, want %d", st.Bytes, st.CapturedBytes, size)
			}
		})
	}
}

// TestPcapngInterfaces reads a file with several interfaces, each with its
// own link type and timestamp resolution, and a second section in the
// other byte order.
func TestPcapngInterfaces(t *testing.T) {
	le, be := binary.LittleEndian, binary.BigEndian
	ip := ipv4(ip4A, ip4B, layers.IPProtocolTCP)
	rawTCP := serialize(t, ip, tcpOver(ip, 2002, 80, false, nil))
	ifaces := []ngInterface{
		{link: LinkEthernet, snaplen: 65535},                 // microseconds
		{link: LinkRaw, snaplen: 65535, tsresol: 9},          // nanoseconds
		{link: LinkLinuxSLL2, snaplen: 65535, tsresol: 0x8a}, // 2^-10 seconds
	}
	pkts := []testPacket{
		{iface: 0, ts: 1_500_000_000_000_001_000, data: tcpPacketPort(t, 2001)},
		{iface: 1, ts: 1_500_000_000_000_001_001, data: rawTCP},
		{iface: 2, ts: 1_500_000_000_500_000_000, data: sll2IPv4TCP(t, 3)},
	}
	units := func(p testPacket) uint64 {
		switch p.iface {
		case 0:
			return uint64(p.ts / 1000)
		case 1:
			return uint64(p.ts)
		}
		return uint64(p.ts/1e9)<<10 | uint64(p.ts%1e9)*1024/1e9
	}
	file := cat(ngSection(le, ifaces), ngPackets(le, pkts, units))
	second := []testPacket{{iface: 0, ts: 1_500_000_001_000_000_000, data: tcpPacketPort(t, 2004)}}
	file = append(file, cat(ngSection(be, ifaces[:1]), ngPackets(be, second, units))...)
	segs, st, err := readAll(t, []string{writeFile(t, t.TempDir(), "multi.pcapng", file)}, FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) != 4 {
		t.Fatalf("%d segments, stats %+v", len(segs), st)
	}
	for i, want := range []int64{pkts[0].ts, pkts[1].ts, pkts[2].ts, second[0].ts} {
		if segs[i].Time != want || segs[i].Frame != uint64(i+1) {
			t.Errorf("segment %d: time %d frame %d, want %d", i, segs[i].Time, segs[i].Frame, want)
		}
	}
	if got := st.Files[0].LinkTypes; len(got) != 3 || got[0] != LinkEthernet || got[1] != LinkRaw || got[2] != LinkLinuxSLL2 {
		t.Errorf("link types %v", got)
	}
}

// TestMerge merges two files in time order; equal times go to the file
// named first, and frames count the skipped packets too.
func TestMerge(t *testing.T) {
	dir := t.TempDir()
	le := binary.LittleEndian
	a := []testPacket{{ts: 1e9, data: tcpPacketPort(t, 1)}, {ts: 3e9, data: tcpPacketPort(t, 3)}, {ts: 5e9, data: tcpPacketPort(t, 5)}}
	b := []testPacket{{ts: 2e9, data: tcpPacketPort(t, 2)}, {ts: 3e9, data: tcpPacketPort(t, 33)},
		{ts: 3500e6, data: arpPacket(t)}, {ts: 4e9, data: tcpPacketPort(t, 4)}}
	pa := writeFile(t, dir, "a.pcap", pcapFile(le, false, LinkEthernet, 65535, a))
	pb := writeFile(t, dir, "b.pcapng", pcapngFile(le, b))
	segs, st, err := readAll(t, []string{pa, pb}, FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantPorts := []uint16{1, 2, 3, 33, 4, 5}
	wantFrames := []uint64{1, 2, 3, 4, 6, 7}
	if len(segs) != len(wantPorts) {
		t.Fatalf("%d segments", len(segs))
	}
	for i := range segs {
		if segs[i].Src.Port != wantPorts[i] || segs[i].Frame != wantFrames[i] {
			t.Errorf("segment %d: port %d frame %d, want port %d frame %d", i, segs[i].Src.Port, segs[i].Frame, wantPorts[i], wantFrames[i])
		}
	}
	if st.Packets != 7 || st.Files[0].Packets != 3 || st.Files[1].Packets != 4 || st.BackwardsTimestamps != 0 ||
		st.FirstTime != 1e9 || st.LastTime != 5e9 {
		t.Errorf("stats %+v", st)
	}

	// The same files given in the other order: the tie goes the other way.
	segs, _, err = readAll(t, []string{pb, pa}, FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if segs[2].Src.Port != 33 || segs[3].Src.Port != 3 {
		t.Errorf("tie not broken by input order: %d, %d", segs[2].Src.Port, segs[3].Src.Port)
	}
}

func TestDirectoryAndGlob(t *testing.T) {
	dir := t.TempDir()
	le := binary.LittleEndian
	writeFile(t, dir, "b.pcap", pcapFile(le, false, LinkEthernet, 65535, []testPacket{{ts: 1e9, data: tcpPacketPort(t, 2)}}))
	writeFile(t, dir, "a.pcap", pcapFile(le, false, LinkEthernet, 65535, []testPacket{{ts: 1e9, data: tcpPacketPort(t, 1)}}))
	writeFile(t, dir, "c.pcapng", pcapngFile(le, []testPacket{{ts: 1e9, data: tcpPacketPort(t, 3)}}))
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	for _, c := range []struct {
		names []string
		ports []uint16
	}{
		{[]string{dir}, []uint16{1, 2, 3}},
		{[]string{filepath.Join(dir, "*.pcap")}, []uint16{1, 2}},
		{[]string{filepath.Join(dir, "c.pcapng"), filepath.Join(dir, "[ab].pcap")}, []uint16{3, 1, 2}},
	} {
		segs, st, err := readAll(t, c.names, FileOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(segs) != len(c.ports) {
			t.Fatalf("%v: %d segments", c.names, len(segs))
		}
		for i, p := range c.ports {
			if segs[i].Src.Port != p || filepath.Base(st.Files[i].Name) == "sub" {
				t.Errorf("%v: segment %d from port %d, want %d", c.names, i, segs[i].Src.Port, p)
			}
		}
	}
	if _, err := Open([]string{filepath.Join(dir, "*.nothing")}, FileOptions{}); err == nil {
		t.Error("glob without matches opened")
	}
	if _, err := Open([]string{filepath.Join(dir, "sub")}, FileOptions{}); err == nil {
		t.Error("empty directory opened")
	}
}

// TestGzipWithoutTrailer reads a gzip stream that ends after the last
// record but lacks its trailer: every record is whole, so nothing is lost.
func TestGzipWithoutTrailer(t *testing.T) {
	le := binary.LittleEndian
	for _, content := range [][]byte{pcapFile(le, false, LinkEthernet, 65535, threePackets(t)), pcapngFile(le, threePackets(t))} {
		z := gzipped(content)
		path := writeFile(t, t.TempDir(), "x.gz", z[:len(z)-8])
		segs, st, err := readAll(t, []string{path}, FileOptions{})
		if err != nil || len(segs) != 2 || st.Packets != 3 {
			t.Errorf("%v: %d segments, stats %+v", err, len(segs), st)
		}
	}
}

func TestBackwardsTimestamps(t *testing.T) {
	pkts := []testPacket{{ts: 5e9, data: tcpPacketPort(t, 1)}, {ts: 3e9, data: tcpPacketPort(t, 2)}, {ts: 7e9, data: tcpPacketPort(t, 3)}}
	path := writeFile(t, t.TempDir(), "x.pcap", pcapFile(binary.LittleEndian, false, LinkEthernet, 65535, pkts))
	segs, st, err := readAll(t, []string{path}, FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) != 3 || segs[1].Src.Port != 2 || st.BackwardsTimestamps != 1 || st.FirstTime != 3e9 || st.LastTime != 7e9 {
		t.Errorf("segments %d, stats %+v", len(segs), st)
	}
}

// TestTruncatedRecord: a record cut off by the end of the file is a counted
// skip, then the end; in strict mode it is an error.
func TestTruncatedRecord(t *testing.T) {
	pkts := threePackets(t)
	le := binary.LittleEndian
	pcap := pcapFile(le, false, LinkEthernet, 65535, pkts)
	ng := pcapngFile(le, pkts)
	cases := []struct {
		name    string
		content []byte
	}{
		{"pcap cut in record data", pcap[:len(pcap)-5]},
		{"pcap cut in record header", pcap[:len(pcap)-len(pkts[2].data)-7]},
		{"pcapng cut in block", ng[:len(ng)-9]},
		{"pcapng cut in block header", ng[:len(ng)-(32+(len(pkts[2].data)+3)&^3)+6]},
		{"gzip pcap cut", gzipped(pcap[:len(pcap)-5])},
		{"gzip pcapng cut", gzipped(ng[:len(ng)-5])},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := writeFile(t, t.TempDir(), "cut.pcap", c.content)
			segs, st, err := readAll(t, []string{path}, FileOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(segs) != 1 || st.Packets != 3 || st.Skipped[SkipTruncatedRecord] != 1 {
				t.Errorf("%d segments, stats %+v", len(segs), st)
			}
			_, _, err = readAll(t, []string{path}, FileOptions{Strict: true})
			var ce *Error
			if !errors.As(err, &ce) || ce.Frame != 3 || ce.File != path {
				t.Errorf("strict: %v", err)
			}
		})
	}
}

// TestFileErrors checks that fatal problems are *Error values naming the
// file and packet.
func TestFileErrors(t *testing.T) {
	le := binary.LittleEndian
	pkts := threePackets(t)
	pcap := pcapFile(le, false, LinkEthernet, 65535, pkts)
	bigRecord := bytes.Clone(pcap)
	// The third record header starts after the global header and two records.
	off := 24 + 16 + len(pkts[0].data) + 16 + len(pkts[1].data)
	le.PutUint32(bigRecord[off+8:], 9999999)
	ng := pcapngFile(le, pkts)
	firstEPB := len(ngSection(le, []ngInterface{{link: LinkEthernet, snaplen: 65535}}))
	ngMut := func(f func(b []byte)) []byte { b := bytes.Clone(ng); f(b); return b }
	epb2 := firstEPB + 32 + (len(pkts[0].data)+3)&^3
	cases := []struct {
		name    string
		content []byte
		frame   uint64
		msg     string
	}{
		{"empty", nil, 0, "NAME: file is empty"},
		{"short", []byte{0xd4, 0xc3}, 0, "NAME: file is too short for a capture file header"},
		{"truncated global header", pcap[:20], 0, "NAME: pcap global header is truncated"},
		{"unknown magic", []byte("hello, world, this is text"), 0, "NAME: unknown file format (magic 68 65 6c 6c)"},
		{"pcap version", func() []byte { b := bytes.Clone(pcap); le.PutUint16(b[4:], 3); return b }(), 0, "NAME: unsupported pcap version 3.4"},
		{"record length", bigRecord, 3, "NAME: packet 3: record length 9999999 exceeds 262144"},
		{"bad gzip", []byte{0x1f, 0x8b, 1, 2, 3}, 0, "NAME: bad gzip header"},
		{"pcapng block length not a multiple of 4", ngMut(func(b []byte) { le.PutUint32(b[epb2+4:], 77) }), 2,
			"NAME: packet 2: block type 0x6 has bad length 77 (block at offset"},
		{"pcapng block length too small", ngMut(func(b []byte) { le.PutUint32(b[epb2+4:], 8) }), 2,
			"NAME: packet 2: block type 0x6 has bad length 8"},
		{"pcapng trailer", ngMut(func(b []byte) { le.PutUint32(b[len(b)-4:], 12) }), 3, "NAME: packet 3: block trailer length 12 differs"},
		{"pcapng record overruns block", ngMut(func(b []byte) { le.PutUint32(b[epb2+20:], 200) }), 2,
			"NAME: packet 2: record length 200 overruns its block"},
		{"pcapng record too long", ngMut(func(b []byte) { le.PutUint32(b[epb2+20:], 300000) }), 2,
			"NAME: packet 2: record length 300000 exceeds 262144"},
		{"pcapng huge block", ngMut(func(b []byte) { le.PutUint32(b[epb2+4:], 1<<30) }), 2, "NAME: packet 2: block length 1073741824 exceeds"},
		{"pcapng byte-order magic", ngMut(func(b []byte) { b[8] = 0 }), 0, "NAME: section header has a bad byte-order magic (block at offset 0)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := writeFile(t, t.TempDir(), "capture.pcap", c.content)
			want := strings.ReplaceAll(c.msg, "NAME", path)
			check := func(ce *Error) {
				t.Helper()
				msg := byteOffset.ReplaceAllString(ce.Error(), ":")
				if ce.File != path || ce.Frame != c.frame || !strings.HasPrefix(msg, want) {
					t.Errorf("error %q (frame %d), want %q (frame %d)", ce, ce.Frame, want, c.frame)
				}
				if c.frame > 0 && ce.Offset <= 0 {
					t.Errorf("error %q gives no byte offset", ce)
				}
			}
			_, st, err := readAll(t, []string{path}, FileOptions{Strict: true})
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("strict: error %v (%T), want *Error", err, err)
			}
			check(ce)
			// Outside strict mode, damage past the header ends the file
			// with a warning; the packets before it are read.
			_, st, err = readAll(t, []string{path}, FileOptions{})
			switch {
			case c.frame == 0:
				if !errors.As(err, &ce) {
					t.Fatalf("error %v (%T), want *Error", err, err)
				}
				check(ce)
			case err != nil || len(st.Damaged) != 1:
				t.Fatalf("error %v, %d damage warnings: want none and 1", err, len(st.Damaged))
			default:
				check(&st.Damaged[0])
				if st.Packets < uint64(c.frame)-1 {
					t.Errorf("%d packets read before the damage at packet %d", st.Packets, c.frame)
				}
			}
		})
	}
	_, err := Open([]string{filepath.Join(t.TempDir(), "missing.pcap")}, FileOptions{})
	var ce *Error
	if !errors.As(err, &ce) || !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "missing.pcap") {
		t.Errorf("missing file: %v", err)
	}
}

// TestStrict checks what strict mode turns into errors and what it does not.
func TestStrict(t *testing.T) {
	le := binary.LittleEndian
	badIP := tcpPacketPort(t, 9)
	badIP[14] = 0x55
	long := ipv4TCP(t, 200, nil)
	cases := []struct {
		name    string
		content []byte
		reason  SkipReason // counted in default mode
		frame   uint64
		msg     string
	}{
		{"malformed packet", pcapFile(le, false, LinkEthernet, 65535, []testPacket{{ts: 1, data: arpPacket(t)}, {ts: 2, data: badIP}}),
			SkipBadIPHeader, 2, "packet 2: malformed packet (bad-ip-header)"},
		{"unknown link type", pcapFile(le, false, 147, 65535, []testPacket{{ts: 1, data: badIP}}),
			SkipUnknownLink, 1, "packet 1: malformed packet (unknown-link)"},
		{"record longer than snaplen", pcapFile(le, false, LinkEthernet, 100, []testPacket{{ts: 1, data: long}}),
			SkipNone, 1, "packet 1: record length 254 exceeds snapshot length 100"},
		{"record longer than packet", pcapFile(le, false, LinkEthernet, 65535, []testPacket{{ts: 1, data: long, wire: 60}}),
			SkipNone, 1, "packet 1: record length 254 exceeds original length 60"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := writeFile(t, t.TempDir(), "x.pcap", c.content)
			_, st, err := readAll(t, []string{path}, FileOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if c.reason != SkipNone && st.Skipped[c.reason] != 1 {
				t.Errorf("skipped %v", st.Skipped)
			}
			_, _, err = readAll(t, []string{path}, FileOptions{Strict: true})
			var ce *Error
			if !errors.As(err, &ce) || ce.Frame != c.frame || byteOffset.ReplaceAllString(err.Error(), ":") != path+": "+c.msg {
				t.Errorf("strict: %v", err)
			}
		})
	}
	// Well-formed packets that are not TCP are not errors.
	path := writeFile(t, t.TempDir(), "y.pcap", pcapFile(le, false, LinkEthernet, 65535, threePackets(t)))
	if _, _, err := readAll(t, []string{path}, FileOptions{Strict: true}); err != nil {
		t.Error(err)
	}
}

func TestCurrentPacket(t *testing.T) {
	pkts := threePackets(t)
	pkts[2].wire = 1500
	path := writeFile(t, t.TempDir(), "x.pcapng", pcapngFile(binary.BigEndian, pkts))
	s, err := Open([]string{path}, FileOptions{Decoder: DecoderOptions{ValidateChecksums: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if data, _, _ := s.CurrentPacket(); data != nil {
		t.Error("packet before the first Next")
	}
	var seg tracker.Segment
	for _, want := range []testPacket{pkts[0], pkts[2]} {
		if err := s.Next(&seg); err != nil {
			t.Fatal(err)
		}
		data, ci, link := s.CurrentPacket()
		wantWire := want.wire
		if wantWire == 0 {
			wantWire = len(want.data)
		}
		if !bytes.Equal(data, want.data) || link != LinkEthernet || ci.Timestamp.UnixNano() != want.ts/1000*1000 ||
			ci.CaptureLength != len(want.data) || ci.Length != wantWire {
			t.Errorf("CurrentPacket: %d bytes, %+v, %v", len(data), ci, link)
		}
	}
	if err := s.Next(&seg); err != io.EOF {
		t.Fatal(err)
	}
	if data, _, _ := s.CurrentPacket(); data != nil {
		t.Error("packet after the end")
	}
}

// TestCorruptFilesNeverPanic reads many randomly damaged files: each must
// end, with or without an error, and never panic.
func TestCorruptFilesNeverPanic(t *testing.T) {
	le := binary.LittleEndian
	var pkts []testPacket
	for i := range 20 {
		pkts = append(pkts, testPacket{ts: int64(i) * 1e9, data: ipv4TCP(t, i*37, synOptions())})
	}
	originals := [][]byte{pcapFile(le, true, LinkEthernet, 65535, pkts), pcapngFile(binary.BigEndian, pkts)}
	dir := t.TempDir()
	seed := uint64(1)
	next := func(n int) int { seed = seed*6364136223846793005 + 1442695040888963407; return int(seed>>33) % n }
	iterations := 1500
	if testing.Short() {
		iterations = 200
	}
	for i := range iterations {
		b := bytes.Clone(originals[i%2])
		for range 1 + next(4) {
			b[next(len(b))] = byte(next(256))
		}
		if next(4) == 0 {
			b = b[:next(len(b))]
		}
		path := writeFile(t, dir, "fuzz", b)
		for _, strict := range []bool{false, true} {
			s, err := Open([]string{path}, FileOptions{Strict: strict, Decoder: DecoderOptions{ValidateChecksums: true}})
			if err != nil {
				continue
			}
			var seg tracker.Segment
			for n := 0; ; n++ {
				if n > 1000 {
					t.Fatalf("iteration %d: read does not end", i)
				}
				if s.Next(&seg) != nil {
					break
				}
			}
			s.Close()
		}
	}
}

// FuzzRead checks that no file makes the reader panic or loop forever.
func FuzzRead(f *testing.F) {
	le := binary.LittleEndian
	pkts := threePackets(f)
	f.Add(pcapFile(le, true, LinkEthernet, 65535, pkts))
	f.Add(pcapngFile(binary.BigEndian, pkts))
	f.Add(gzipped(pcapngFile(le, pkts)))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, content []byte) {
		path := writeFile(t, dir, "fuzz", content)
		for _, strict := range []bool{false, true} {
			s, err := Open([]string{path}, FileOptions{Strict: strict})
			if err != nil {
				continue
			}
			var seg tracker.Segment
			for n := 0; s.Next(&seg) == nil; n++ {
				if n > len(content) {
					t.Fatal("more segments than bytes")
				}
			}
			s.Close()
		}
	})
}

// byteOffset matches the byte offset an error names after the packet.
var byteOffset = regexp.MustCompile(` \(byte \d+\):`)
