//go:build linux

package capture

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"reflect"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/afpacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcap"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/wirestate/wirestate/tracker"
)

// quietMargin is how long a ring read waits past the block timeout before
// it reports a quiet wire (ErrQuiet).
const quietMargin = 50 * time.Millisecond

// DefaultEngine is the capture engine when LiveOptions.Engine is empty:
// AF_PACKET rings on Linux.
const DefaultEngine = EngineAFPacket

// maxRingBlock is the largest ring block: about 5,000 packets of the
// default snapshot length. Each block handed over wakes the reader (a
// goroutine park and unpark, a few syscalls of the Go runtime): at
// 25,000 packets/s per worker, 256 KiB blocks cost twice the wake-ups
// and about 15% more CPU per packet on the live benchmark; a busy ring
// still hands a block over every few milliseconds.
const maxRingBlock = 1 << 20

// The ARPHRD_ device types whose frames start with an Ethernet header.
const (
	arphrdEther    = 1
	arphrdLoopback = 772
)

// RingSource reads TCP segments from one AF_PACKET socket's TPACKET_V3
// ring, without copying: packets are decoded where the kernel put them.
// Several RingSources opened together share an interface's packets by
// flow (PACKET_FANOUT_HASH), each read by its own goroutine. It is not safe
// for concurrent use.
type RingSource struct {
	liveState
	tp     *afpacket.TPacket
	dgram  bool // packets start at the network header (SOCK_DGRAM)
	closed bool
	// filteredFrom is when the filter was attached (Unix nanoseconds):
	// packets received earlier passed no filter and are not the capture's.
	filteredFrom int64
	// The socket's readiness is awaited through Go's network poller, on a
	// duplicate of its descriptor: a blocking poll(2) would cost a thread
	// hand-off and wake the scheduler's monitor at every ring block.
	// Without it (see ringFD), afpacket's own poll blocks for timeout.
	poller  *os.File
	rc      syscall.RawConn
	readyFn func(uintptr) bool // s.ready, made once
	timeout time.Duration
	calls   int // calls of ready in the current wait
	// With the poller, RingSource follows afpacket through the ring (see
	// ringLayout): fd is the socket, ring the first block, at afpacket's
	// index of the block being read, blockSize and blocks the ring's shape.
	fd        int
	ring      unsafe.Pointer
	at        *int
	blockSize uintptr
	blocks    int
	// seq is the sequence number of the block the last packet came from
	// (the kernel numbers blocks from 1), left how many of its packets
	// are still unread.
	seq  uint64
	left uint32
	// kstats accumulates PACKET_STATISTICS, which the kernel resets at
	// each read: packets, drops, queue freezes.
	kstats [3]uint32
}

// OpenRings opens o.Workers AF_PACKET sockets (at least one) on
// o.Interface, each with a TPACKET_V3 ring of o.BufferSize bytes (default
// DefaultRingSize), and, when there are several, joins them in one
// PACKET_FANOUT_HASH group: the kernel's symmetric flow hash sends both
// directions of a connection to the same socket. The BPF filter is
// compiled by libpcap for the packets' link type and snapshot length (its
// return value is what bounds the bytes copied) and attached to every
// socket. "any" captures on every interface with SOCK_DGRAM sockets, whose
// packets start at the IP header (link type RAW, no cooked header); so do
// interfaces without an Ethernet header (tun, WireGuard). Problems are
// returned as *LiveError (or *FilterError inside one).
func OpenRings(o LiveOptions) ([]*RingSource, error) {
	if o.Snaplen <= 0 {
		o.Snaplen = DefaultSnaplen
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultReadTimeout
	}
	if o.BlockTimeout <= 0 {
		o.BlockTimeout = DefaultBlockTimeout
	}
	if o.Immediate {
		o.BlockTimeout = time.Millisecond
	}
	// A quiet read means no block came within a block timeout: a packet
	// in a part-full block is handed over by then.
	o.Timeout = max(o.Timeout, o.BlockTimeout+quietMargin)
	n := max(o.Workers, 1)
	o.BufferSize = RingSize(o.BufferSize, n)
	fail := func(err error) ([]*RingSource, error) { return nil, &LiveError{Interface: o.Interface, Err: err} }
	if o.Interface == "" {
		return fail(errors.New("no interface named"))
	}
	link, dgram := LinkRaw, true
	if o.Interface != "any" {
		ifi, err := net.InterfaceByName(o.Interface)
		if err != nil {
			return fail(ErrNoInterface)
		}
		if ifi.Flags&net.FlagUp == 0 {
			return fail(ErrInterfaceDown)
		}
		if t := deviceType(o.Interface); t == arphrdEther || t == arphrdLoopback {
			link, dgram = LinkEthernet, false
		}
	}
	// The filter, compiled for what the socket sees: DLT_RAW (12) for
	// packets that start at the IP header. Its accepting return value is
	// the snapshot length, which the kernel applies.
	filterLink := layers.LinkTypeEthernet
	if dgram {
		filterLink = layers.LinkType(LinkRawDLT12)
	}
	prog, err := pcap.CompileBPFFilter(filterLink, o.Snaplen, o.Filter)
	if err != nil {
		if strings.TrimSpace(o.Filter) == "" {
			return fail(errors.New(cleanPcapMessage(err.Error())))
		}
		return fail(&FilterError{Expr: o.Filter, Msg: cleanPcapMessage(err.Error())})
	}
	filter := make([]bpf.RawInstruction, len(prog))
	for i, ins := range prog {
		filter[i] = bpf.RawInstruction{Op: ins.Code, Jt: ins.Jt, Jf: ins.Jf, K: ins.K}
	}
	if lo, err := net.InterfaceByName("lo"); err == nil && (o.Interface == "any" || o.Interface == lo.Name) {
		filter = loopbackOnce(filter, o.Interface == "any", uint32(lo.Index))
	}
	block := ringBlock(o.BufferSize, o.BlockTimeout)
	blocks := max(o.BufferSize/block, 2)
	pollTimeout := o.Timeout
	if netpoll {
		pollTimeout = 0 // afpacket only looks; the wait is Next's
	}
	opts := []any{
		afpacket.TPacketVersion3,
		afpacket.OptFrameSize(2048),
		afpacket.OptBlockSize(block),
		afpacket.OptNumBlocks(blocks),
		afpacket.OptBlockTimeout(o.BlockTimeout),
		afpacket.OptPollTimeout(pollTimeout),
	}
	if dgram {
		opts = append(opts, afpacket.SocketDgram)
	}
	if o.Interface != "any" {
		opts = append(opts, afpacket.OptInterface(o.Interface))
	}
	// Each socket drops everything until every one has joined the fanout
	// group: a socket alone would otherwise take every flow's packets.
	dropAll := []bpf.RawInstruction{{Op: 0x06, K: 0}} // ret #0
	var out []*RingSource
	closeAll := func() {
		for _, s := range out {
			s.Close()
		}
	}
	id := o.FanoutID
	if id == 0 {
		id = uint16(os.Getpid())
	}
	for i := 0; i < n; i++ {
		tp, err := afpacket.NewTPacket(opts...)
		if err != nil {
			closeAll()
			return fail(classifySocketError(err))
		}
		s := &RingSource{tp: tp, dgram: dgram, timeout: o.Timeout,
			liveState: liveState{iface: o.Interface, link: link, snaplen: o.Snaplen, decoder: NewDecoder(o.Decoder)}}
		s.stats.Files = []FileInfo{{Name: o.Interface, LinkTypes: []LinkType{link}}}
		out = append(out, s)
		if netpoll {
			if err := s.registerPoller(block, blocks); err != nil {
				closeAll()
				return fail(err)
			}
		}
		if n == 1 {
			break
		}
		if err := tp.SetBPF(dropAll); err != nil {
			closeAll()
			return fail(fmt.Errorf("attaching a filter: %v", err))
		}
		if err := joinFanout(tp, &id, i == 0); err != nil {
			closeAll()
			return fail(err)
		}
	}
	for _, s := range out {
		// The socket was bound before any filter was attached: what it
		// received until now passed no filter and is read past (Next).
		s.filteredFrom = time.Now().UnixNano()
		if err := s.tp.SetBPF(filter); err != nil {
			closeAll()
			return fail(&FilterError{Expr: o.Filter, Msg: fmt.Sprintf("the kernel refused it: %v", err)})
		}
	}
	if o.Promisc && o.Interface != "any" {
		// Membership is the interface's, counted per socket: one is enough.
		if err := out[0].tp.SetPromiscuous(true); err != nil {
			closeAll()
			return fail(classifySocketError(err))
		}
	}
	return out, nil
}

// netpoll is whether RingSource waits through Go's network poller and
// reads the ring's state itself. It needs what afpacket keeps in
// unexported fields: the socket's descriptor, the ring's address and the
// index of the block being read (found with reflect; when a gopacket
// release renames them, rings fall back to afpacket's blocking poll).
//
// Why not afpacket's poll: a syscall made through the Go scheduler
// (entersyscall) wakes the runtime's monitor thread when it sleeps, and
// the monitor then polls every 20 µs for as long as a goroutine runs. A
// ring read made a non-blocking ppoll at the end of every block and a
// PACKET_STATISTICS read at every tick, so each block handed over cost
// dozens of monitor wake-ups (strace, 50,000 packets/s: 200 nanosleep a
// second). RingSource instead looks at the next block's status word, as
// the kernel's own poll does, waits through the network poller (no
// syscall of the goroutine's), and reads the counters with a raw
// getsockopt, which never blocks.
var netpoll = layout.ok

// layout is where afpacket.TPacket keeps what RingSource reads.
var layout = ringLayoutOf(reflect.TypeFor[afpacket.TPacket]())

// ringLayout holds the byte offsets of afpacket.TPacket's fields: fd (the
// socket), rawring (the ring's first byte) and offset (the index of the
// block being read); ok when all three were found with the expected types.
type ringLayout struct {
	fd, rawring, offset uintptr
	ok                  bool
}

// ringLayoutOf finds the fields of ringLayout in t.
func ringLayoutOf(t reflect.Type) ringLayout {
	var l ringLayout
	for _, want := range []struct {
		name string
		kind reflect.Kind
		off  *uintptr
	}{{"fd", reflect.Int, &l.fd}, {"rawring", reflect.UnsafePointer, &l.rawring}, {"offset", reflect.Int, &l.offset}} {
		f, ok := t.FieldByName(want.name)
		if !ok || f.Type.Kind() != want.kind || len(f.Index) != 1 {
			return ringLayout{}
		}
		*want.off = f.Offset
	}
	l.ok = true
	return l
}

// The TPACKET_V3 block descriptor (struct tpacket_block_desc): a version
// and a private-area offset, then struct tpacket_hdr_v1.
const (
	blockStatusAt = 8  // block_status (uint32): TP_STATUS_USER when handed over
	blockPktsAt   = 12 // num_pkts (uint32)
	blockSeqAt    = 24 // seq_num (uint64)
)

// follow notes, after afpacket returned a packet, which block it came
// from and how many of that block's packets are left.
func (s *RingSource) follow() {
	b := s.block(*s.at)
	seq := *(*uint64)(unsafe.Add(b, blockSeqAt))
	switch {
	case seq != s.seq:
		s.seq, s.left = seq, *(*uint32)(unsafe.Add(b, blockPktsAt))-1
	case s.left > 0:
		s.left--
	}
}

// drained reports whether every packet of the block read last is read
// (or none was ever read) and the next block is still the kernel's:
// afpacket would poll.
func (s *RingSource) drained() bool {
	if s.left > 0 {
		return false
	}
	next := *s.at // before the first block, afpacket starts at its offset
	if s.seq != 0 {
		next = (next + 1) % s.blocks
	}
	return atomic.LoadUint32((*uint32)(unsafe.Add(s.block(next), blockStatusAt)))&unix.TP_STATUS_USER == 0
}

// block returns the address of block i of the ring.
func (s *RingSource) block(i int) unsafe.Pointer {
	return unsafe.Add(s.ring, uintptr(i)*s.blockSize)
}

// registerPoller hands a duplicate of the socket's descriptor to Go's
// network poller, and notes where afpacket keeps the ring's state.
func (s *RingSource) registerPoller(blockSize, blocks int) error {
	tp := unsafe.Pointer(s.tp)
	s.fd = *(*int)(unsafe.Add(tp, layout.fd))
	s.ring = *(*unsafe.Pointer)(unsafe.Add(tp, layout.rawring))
	s.at = (*int)(unsafe.Add(tp, layout.offset))
	s.blockSize, s.blocks = uintptr(blockSize), blocks
	dup, err := unix.FcntlInt(uintptr(s.fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("duplicating the socket: %v", err)
	}
	if err := unix.SetNonblock(dup, true); err != nil {
		unix.Close(dup)
		return fmt.Errorf("socket: %v", err)
	}
	s.poller = os.NewFile(uintptr(dup), s.iface)
	rc, err := s.poller.SyscallConn()
	if err != nil {
		s.poller.Close()
		s.poller = nil
		return fmt.Errorf("socket: %v", err)
	}
	s.rc, s.readyFn = rc, s.ready
	return nil
}

// ready is the poller's callback: false at the first call of a wait (the
// ring was just found empty), so that the poller waits for the socket to
// become readable; true after.
func (s *RingSource) ready(uintptr) bool {
	s.calls++
	return s.calls > 1
}

// wait waits until the socket is readable (a ring block was handed over)
// or until deadline; it reports whether it became readable.
func (s *RingSource) wait(deadline time.Time) bool {
	if s.poller.SetReadDeadline(deadline) != nil {
		return false
	}
	s.calls = 0
	return s.rc.Read(s.readyFn) == nil
}

// loopbackOnce puts in front of filter a test that drops the outgoing copy
// of each packet on the loopback interface (every interface's, with any,
// on ifindex lo), as libpcap does: the kernel hands a packet sent on lo to
// packet sockets twice, going out and coming in.
func loopbackOnce(filter []bpf.RawInstruction, any bool, lo uint32) []bpf.RawInstruction {
	prefix := []bpf.Instruction{
		bpf.LoadExtension{Num: bpf.ExtType},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.PACKET_OUTGOING, SkipFalse: 1},
		bpf.RetConstant{Val: 0},
	}
	if any {
		prefix = []bpf.Instruction{
			bpf.LoadExtension{Num: bpf.ExtType},
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: unix.PACKET_OUTGOING, SkipFalse: 3},
			bpf.LoadExtension{Num: bpf.ExtInterfaceIndex},
			bpf.JumpIf{Cond: bpf.JumpEqual, Val: lo, SkipFalse: 1},
			bpf.RetConstant{Val: 0},
		}
	}
	raw, err := bpf.Assemble(prefix)
	if err != nil {
		panic("capture: the loopback filter does not assemble: " + err.Error()) // constant instructions
	}
	// The filter's jumps are relative: it runs unchanged after the prefix.
	return append(raw, filter...)
}

// joinFanout adds tp to the PACKET_FANOUT_HASH group *id. The first socket
// moves on to the next ids when a group of another kind already has it.
func joinFanout(tp *afpacket.TPacket, id *uint16, first bool) error {
	var err error
	for try := 0; try < 16; try++ {
		if err = tp.SetFanout(afpacket.FanoutHash, *id); err == nil || !first || !errors.Is(err, syscall.EINVAL) {
			break
		}
		*id++
	}
	if err != nil {
		return fmt.Errorf("joining fanout group %d: %v", *id, err)
	}
	return nil
}

// ringBlock returns the block size of a ring of size bytes whose blocks
// are handed over after timeout: at most maxRingBlock, a whole number of
// pages, and small enough for many blocks, since on a slow wire each
// block leaves at timeout part full: 16 blocks at least (1.6 s of a slow
// wire at the default timeout before a stalled reader loses anything;
// the default 8 MiB ring of each of two workers has 512 KiB blocks, which
// at 25,000 packets/s a worker cost 5-15% less CPU than 32 blocks of
// 256 KiB, from fewer hand-overs), 128 when the timeout is short
// (immediate mode: 1 MiB blocks in an 8 MiB ring with a 2 ms timeout
// froze the ring, all of its blocks part full).
func ringBlock(size int, timeout time.Duration) int {
	page := os.Getpagesize()
	blocks := 16
	if timeout < 10*time.Millisecond {
		blocks = 128
	}
	b := min(maxRingBlock, size/blocks)
	return max(b/page*page, page)
}

// deviceType returns the interface's ARPHRD_ type (SIOCGIFHWADDR, asked
// in the calling thread's network namespace, which /sys may not show), or
// -1 when unknown.
func deviceType(iface string) int {
	ifr, err := unix.NewIfreq(iface)
	if err != nil {
		return -1
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1
	}
	defer unix.Close(fd)
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFHWADDR, ifr); err != nil {
		return -1
	}
	return int(ifr.Uint16()) // the hardware address's sa_family
}

// classifySocketError turns AF_PACKET socket errors into the package's
// worded errors.
func classifySocketError(err error) error {
	switch {
	case errors.Is(err, syscall.EPERM), errors.Is(err, syscall.EACCES):
		return ErrPermission
	case errors.Is(err, syscall.ENODEV), errors.Is(err, syscall.ENXIO):
		return ErrNoInterface
	case errors.Is(err, syscall.ENETDOWN):
		return ErrInterfaceDown
	}
	return err
}

// Next reads one packet from the ring, as LiveSource.Next does: SkipNone
// and a nil error with seg filled for a TCP segment; another SkipReason
// for a packet that is not one; ErrQuiet when no block arrived within the
// read timeout; io.EOF after Close. The packet stays in the ring: it is
// valid until the next call.
func (s *RingSource) Next(seg *tracker.Segment) (SkipReason, error) {
	if s.closed {
		return SkipNone, io.EOF
	}
	data, ci, err := s.packet(true)
	for err == nil && ci.Timestamp.UnixNano() < s.filteredFrom {
		// Received before the filter was attached: the kernel counted
		// it, the capture does not analyse it.
		s.stats.Packets++
		s.stats.Filtered++
		data, ci, err = s.packet(false)
	}
	if err != nil {
		s.data = nil
		if err == afpacket.ErrTimeout {
			return SkipNone, ErrQuiet
		}
		return SkipNone, &LiveError{Interface: s.iface, Err: err}
	}
	ts := s.read(data, ci)
	seg.Time, seg.Frame = ts, s.frame
	var r SkipReason
	if s.dgram && (len(data) == 0 || (data[0]>>4 != 4 && data[0]>>4 != 6)) {
		// Without a link header, ARP and the like show by their first
		// byte: not an IP version.
		*seg = tracker.Segment{Time: ts, Frame: s.frame}
		r = SkipNotIP
	} else {
		r = s.decoder.Decode(s.link, data, seg)
	}
	s.tally(r)
	return r, nil
}

// packet returns afpacket's next packet, afpacket.ErrTimeout when the ring
// is empty. With wait, an empty ring is awaited for the read timeout
// first: through the network poller when it can be (without asking
// afpacket while the next block is the kernel's: it would poll), or in
// afpacket's own poll.
func (s *RingSource) packet(wait bool) ([]byte, gopacket.CaptureInfo, error) {
	var deadline time.Time
	for {
		if s.rc == nil || !s.drained() {
			data, ci, err := s.tp.ZeroCopyReadPacketData()
			if s.rc == nil || err != afpacket.ErrTimeout {
				if err == nil && s.rc != nil {
					s.follow()
				}
				return data, ci, err
			}
		}
		if !wait {
			return nil, gopacket.CaptureInfo{}, afpacket.ErrTimeout
		}
		if deadline.IsZero() {
			deadline = time.Now().Add(s.timeout)
		}
		if !s.wait(deadline) {
			return nil, gopacket.CaptureInfo{}, afpacket.ErrTimeout
		}
	}
}

// CaptureStats returns the socket's counters (PACKET_STATISTICS: packets
// that reached the socket, drops, queue freezes) widened to 64 bits. Call
// it every few seconds, so that no 32-bit counter wraps twice between
// calls.
func (s *RingSource) CaptureStats() (CaptureCounters, error) {
	if s.closed {
		return s.wc.wide, nil
	}
	if s.rc == nil {
		_, v3, err := s.tp.SocketStats()
		if err != nil {
			return s.wc.wide, err
		}
		s.wc.widen([4]uint32{uint32(v3.Packets()), uint32(v3.Drops()), 0, uint32(v3.QueueFreezes())})
		return s.wc.wide, nil
	}
	// struct tpacket_stats_v3, read without entering the scheduler (see
	// netpoll): getsockopt on a packet socket does not block.
	var st [3]uint32
	n := uint32(unsafe.Sizeof(st))
	_, _, errno := unix.RawSyscall6(unix.SYS_GETSOCKOPT, uintptr(s.fd), unix.SOL_PACKET, unix.PACKET_STATISTICS,
		uintptr(unsafe.Pointer(&st)), uintptr(unsafe.Pointer(&n)), 0)
	if errno != 0 {
		return s.wc.wide, errno
	}
	for i := range st {
		s.kstats[i] += st[i]
	}
	s.wc.widen([4]uint32{s.kstats[0], s.kstats[1], 0, s.kstats[2]})
	return s.wc.wide, nil
}

// Close releases the socket and its ring; Next then returns io.EOF. It
// must not be called while another goroutine is inside Next.
func (s *RingSource) Close() error {
	if !s.closed {
		s.closed = true
		s.data = nil
		if s.poller != nil {
			s.poller.Close()
		}
		s.tp.Close()
	}
	return nil
}
