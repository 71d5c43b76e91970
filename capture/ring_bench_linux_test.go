//go:build linux

package capture

import (
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"golang.org/x/sys/unix"

	"github.com/wirestate/wirestate/tracker"
)

// ringRig is a ring on the server's end of a veth and an AF_PACKET sender
// on the client's end that fills it with data segments of 1,000
// connections (Ethernet, IPv4, TCP with timestamps, 100 bytes of payload).
type ringRig struct {
	src   *RingSource
	fd    int
	frame []byte
	n     uint32
}

// ringRigBlockTimeout is the rig's block timeout. A round is sent before
// it is read, over a quarter of a second for 50,000 packets, and every
// timeout hands over a part-full block: with 2 ms, the 128 blocks of the
// benchmark's ring all filled before the reader began, and the kernel
// dropped packets (the benchmark then failed, "ring quiet").
const ringRigBlockTimeout = 20 * time.Millisecond

func newRingRig(t testing.TB, size int) *ringRig {
	t.Helper()
	cli, srv, cif, sif := ringLab(t)
	rig := &ringRig{}
	var dst net.HardwareAddr
	inNetns(t, srv, func() {
		ifi, err := net.InterfaceByName(sif)
		if err != nil {
			t.Error(err)
			return
		}
		dst = ifi.HardwareAddr
		srcs, err := OpenRings(LiveOptions{Interface: sif, BufferSize: size, Snaplen: 128,
			Timeout: 20 * time.Millisecond, BlockTimeout: ringRigBlockTimeout})
		if err != nil {
			t.Error(err)
			return
		}
		rig.src = srcs[0]
	})
	inNetns(t, cli, func() {
		ifi, err := net.InterfaceByName(cif)
		if err != nil {
			t.Error(err)
			return
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0)
		if err != nil {
			t.Error(err)
			return
		}
		rig.fd = fd
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Ifindex: ifi.Index}); err != nil {
			t.Error(err)
		}
		unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_QDISC_BYPASS, 1)
	})
	if t.Failed() {
		t.FailNow()
	}
	t.Cleanup(func() { rig.src.Close(); unix.Close(rig.fd) })
	ip := ipv4(net.IP{10, 77, 0, 1}, net.IP{10, 77, 0, 2}, layers.IPProtocolTCP)
	opts := []layers.TCPOption{{OptionType: layers.TCPOptionKindNop, OptionLength: 1}, {OptionType: layers.TCPOptionKindNop, OptionLength: 1},
		{OptionType: layers.TCPOptionKindTimestamps, OptionLength: 10, OptionData: []byte{0, 0, 0x30, 0x39, 0, 0, 0, 7}}}
	e := eth(layers.EthernetTypeIPv4)
	e.DstMAC = dst
	rig.frame = serialize(t, e, ip, tcpOver(ip, 40000, 80, false, opts), payload(100))
	return rig
}

// send writes n frames, each of the next connection (by source port).
func (r *ringRig) send(t testing.TB, n int) {
	for i := 0; i < n; i++ {
		r.n++
		binary.BigEndian.PutUint16(r.frame[34:], uint16(20000+r.n%1000))
		for {
			_, err := unix.Write(r.fd, r.frame)
			if err == nil {
				break
			}
			if err != unix.ENOBUFS && err != unix.EAGAIN {
				t.Fatalf("send: %v", err)
			}
			time.Sleep(10 * time.Microsecond)
		}
	}
}

// read reads n TCP segments, failing on anything else.
func (r *ringRig) read(t testing.TB, n int, seg *tracker.Segment) {
	for got := 0; got < n; {
		reason, err := r.src.Next(seg)
		switch {
		case err == ErrQuiet:
			cc, _ := r.src.CaptureStats()
			t.Fatalf("ring quiet after %d of %d packets (kernel: %+v; read %+v)", got, n, cc, r.src.Stats())
		case err != nil:
			t.Fatal(err)
		case reason == SkipNone:
			got++
		}
	}
}

// TestRingNoAllocations: reading and decoding a TCP segment from the ring
// allocates nothing.
func TestRingNoAllocations(t *testing.T) {
	rig := newRingRig(t, 8<<20)
	const n = 5000
	rig.send(t, n+100)
	var seg tracker.Segment
	rig.read(t, 100, &seg)
	allocs := testing.AllocsPerRun(n-1, func() { rig.read(t, 1, &seg) })
	if allocs != 0 {
		t.Fatalf("%v allocations per packet read from the ring, want 0", allocs)
	}
	if seg.PayloadLen != 100 || seg.Dst.Port != 80 {
		t.Errorf("decoded %+v", seg)
	}
}

// BenchmarkRingReadDecode: reading packets from a TPACKET_V3 ring and
// decoding them in place, the live capture's per-packet path before the
// tracker. The ring is filled while the timer is stopped (rounds of 50,000
// packets), so the figure is the reader's cost alone.
func BenchmarkRingReadDecode(b *testing.B) {
	rig := newRingRig(b, 64<<20)
	var seg tracker.Segment
	b.ReportAllocs()
	b.ResetTimer()
	for left := b.N; left > 0; {
		k := min(left, 50000)
		b.StopTimer()
		rig.send(b, k)
		time.Sleep(ringRigBlockTimeout + 5*time.Millisecond) // the last block retires
		b.StartTimer()
		rig.read(b, k, &seg)
		left -= k
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "packets/s")
	if cc, _ := rig.src.CaptureStats(); cc.Dropped != 0 {
		b.Fatalf("the ring dropped %d packets", cc.Dropped)
	}
}
