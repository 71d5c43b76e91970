// Package malformed generates the corpus of broken capture files under
// testdata/malformed/: each case is built here, byte by byte, next to the
// outcome wirestate documents for it, so the corpus stays readable and can
// be regenerated (go test ./cmd/wirestate -run TestMalformedCorpus -update).
package malformed

import (
	"bytes"
	"encoding/binary"
)

// Outcome is what wirestate must do with a case's file.
type Outcome struct {
	// Error, when set, says the run must fail (exit status 1) with a
	// message containing the file name and this text (for example
	// "packet 2: record length").
	Error string
	// Skips maps skip reasons (as the JSON summary names them) to the
	// number of packets that must be skipped for that reason.
	Skips map[string]int
	// TCP is the number of TCP segments that must still be analysed.
	TCP int
	// Conns is the number of connections the rest of the file must give.
	Conns int
	// Backwards is the number of timestamps going backwards to report.
	Backwards int
	// OddFlags is the number of segments with flag combinations no TCP
	// sends, which the tracker counts.
	OddFlags int
	// StrictError, when set, is what --strict must fail with (naming the
	// file and packet) although the default mode goes on.
	StrictError string
	// Warning, when set, is what the default mode must warn of on stderr
	// (naming the file, packet and byte offset) for a file damaged past
	// its first packets, whose packets before the damage are analysed.
	Warning string
}

// Case is one malformed file and its outcome.
type Case struct {
	Name string
	// File is the file name under testdata/malformed/.
	File string
	Data []byte
	Want Outcome
	// Doc says what is wrong with the file.
	Doc string
}

const (
	linkEthernet = 1
	snapDefault  = 262144
)

// pcapHeader returns a little-endian microsecond pcap global header.
func pcapHeader(snaplen, link uint32) []byte {
	b := make([]byte, 24)
	binary.LittleEndian.PutUint32(b[0:], 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(b[4:], 2)
	binary.LittleEndian.PutUint16(b[6:], 4)
	binary.LittleEndian.PutUint32(b[16:], snaplen)
	binary.LittleEndian.PutUint32(b[20:], link)
	return b
}

// record returns a pcap record header and data; incl and orig override the
// lengths when non-negative.
func record(sec, usec uint32, data []byte, incl, orig int) []byte {
	h := make([]byte, 16)
	binary.LittleEndian.PutUint32(h[0:], sec)
	binary.LittleEndian.PutUint32(h[4:], usec)
	if incl < 0 {
		incl = len(data)
	}
	if orig < 0 {
		orig = len(data)
	}
	binary.LittleEndian.PutUint32(h[8:], uint32(incl))
	binary.LittleEndian.PutUint32(h[12:], uint32(orig))
	return append(h, data...)
}

// seg describes a TCP segment to build.
type seg struct {
	src, dst     byte // last octet of 10.9.0.x
	sport, dport uint16
	flags        byte
	seq, ack     uint32
	payload      int
	// Lies, applied after building: total length, IHL, data offset.
	ipTotal    int
	ihl        int
	dataOffset int
}

// frame builds an Ethernet/IPv4/TCP frame for s.
func frame(s seg) []byte {
	var b bytes.Buffer
	b.Write([]byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00})
	ip := make([]byte, 20)
	ip[0] = 0x45
	total := 20 + 20 + s.payload
	binary.BigEndian.PutUint16(ip[2:], uint16(total))
	ip[8] = 64
	ip[9] = 6
	copy(ip[12:], []byte{10, 9, 0, s.src})
	copy(ip[16:], []byte{10, 9, 0, s.dst})
	tcp := make([]byte, 20)
	binary.BigEndian.PutUint16(tcp[0:], s.sport)
	binary.BigEndian.PutUint16(tcp[2:], s.dport)
	binary.BigEndian.PutUint32(tcp[4:], s.seq)
	binary.BigEndian.PutUint32(tcp[8:], s.ack)
	tcp[12] = 5 << 4
	tcp[13] = s.flags
	binary.BigEndian.PutUint16(tcp[14:], 65535)
	if s.ipTotal != 0 {
		binary.BigEndian.PutUint16(ip[2:], uint16(s.ipTotal))
	}
	if s.ihl != 0 {
		ip[0] = 0x40 | byte(s.ihl)
	}
	if s.dataOffset != 0 {
		tcp[12] = byte(s.dataOffset) << 4
	}
	binary.BigEndian.PutUint16(ip[10:], checksum(ip, 0))
	payload := make([]byte, s.payload)
	// The TCP checksum covers the pseudo-header, header and payload.
	pseudo := append(append([]byte{}, ip[12:20]...), 0, 6, 0, 0)
	binary.BigEndian.PutUint16(pseudo[10:], uint16(20+s.payload))
	seg := append(append([]byte{}, tcp...), payload...)
	binary.BigEndian.PutUint16(tcp[16:], checksum(seg, sum16(pseudo)))
	b.Write(ip)
	b.Write(tcp)
	b.Write(payload)
	return b.Bytes()
}

// sum16 adds b as big-endian 16-bit words.
func sum16(b []byte) uint32 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	return s
}

// checksum returns the Internet checksum of b plus the partial sum init.
func checksum(b []byte, init uint32) uint16 {
	s := init + sum16(b)
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

const (
	fSYN = 0x02
	fFIN = 0x01
	fRST = 0x04
	fACK = 0x10
)

// handshake returns the three frames of a handshake 10.9.0.1:40000 →
// 10.9.0.2:80, the base of most cases.
func handshake() [][]byte {
	return [][]byte{
		frame(seg{src: 1, dst: 2, sport: 40000, dport: 80, flags: fSYN, seq: 100}),
		frame(seg{src: 2, dst: 1, sport: 80, dport: 40000, flags: fSYN | fACK, seq: 500, ack: 101}),
		frame(seg{src: 1, dst: 2, sport: 40000, dport: 80, flags: fACK, seq: 101, ack: 501}),
	}
}

// pcapFile joins a header and records of frames at 1 ms steps.
func pcapFile(snaplen uint32, frames ...[]byte) []byte {
	out := pcapHeader(snaplen, linkEthernet)
	for i, f := range frames {
		out = append(out, record(1700000000, uint32(i*1000), f, -1, -1)...)
	}
	return out
}

// Cases returns every malformed case.
func Cases() []Case {
	hs := handshake()
	var cs []Case
	add := func(c Case) { cs = append(cs, c) }

	add(Case{Name: "empty", File: "empty.pcap", Data: nil,
		Doc:  "a zero-byte file",
		Want: Outcome{Error: "empty"}})
	add(Case{Name: "truncated-global-header", File: "truncated-global-header.pcap", Data: pcapHeader(snapDefault, linkEthernet)[:13],
		Doc:  "the 24-byte pcap global header cut off after 13 bytes",
		Want: Outcome{Error: "header"}})
	add(Case{Name: "unknown-magic", File: "unknown-magic.pcap", Data: append([]byte("THIS IS NOT A CAPTURE FILE AT ALL"), make([]byte, 40)...),
		Doc:  "a text file: no pcap or pcapng magic number",
		Want: Outcome{Error: "magic"}})
	{
		d := pcapHeader(snapDefault, 147) // LINKTYPE_USER0
		for i, f := range hs {
			d = append(d, record(1700000000, uint32(i), f, -1, -1)...)
		}
		add(Case{Name: "unknown-link-type", File: "unknown-link-type.pcap", Data: d,
			Doc:  "link type 147 (USER0), which wirestate cannot decode: every packet is a counted skip",
			Want: Outcome{Skips: map[string]int{"unknown-link": 3}}})
	}
	{
		d := pcapFile(snapDefault, hs...)
		d = append(d, record(1700000000, 5000, make([]byte, 10), 400000, 400000)[:16]...)
		add(Case{Name: "record-larger-than-256k", File: "record-larger-than-256k.pcap", Data: d,
			Doc:  "after a handshake, a record header claiming 400,000 captured bytes",
			Want: Outcome{TCP: 3, Conns: 1, Warning: "packet 4 (byte 234): record length 400000", StrictError: "packet 4"}})
	}
	{
		d := pcapFile(128, hs...)
		big := frame(seg{src: 1, dst: 2, sport: 40000, dport: 80, flags: fACK, seq: 101, ack: 501, payload: 300})
		d = append(d, record(1700000000, 5000, big, -1, -1)...)
		add(Case{Name: "record-larger-than-snaplen", File: "record-larger-than-snaplen.pcap", Data: d,
			Doc:  "snaplen 128, then a record of 354 captured bytes (a writer that ignored its own snaplen): read as it is",
			Want: Outcome{TCP: 4, Conns: 1, StrictError: "packet 4"}})
	}
	{
		d := pcapFile(snapDefault, hs...)
		last := record(1700000000, 9000, frame(seg{src: 1, dst: 2, sport: 40000, dport: 80, flags: fACK | fFIN, seq: 101, ack: 501}), -1, -1)
		d = append(d, last[:len(last)-20]...)
		add(Case{Name: "record-cut-off", File: "record-cut-off.pcap", Data: d,
			Doc:  "the last record ends 20 bytes early, as when tcpdump is killed",
			Want: Outcome{Skips: map[string]int{"truncated-record": 1}, TCP: 3, Conns: 1, Warning: "packet 4 (byte 234): file ends inside a packet record"}})
	}
	{
		frames := append([][]byte{}, hs...)
		frames = append(frames, frame(seg{src: 1, dst: 2, sport: 40000, dport: 80, flags: fACK, seq: 101, ack: 501, payload: 10}))
		d := pcapHeader(snapDefault, linkEthernet)
		for i, usec := range []uint32{0, 1000, 2000, 500} {
			d = append(d, record(1700000000, usec, frames[i], -1, -1)...)
		}
		add(Case{Name: "timestamps-backwards", File: "timestamps-backwards.pcap", Data: d,
			Doc:  "the fourth packet is stamped before the third",
			Want: Outcome{TCP: 4, Conns: 1, Backwards: 1}})
	}
	{
		short := frame(seg{src: 1, dst: 2, sport: 40000, dport: 80, flags: fACK, seq: 101, ack: 501})[:14+20+8]
		add(Case{Name: "packet-shorter-than-headers", File: "packet-shorter-than-headers.pcap", Data: pcapFile(snapDefault, append(hs, short)...),
			Doc:  "a packet cut inside its TCP header (captured length = original length)",
			Want: Outcome{Skips: map[string]int{"truncated": 1}, TCP: 3, Conns: 1}})
	}
	add(Case{Name: "ip-total-length-lies", File: "ip-total-length-lies.pcap",
		Data: pcapFile(snapDefault, append(hs, frame(seg{src: 1, dst: 2, sport: 40000, dport: 80, flags: fACK, seq: 101, ack: 501, ipTotal: 30}))...),
		Doc:  "an IPv4 total length of 30: room for the IP header but not for the TCP header",
		Want: Outcome{Skips: map[string]int{"bad-tcp-header": 1}, TCP: 3, Conns: 1}})
	add(Case{Name: "ip-total-length-below-header", File: "ip-total-length-below-header.pcap",
		Data: pcapFile(snapDefault, append(hs, frame(seg{src: 1, dst: 2, sport: 40000, dport: 80, flags: fACK, seq: 101, ack: 501, ipTotal: 12}))...),
		Doc:  "an IPv4 total length of 12, shorter than the IP header itself",
		Want: Outcome{Skips: map[string]int{"bad-ip-header": 1}, TCP: 3, Conns: 1}})
	add(Case{Name: "ip-header-length-lies", File: "ip-header-length-lies.pcap",
		Data: pcapFile(snapDefault, append(hs, frame(seg{src: 1, dst: 2, sport: 40000, dport: 80, flags: fACK, seq: 101, ack: 501, ihl: 3}))...),
		Doc:  "an IPv4 header length of 3 words (below the minimum 5)",
		Want: Outcome{Skips: map[string]int{"bad-ip-header": 1}, TCP: 3, Conns: 1}})
	add(Case{Name: "tcp-data-offset-below-5", File: "tcp-data-offset-below-5.pcap",
		Data: pcapFile(snapDefault, append(hs, frame(seg{src: 1, dst: 2, sport: 40000, dport: 80, flags: fACK, seq: 101, ack: 501, dataOffset: 3}))...),
		Doc:  "a TCP data offset of 3 words",
		Want: Outcome{Skips: map[string]int{"bad-tcp-header": 1}, TCP: 3, Conns: 1}})
	add(Case{Name: "tcp-data-offset-beyond-ip", File: "tcp-data-offset-beyond-ip.pcap",
		Data: pcapFile(snapDefault, append(hs, frame(seg{src: 1, dst: 2, sport: 40000, dport: 80, flags: fACK, seq: 101, ack: 501, dataOffset: 15}))...),
		Doc:  "a TCP data offset of 60 bytes in a 40-byte IP packet",
		Want: Outcome{Skips: map[string]int{"bad-tcp-header": 1}, TCP: 3, Conns: 1}})
	{
		var frames [][]byte
		for i, fl := range []byte{fSYN | fFIN, fSYN | fRST, 0, fFIN, fSYN | fFIN | fRST | fACK, 0xff} {
			frames = append(frames, frame(seg{src: 1, dst: 2, sport: uint16(41000 + i), dport: 80, flags: fl, seq: 7}))
		}
		add(Case{Name: "odd-flag-combinations", File: "odd-flag-combinations.pcap", Data: pcapFile(snapDefault, frames...),
			Doc:  "SYN+FIN, SYN+RST, no flags, a FIN without ACK, SYN+FIN+RST+ACK and every flag at once, each on its own 4-tuple",
			Want: Outcome{TCP: 6, Conns: 6, OddFlags: 5}})
	}
	// pcapng cases.
	add(Case{Name: "pcapng-bad-block-length", File: "pcapng-bad-block-length.pcapng", Data: pcapngFile(hs, ngBadLength),
		Doc:  "a pcapng enhanced packet block whose length field is not a multiple of 4 and disagrees with its trailer",
		Want: Outcome{TCP: 2, Conns: 1, Warning: "packet 3 (byte 136): block type", StrictError: "block"}})
	add(Case{Name: "pcapng-unknown-block-type", File: "pcapng-unknown-block-type.pcapng", Data: pcapngFile(hs, ngUnknownBlock),
		Doc:  "a well-formed block of an unknown type (0x0badcafe) between packets: skipped as pcapng allows",
		Want: Outcome{TCP: 3, Conns: 1}})
	add(Case{Name: "pcapng-missing-interface", File: "pcapng-missing-interface.pcapng", Data: pcapngFile(hs, ngBadInterface),
		Doc:  "an enhanced packet block naming interface 7 when only interface 0 was described",
		Want: Outcome{TCP: 2, Conns: 1, Warning: "packet 3 (byte 224): pcapng block: Interface id 7", StrictError: "interface"}})
	return cs
}

// pcapng mutations.
const (
	ngPlain = iota
	ngBadLength
	ngUnknownBlock
	ngBadInterface
)

func ngBlock(typ uint32, body []byte) []byte {
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	n := uint32(12 + len(body))
	b := make([]byte, 8, n)
	binary.LittleEndian.PutUint32(b[0:], typ)
	binary.LittleEndian.PutUint32(b[4:], n)
	b = append(b, body...)
	t := make([]byte, 4)
	binary.LittleEndian.PutUint32(t, n)
	return append(b, t...)
}

// pcapngFile builds a section with one Ethernet interface and the frames as
// enhanced packet blocks, with the given mutation before the last frame.
func pcapngFile(frames [][]byte, mutation int) []byte {
	shb := make([]byte, 16)
	binary.LittleEndian.PutUint32(shb[0:], 0x1a2b3c4d)
	binary.LittleEndian.PutUint16(shb[4:], 1)
	binary.LittleEndian.PutUint64(shb[8:], ^uint64(0))
	out := ngBlock(0x0a0d0d0a, shb)
	idb := make([]byte, 8)
	binary.LittleEndian.PutUint16(idb[0:], linkEthernet)
	binary.LittleEndian.PutUint32(idb[4:], snapDefault)
	out = append(out, ngBlock(1, idb)...)
	ts := uint64(1700000000) * 1e6
	for i, f := range frames {
		iface := uint32(0)
		if i == len(frames)-1 {
			switch mutation {
			case ngUnknownBlock:
				out = append(out, ngBlock(0x0badcafe, []byte("not a packet"))...)
			case ngBadInterface:
				iface = 7
			}
		}
		body := make([]byte, 20)
		binary.LittleEndian.PutUint32(body[0:], iface)
		t := ts + uint64(i*1000)
		binary.LittleEndian.PutUint32(body[4:], uint32(t>>32))
		binary.LittleEndian.PutUint32(body[8:], uint32(t))
		binary.LittleEndian.PutUint32(body[12:], uint32(len(f)))
		binary.LittleEndian.PutUint32(body[16:], uint32(len(f)))
		body = append(body, f...)
		blk := ngBlock(6, body)
		if i == len(frames)-1 && mutation == ngBadLength {
			binary.LittleEndian.PutUint32(blk[4:], uint32(len(blk)+2))
		}
		out = append(out, blk...)
	}
	return out
}
