package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// tuple identifies a TCP connection in the client→server direction.
type tuple struct {
	src, dst     [16]byte
	sport, dport uint16
}

// attempt is the state of the latest connection attempt on a tuple.
type attempt struct {
	isn      uint32
	synack   bool
	rst      bool
	attempts int
}

// pcapStats is the result of runStats.
type pcapStats struct {
	packets, tcp, ipv4, ipv6, other int64
	syns, synsV6, synRetrans        int64
	synacks                         int64
	rstPackets, rstConns, refused   int64
	fins                            int64
	reusedSyns, reusedTuples        int64
	tuples                          int
	first, last                     time.Time
}

func runStats(args []string) error {
	if len(args) != 1 {
		return errors.New("usage: httpload stats FILE.pcap")
	}
	f, err := os.Open(args[0])
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := scanPcap(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		return err
	}
	conns := st.syns - st.synRetrans
	pct := func(a, b int64) float64 {
		if b == 0 {
			return 0
		}
		return 100 * float64(a) / float64(b)
	}
	fmt.Printf("packets:            %d (tcp %d, ipv4 %d, ipv6 %d, other %d)\n", st.packets, st.tcp, st.ipv4, st.ipv6, st.other)
	fmt.Printf("connections (SYNs): %d (+%d SYN retransmissions), %d distinct 4-tuples\n", conns, st.synRetrans, st.tuples)
	fmt.Printf("ipv6 connections:   %d (%.1f%%), ipv6 packets %.1f%%\n", st.synsV6, pct(st.synsV6, conns), pct(st.ipv6, st.packets))
	fmt.Printf("handshakes:         %d SYN-ACKs\n", st.synacks)
	fmt.Printf("refused:            %d (SYN answered by RST)\n", st.refused)
	fmt.Printf("reset connections:  %d (%d RST packets)\n", st.rstConns, st.rstPackets)
	fmt.Printf("4-tuple reuse:      %d SYNs on an already-used 4-tuple (%d tuples used more than once)\n", st.reusedSyns, st.reusedTuples)
	fmt.Printf("FIN packets:        %d\n", st.fins)
	fmt.Printf("time span:          %.1fs\n", st.last.Sub(st.first).Seconds())
	return nil
}

func scanPcap(r io.Reader) (*pcapStats, error) {
	var gh [24]byte
	if _, err := io.ReadFull(r, gh[:]); err != nil {
		return nil, fmt.Errorf("pcap header: %w", err)
	}
	var bo binary.ByteOrder
	nanos := false
	switch binary.LittleEndian.Uint32(gh[:4]) {
	case 0xa1b2c3d4:
		bo = binary.LittleEndian
	case 0xa1b23c4d:
		bo, nanos = binary.LittleEndian, true
	case 0xd4c3b2a1:
		bo = binary.BigEndian
	case 0x4d3cb2a1:
		bo, nanos = binary.BigEndian, true
	default:
		return nil, errors.New("not a classic pcap file")
	}
	if lt := bo.Uint32(gh[20:24]); lt != 1 {
		return nil, fmt.Errorf("link type %d, want Ethernet (1)", lt)
	}
	st := &pcapStats{}
	conns := make(map[tuple]*attempt, 1<<18)
	var rh [16]byte
	buf := make([]byte, 0, 65536)
	for {
		if _, err := io.ReadFull(r, rh[:]); err != nil {
			if err == io.EOF {
				break
			}
			return nil, fmt.Errorf("record header: %w", err)
		}
		sec, frac := bo.Uint32(rh[0:4]), bo.Uint32(rh[4:8])
		incl := bo.Uint32(rh[8:12])
		if incl > 1<<20 {
			return nil, fmt.Errorf("record of %d bytes", incl)
		}
		buf = buf[:incl]
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, fmt.Errorf("record: %w", err)
		}
		ns := int64(frac)
		if !nanos {
			ns *= 1000
		}
		ts := time.Unix(int64(sec), ns)
		if st.packets == 0 {
			st.first = ts
		}
		st.last = ts
		st.packets++
		st.scanPacket(buf, conns)
	}
	st.tuples = len(conns)
	for _, a := range conns {
		if a.attempts > 1 {
			st.reusedTuples++
		}
	}
	return st, nil
}

func (st *pcapStats) scanPacket(p []byte, conns map[tuple]*attempt) {
	if len(p) < 14 {
		st.other++
		return
	}
	et := binary.BigEndian.Uint16(p[12:14])
	p = p[14:]
	if et == 0x8100 && len(p) >= 4 {
		et = binary.BigEndian.Uint16(p[2:4])
		p = p[4:]
	}
	var t tuple
	var tcp []byte
	v6 := false
	switch et {
	case 0x0800:
		if len(p) < 20 || p[0]>>4 != 4 {
			st.other++
			return
		}
		ihl := int(p[0]&0xf) * 4
		if p[9] != 6 || len(p) < ihl+14 {
			st.other++
			return
		}
		st.ipv4++
		copy(t.src[:4], p[12:16])
		copy(t.dst[:4], p[16:20])
		tcp = p[ihl:]
	case 0x86dd:
		if len(p) < 40+14 || p[6] != 6 {
			st.other++
			return
		}
		st.ipv6++
		v6 = true
		copy(t.src[:], p[8:24])
		copy(t.dst[:], p[24:40])
		tcp = p[40:]
	default:
		st.other++
		return
	}
	st.tcp++
	t.sport = binary.BigEndian.Uint16(tcp[0:2])
	t.dport = binary.BigEndian.Uint16(tcp[2:4])
	seq := binary.BigEndian.Uint32(tcp[4:8])
	flags := tcp[13]
	const (
		fin = 0x01
		syn = 0x02
		rst = 0x04
		ack = 0x10
	)
	if flags&fin != 0 {
		st.fins++
	}
	if flags&rst != 0 {
		st.rstPackets++
	}
	switch {
	case flags&(syn|ack) == syn:
		st.syns++
		if v6 {
			st.synsV6++
		}
		a := conns[t]
		if a == nil {
			a = &attempt{}
			conns[t] = a
		} else if a.isn == seq && !a.synack {
			st.synRetrans++
			if v6 {
				st.synsV6--
			}
			return
		} else {
			st.reusedSyns++
		}
		*a = attempt{isn: seq, attempts: a.attempts + 1}
		return
	case flags&(syn|ack) == syn|ack:
		st.synacks++
		r := tuple{src: t.dst, dst: t.src, sport: t.dport, dport: t.sport}
		if a := conns[r]; a != nil {
			a.synack = true
		}
		return
	}
	if flags&rst == 0 {
		return
	}
	// A RST: find the attempt in either direction.
	a, fromServer := conns[t], false
	if a == nil {
		a = conns[tuple{src: t.dst, dst: t.src, sport: t.dport, dport: t.sport}]
		fromServer = true
	}
	if a == nil || a.rst {
		return
	}
	a.rst = true
	if !a.synack && fromServer {
		st.refused++
	} else {
		st.rstConns++
	}
}
