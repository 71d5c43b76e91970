package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"time"
)

// TCP flag bits.
const (
	fFIN = 0x01
	fSYN = 0x02
	fRST = 0x04
	fPSH = 0x08
	fACK = 0x10
)

// packet is one decoded TCP/IP frame of a classic pcap file.
type packet struct {
	n         int // 1-based frame number, as tcpdump and tshark count
	ts        time.Time
	caplen    int
	origlen   int
	ip6       bool
	ipBytes   []byte // the IP packet as captured
	src, dst  netip.AddrPort
	tcp       []byte // the TCP header (nil: not TCP)
	seq, ack  uint32
	flags     uint8
	win       uint16
	payload   []byte // captured payload bytes
	paylen    int    // payload length from the IP header
	truncated bool
	csumOK    bool // TCP checksum verified (false if truncated)
}

func (p *packet) has(f uint8) bool { return p.flags&f == f }

// segLen is the sequence space the segment uses (payload, SYN, FIN).
func (p *packet) segLen() uint32 {
	n := uint32(p.paylen)
	if p.has(fSYN) {
		n++
	}
	if p.has(fFIN) {
		n++
	}
	return n
}

func (p *packet) String() string {
	fl := ""
	for _, f := range []struct {
		b uint8
		s string
	}{{fSYN, "S"}, {fFIN, "F"}, {fRST, "R"}, {fPSH, "P"}, {fACK, "."}} {
		if p.has(f.b) {
			fl += f.s
		}
	}
	return fmt.Sprintf("#%d %s > %s [%s] seq %d ack %d win %d len %d", p.n, p.src, p.dst, fl, p.seq, p.ack, p.win, p.paylen)
}

type pcapInfo struct {
	snaplen int
	pkts    []*packet
}

// readPcap reads a classic pcap file with Ethernet frames (what tcpdump -w
// writes for a veth).
func readPcap(name string) ([]*packet, error) {
	info, err := readPcapInfo(name)
	if err != nil {
		return nil, err
	}
	return info.pkts, nil
}

func readPcapInfo(name string) (*pcapInfo, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	if len(b) < 24 {
		return nil, fmt.Errorf("%s: too short for a pcap header", name)
	}
	var bo binary.ByteOrder
	nano := false
	switch m := binary.LittleEndian.Uint32(b); m {
	case 0xa1b2c3d4:
		bo = binary.LittleEndian
	case 0xa1b23c4d:
		bo, nano = binary.LittleEndian, true
	case 0xd4c3b2a1:
		bo = binary.BigEndian
	case 0x4d3cb2a1:
		bo, nano = binary.BigEndian, true
	default:
		return nil, fmt.Errorf("%s: not a classic pcap file (magic %#x)", name, m)
	}
	info := &pcapInfo{snaplen: int(bo.Uint32(b[16:]))}
	if lt := bo.Uint32(b[20:]); lt != 1 {
		return nil, fmt.Errorf("%s: link type %d, want 1 (Ethernet)", name, lt)
	}
	b = b[24:]
	for n := 1; len(b) >= 16; n++ {
		sec, frac := bo.Uint32(b), bo.Uint32(b[4:])
		incl, orig := int(bo.Uint32(b[8:])), int(bo.Uint32(b[12:]))
		if len(b) < 16+incl {
			break // a capture still being written
		}
		ns := int64(frac) * 1000
		if nano {
			ns = int64(frac)
		}
		p := &packet{n: n, ts: time.Unix(int64(sec), ns), caplen: incl, origlen: orig}
		decode(p, b[16:16+incl])
		info.pkts = append(info.pkts, p)
		b = b[16+incl:]
	}
	return info, nil
}

// decode fills p from an Ethernet frame (fields stay zero if it is not
// TCP over IPv4/IPv6).
func decode(p *packet, f []byte) {
	if len(f) < 14 {
		return
	}
	et := binary.BigEndian.Uint16(f[12:])
	f = f[14:]
	for et == 0x8100 && len(f) >= 4 {
		et = binary.BigEndian.Uint16(f[2:])
		f = f[4:]
	}
	var l4 []byte
	var proto byte
	var ipLen int // bytes after the IP header, from the IP header
	var pseudo uint32
	switch et {
	case 0x0800:
		if len(f) < 20 {
			return
		}
		ihl := int(f[0]&0xf) * 4
		tot := int(binary.BigEndian.Uint16(f[2:]))
		if len(f) < ihl {
			return
		}
		proto = f[9]
		src, _ := netip.AddrFromSlice(f[12:16])
		dst, _ := netip.AddrFromSlice(f[16:20])
		p.src, p.dst = netip.AddrPortFrom(src, 0), netip.AddrPortFrom(dst, 0)
		p.ipBytes = f
		l4 = f[ihl:]
		ipLen = tot - ihl
		for i := 12; i < 20; i += 2 {
			pseudo += uint32(binary.BigEndian.Uint16(f[i:]))
		}
	case 0x86dd:
		if len(f) < 40 {
			return
		}
		p.ip6 = true
		proto = f[6]
		src, _ := netip.AddrFromSlice(f[8:24])
		dst, _ := netip.AddrFromSlice(f[24:40])
		p.src, p.dst = netip.AddrPortFrom(src, 0), netip.AddrPortFrom(dst, 0)
		p.ipBytes = f
		l4 = f[40:]
		ipLen = int(binary.BigEndian.Uint16(f[4:]))
		for i := 8; i < 40; i += 2 {
			pseudo += uint32(binary.BigEndian.Uint16(f[i:]))
		}
	default:
		return
	}
	if proto != 6 || len(l4) < 20 {
		return
	}
	doff := int(l4[12]>>4) * 4
	if doff < 20 || len(l4) < doff {
		return
	}
	p.src = netip.AddrPortFrom(p.src.Addr(), binary.BigEndian.Uint16(l4[0:]))
	p.dst = netip.AddrPortFrom(p.dst.Addr(), binary.BigEndian.Uint16(l4[2:]))
	p.seq = binary.BigEndian.Uint32(l4[4:])
	p.ack = binary.BigEndian.Uint32(l4[8:])
	p.flags = l4[13]
	p.win = binary.BigEndian.Uint16(l4[14:])
	p.tcp = l4[:doff]
	p.paylen = ipLen - doff
	p.payload = l4[doff:]
	if len(p.payload) > p.paylen {
		p.payload = p.payload[:p.paylen] // Ethernet padding
	}
	p.truncated = len(p.payload) < p.paylen
	if !p.truncated {
		pseudo += 6 + uint32(ipLen)
		p.csumOK = checksum(pseudo, l4[:ipLen]) == 0
	}
}

// errf collects check failures.
type errf []error

func (e *errf) add(format string, a ...any) { *e = append(*e, fmt.Errorf(format, a...)) }
func (e errf) err() error                   { return errors.Join(e...) }
