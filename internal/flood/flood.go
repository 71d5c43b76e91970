// Package flood writes captures of attack traffic for wirestate's
// hostile-input tests and measurements: a SYN flood from spoofed sources
// answered by SYN cookies, and a flood of RSTs and ACKs with random
// sequence numbers for connections that never existed. Output is
// deterministic from the seed.
package flood

import (
	"bufio"
	"encoding/binary"
	"io"
	"math/rand"
)

// Kind selects the traffic.
type Kind int

// The floods.
const (
	// SYN writes, for each of N spoofed sources, a SYN to the victim and
	// the victim's SYN-ACK (as with net.ipv4.tcp_syncookies), never
	// answered: 2N packets.
	SYN Kind = iota
	// RSTACK writes N segments, alternately RST and ACK, with random
	// sequence numbers, from random sources to the victim, for connections
	// that never existed.
	RSTACK
)

// Victim is the attacked listener, 10.0.0.2:80.
var Victim = [4]byte{10, 0, 0, 2}

// VictimPort is the attacked port.
const VictimPort = 80

// Write writes a classic pcap (Ethernet, microseconds) of flood kind with n
// attack packets, spread over about n/100000 seconds.
func Write(w io.Writer, kind Kind, n int, seed int64) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	hdr := make([]byte, 24)
	binary.LittleEndian.PutUint32(hdr[0:], 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], 128)
	binary.LittleEndian.PutUint32(hdr[20:], 1)
	if _, err := bw.Write(hdr); err != nil {
		return err
	}
	r := rand.New(rand.NewSource(seed))
	var pkt [14 + 20 + 20]byte
	var rec [16]byte
	usec := int64(1700000000) * 1e6
	emit := func(src [4]byte, sport uint16, dst [4]byte, dport uint16, flags byte, seq, ack uint32) error {
		build(pkt[:], src, sport, dst, dport, flags, seq, ack)
		binary.LittleEndian.PutUint32(rec[0:], uint32(usec/1e6))
		binary.LittleEndian.PutUint32(rec[4:], uint32(usec%1e6))
		binary.LittleEndian.PutUint32(rec[8:], uint32(len(pkt)))
		binary.LittleEndian.PutUint32(rec[12:], uint32(len(pkt)))
		if _, err := bw.Write(rec[:]); err != nil {
			return err
		}
		_, err := bw.Write(pkt[:])
		return err
	}
	for i := 0; i < n; i++ {
		usec += 10
		src := [4]byte{100, byte(64 + r.Intn(64)), byte(r.Intn(256)), byte(1 + r.Intn(254))}
		sport := uint16(1024 + r.Intn(64000))
		switch kind {
		case SYN:
			isn := r.Uint32()
			if err := emit(src, sport, Victim, VictimPort, 0x02, isn, 0); err != nil {
				return err
			}
			if err := emit(Victim, VictimPort, src, sport, 0x12, r.Uint32(), isn+1); err != nil {
				return err
			}
		case RSTACK:
			flags := byte(0x10)
			if i%2 == 0 {
				flags = 0x04
			}
			if err := emit(src, sport, Victim, VictimPort, flags, r.Uint32(), r.Uint32()); err != nil {
				return err
			}
		}
	}
	return bw.Flush()
}

// build writes an Ethernet/IPv4/TCP header (no payload) into b.
func build(b []byte, src [4]byte, sport uint16, dst [4]byte, dport uint16, flags byte, seq, ack uint32) {
	copy(b, []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00})
	ip := b[14:34]
	ip[0], ip[1] = 0x45, 0
	binary.BigEndian.PutUint16(ip[2:], 40)
	ip[4], ip[5], ip[6], ip[7], ip[8], ip[9] = 0, 0, 0x40, 0, 64, 6
	ip[10], ip[11] = 0, 0
	copy(ip[12:], src[:])
	copy(ip[16:], dst[:])
	var s uint32
	for i := 0; i < 20; i += 2 {
		s += uint32(binary.BigEndian.Uint16(ip[i:]))
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	binary.BigEndian.PutUint16(ip[10:], ^uint16(s))
	tcp := b[34:54]
	binary.BigEndian.PutUint16(tcp[0:], sport)
	binary.BigEndian.PutUint16(tcp[2:], dport)
	binary.BigEndian.PutUint32(tcp[4:], seq)
	binary.BigEndian.PutUint32(tcp[8:], ack)
	tcp[12], tcp[13] = 5<<4, flags
	binary.BigEndian.PutUint16(tcp[14:], 1024)
	tcp[16], tcp[17], tcp[18], tcp[19] = 0, 0, 0, 0
	// TCP checksum over the pseudo-header and header.
	s = 0
	for i := 12; i < 20; i += 2 {
		s += uint32(binary.BigEndian.Uint16(ip[i:]))
	}
	s += 6 + 20
	for i := 0; i < 20; i += 2 {
		s += uint32(binary.BigEndian.Uint16(tcp[i:]))
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	binary.BigEndian.PutUint16(tcp[16:], ^uint16(s))
}
