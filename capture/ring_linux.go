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
	"syscall"
	"time"

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
	pollTimeout := o.Timeout
	if netpoll {
		pollTimeout = 0 // afpacket only looks; the wait is Next's
	}
	opts := []any{
		afpacket.TPacketVersion3,
		afpacket.OptFrameSize(2048),
		afpacket.OptBlockSize(block),
		afpacket.OptNumBlocks(max(o.BufferSize/block, 2)),
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
			if err := s.registerPoller(); err != nil {
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

// netpoll is whether RingSource waits through Go's network poller: it
// needs the socket's descriptor, which afpacket keeps in an unexported
// field (read with reflect; when a gopacket release renames it, rings
// fall back to afpacket's blocking poll).
var netpoll = ringFDField() >= 0

// ringFDField returns the index of afpacket.TPacket's descriptor field,
// or -1.
func ringFDField() int {
	f, ok := reflect.TypeFor[afpacket.TPacket]().FieldByName("fd")
	if !ok || f.Type.Kind() != reflect.Int || len(f.Index) != 1 {
		return -1
	}
	return f.Index[0]
}

// registerPoller hands a duplicate of the socket's descriptor to Go's
// network poller.
func (s *RingSource) registerPoller() error {
	fd := int(reflect.ValueOf(s.tp).Elem().Field(ringFDField()).Int())
	dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
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
// block leaves at timeout part full: 32 blocks at least (3.2 s of a quiet
// wire at the default timeout before a stalled reader loses anything),
// 128 when the timeout is short (immediate mode).
func ringBlock(size int, timeout time.Duration) int {
	page := os.Getpagesize()
	blocks := 32
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
	var deadline time.Time
	data, ci, err := s.tp.ZeroCopyReadPacketData()
	for err == afpacket.ErrTimeout && s.rc != nil {
		// The ring is empty: wait for a block, at most the read timeout.
		if deadline.IsZero() {
			deadline = time.Now().Add(s.timeout)
		}
		if !s.wait(deadline) {
			break
		}
		data, ci, err = s.tp.ZeroCopyReadPacketData()
	}
	for err == nil && ci.Timestamp.UnixNano() < s.filteredFrom {
		// Received before the filter was attached: the kernel counted
		// it, the capture does not analyse it.
		s.stats.Packets++
		s.stats.Filtered++
		data, ci, err = s.tp.ZeroCopyReadPacketData()
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

// CaptureStats returns the socket's counters (PACKET_STATISTICS: packets
// that reached the socket, drops, queue freezes) widened to 64 bits. Call
// it every few seconds, so that no 32-bit counter wraps twice between
// calls.
func (s *RingSource) CaptureStats() (CaptureCounters, error) {
	if s.closed {
		return s.wc.wide, nil
	}
	_, v3, err := s.tp.SocketStats()
	if err != nil {
		return s.wc.wide, err
	}
	s.wc.widen([4]uint32{uint32(v3.Packets()), uint32(v3.Drops()), 0, uint32(v3.QueueFreezes())})
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
