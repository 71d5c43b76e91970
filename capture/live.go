package capture

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcap"

	"github.com/wirestate/wirestate/tracker"
)

// DefaultSnaplen is the snapshot length of live captures unless told
// otherwise: enough for the headers of a TCP segment with every option
// (60 bytes) behind IPv6 with extension headers, 802.1Q tags or a Linux
// cooked header, and one layer of tunnel (VXLAN, GRE), but no payload.
// Lengths come from the IP header, so payload bytes are not needed.
const DefaultSnaplen = 256

// DefaultReadTimeout is how long a live read waits for a packet before it
// returns ErrQuiet, so that the caller can move time on when the wire is
// quiet.
const DefaultReadTimeout = 100 * time.Millisecond

// DefaultBlockTimeout is how long the kernel fills an AF_PACKET ring
// block before it hands it over part full: the longest a packet waits in
// the ring on a quiet wire, so findings still stream within a fraction of
// a second.
const DefaultBlockTimeout = 100 * time.Millisecond

// ErrQuiet is returned by LiveSource.Next when no packet arrived within the
// read timeout.
var ErrQuiet = errors.New("capture: no packet within the read timeout")

// LiveOptions configures OpenLive. The zero value of a field selects the
// documented default, except for the booleans.
type LiveOptions struct {
	// Interface names the interface to capture on; "any" captures on all
	// of them (Linux cooked headers).
	Interface string
	// Filter is a BPF filter expression in pcap-filter(7) syntax; empty
	// captures everything.
	Filter string
	// Snaplen is the snapshot length in bytes; default DefaultSnaplen.
	Snaplen int
	// Promisc puts the interface in promiscuous mode.
	Promisc bool
	// BufferSize is the kernel capture buffer in bytes: libpcap's buffer
	// (0 keeps libpcap's default, 2 MiB on Linux), or each AF_PACKET
	// socket's ring (0: DefaultRingSize).
	BufferSize int
	// Immediate delivers every packet as soon as it arrives instead of
	// when a kernel buffer block fills or the read timeout passes. The
	// afpacket engine then retires its ring's blocks every millisecond
	// rather than every BlockTimeout.
	Immediate bool
	// Timeout is the read timeout; default DefaultReadTimeout.
	Timeout time.Duration
	// Decoder configures the packet decoder.
	Decoder DecoderOptions

	// Engine chooses the capture machinery; "" is DefaultEngine.
	Engine Engine
	// Workers is the number of AF_PACKET sockets OpenCapture opens in one
	// PACKET_FANOUT_HASH group (afpacket engine only); 0 or 1 opens one
	// socket, without fanout.
	Workers int
	// FanoutID is the fanout group's id; 0 derives one from the process
	// id.
	FanoutID uint16
	// BlockTimeout is how long the kernel fills a ring block before
	// handing it over part full (afpacket engine); default
	// DefaultBlockTimeout.
	BlockTimeout time.Duration
}

// DefaultRingMemory is the memory of a fanout group's rings together
// unless LiveOptions.BufferSize sets each ring's size: 16 MiB, about
// 80,000 packets of 128 bytes or 50,000 cut at the default snapshot
// length, a quarter of a second or more at 300,000 packets/s. Each ring
// gets its share, at least MinRingSize. The kernel zeroes a ring's pages
// when it is made, which on this project's virtual benchmark machine cost
// about 2 ms a MiB: a 64 MiB default spent 0.12 s before the first packet.
const DefaultRingMemory = 16 << 20

// MinRingSize is the smallest ring a worker gets by default.
const MinRingSize = 8 << 20

// RingSize returns the size of each of workers AF_PACKET rings for a
// LiveOptions.BufferSize of size bytes (0: the default share).
func RingSize(size, workers int) int {
	if size > 0 {
		return size
	}
	return max(DefaultRingMemory/max(workers, 1), MinRingSize)
}

// Engine names the machinery of live capture.
type Engine string

// The capture engines.
const (
	// EngineAFPacket reads Linux AF_PACKET TPACKET_V3 rings, without
	// copying, with one socket per worker in a fanout group.
	EngineAFPacket Engine = "afpacket"
	// EngineLibpcap reads through libpcap, one handle.
	EngineLibpcap Engine = "libpcap"
)

// Live is a live packet source: a LiveSource (libpcap) or, on Linux, a
// RingSource (AF_PACKET). One goroutine uses it.
type Live interface {
	// Next reads one packet, as LiveSource.Next does.
	Next(seg *tracker.Segment) (SkipReason, error)
	// CurrentPacket returns the packet Next read last, valid until the
	// next call to Next.
	CurrentPacket() ([]byte, gopacket.CaptureInfo)
	// Stats returns a copy of the counts so far.
	Stats() Stats
	// CaptureStats returns the kernel's counters, widened to 64 bits.
	CaptureStats() (CaptureCounters, error)
	// LinkType, Snaplen and Interface describe the capture.
	LinkType() LinkType
	Snaplen() int
	Interface() string
	// Close ends the capture.
	Close() error
}

// OpenCapture opens a live capture with the engine o names: one libpcap
// handle, or o.Workers AF_PACKET sockets sharing the interface's packets
// by flow. Problems are returned as by OpenLive.
func OpenCapture(o LiveOptions) ([]Live, error) {
	if o.Engine == "" {
		o.Engine = DefaultEngine
	}
	switch o.Engine {
	case EngineLibpcap:
		if o.Workers > 1 {
			return nil, &LiveError{Interface: o.Interface, Err: errors.New("the libpcap engine reads with one worker")}
		}
		s, err := OpenLive(o)
		if err != nil {
			return nil, err
		}
		return []Live{s}, nil
	case EngineAFPacket:
		rs, err := OpenRings(o)
		if err != nil {
			return nil, err
		}
		out := make([]Live, len(rs))
		for i, r := range rs {
			out[i] = r
		}
		return out, nil
	}
	return nil, &LiveError{Interface: o.Interface, Err: fmt.Errorf("unknown capture engine %q (want afpacket or libpcap)", o.Engine)}
}

// LiveError is a problem opening a live capture, worded for the person who
// ran the command: no such interface, no permission, a filter that does
// not compile.
type LiveError struct {
	// Interface is the interface named.
	Interface string
	// Err describes the problem.
	Err error
}

// Error formats the error as "IFACE: problem".
func (e *LiveError) Error() string { return fmt.Sprintf("%s: %v", e.Interface, e.Err) }

// Unwrap returns the underlying error.
func (e *LiveError) Unwrap() error { return e.Err }

// The kinds of LiveError, for errors.Is.
var (
	// ErrNoInterface means the interface does not exist.
	ErrNoInterface = errors.New("no such interface (wirestate -D lists them)")
	// ErrPermission means the process may not capture.
	ErrPermission = errors.New("permission denied: live capture needs root or CAP_NET_RAW (and CAP_NET_ADMIN for promiscuous mode); " +
		"run as root, or grant them with: setcap cap_net_raw,cap_net_admin=eip $(command -v wirestate)")
	// ErrInterfaceDown means the interface is not up.
	ErrInterfaceDown = errors.New("interface is not up")
	// ErrBadFilter means the BPF filter does not compile.
	ErrBadFilter = errors.New("bad capture filter")
)

// FilterError is a BPF filter that does not compile.
type FilterError struct {
	// Expr is the filter expression.
	Expr string
	// Msg is libpcap's complaint.
	Msg string
}

// Error formats the error as `bad capture filter "EXPR": MSG`.
func (e *FilterError) Error() string {
	return fmt.Sprintf("bad capture filter %q: %s", e.Expr, e.Msg)
}

// Is makes errors.Is(err, ErrBadFilter) true.
func (e *FilterError) Is(target error) bool { return target == ErrBadFilter }

// CompileFilter checks that expr compiles for packets of the given link
// type and snapshot length, without opening a device (so it needs no
// privileges). An empty expression is valid.
func CompileFilter(expr string, link LinkType, snaplen int) error {
	if strings.TrimSpace(expr) == "" {
		return nil
	}
	if snaplen <= 0 {
		snaplen = DefaultSnaplen
	}
	if _, err := pcap.CompileBPFFilter(layers.LinkType(link), snaplen, expr); err != nil {
		return &FilterError{Expr: expr, Msg: cleanPcapMessage(err.Error())}
	}
	return nil
}

// cleanPcapMessage trims the prefixes gopacket and libpcap put on messages.
func cleanPcapMessage(s string) string {
	for _, p := range []string{"Error: ", "can't parse filter expression: "} {
		s = strings.TrimPrefix(s, p)
	}
	return s
}

// CaptureCounters are libpcap's counts for a live capture, widened to 64
// bits (libpcap's own counters are 32-bit and wrap).
type CaptureCounters struct {
	// Received counts packets the kernel passed the filter (pcap_stats
	// ps_recv).
	Received uint64
	// Dropped counts packets the kernel dropped because the capture
	// buffer was full: the reader did not keep up (ps_drop).
	Dropped uint64
	// IfDropped counts packets the interface or its driver dropped
	// (ps_ifdrop).
	IfDropped uint64
	// Freezes counts the times an AF_PACKET ring was full and the kernel
	// froze its queue, dropping until the reader freed a block
	// (tp_freeze_q_cnt; always 0 for libpcap).
	Freezes uint64
}

// Add returns the sums of c's and o's counters.
func (c CaptureCounters) Add(o CaptureCounters) CaptureCounters {
	return CaptureCounters{Received: c.Received + o.Received, Dropped: c.Dropped + o.Dropped,
		IfDropped: c.IfDropped + o.IfDropped, Freezes: c.Freezes + o.Freezes}
}

// LiveSource reads TCP segments from a network interface through libpcap.
// It is not safe for concurrent use: one goroutine reads, and calls Stats
// and CaptureStats.
type LiveSource struct {
	liveState
	handle *pcap.Handle
}

// liveState is what both live engines keep beside their handle: where they
// capture, how the packets decode, their counts and the packet read last.
type liveState struct {
	iface   string
	link    LinkType
	snaplen int
	decoder *Decoder
	frame   uint64
	stats   Stats
	// data and ci describe the packet read last.
	data []byte
	ci   gopacket.CaptureInfo
	// wc widens the kernel's 32-bit counters.
	wc widener
}

// LinkType returns the link type of the captured packets.
func (s *liveState) LinkType() LinkType { return s.link }

// Snaplen returns the snapshot length the capture was opened with.
func (s *liveState) Snaplen() int { return s.snaplen }

// Interface returns the interface name.
func (s *liveState) Interface() string { return s.iface }

// CurrentPacket returns the packet Next read last: its captured bytes
// (valid until the next call to Next) and capture information. It returns
// nil data when the last call read no packet.
func (s *liveState) CurrentPacket() ([]byte, gopacket.CaptureInfo) {
	return s.data, s.ci
}

// Stats returns a copy of the counts so far.
func (s *liveState) Stats() Stats {
	st := s.stats
	st.Files = append([]FileInfo(nil), s.stats.Files...)
	return st
}

// read makes data (captured as ci says) the packet read last, numbers and
// counts it, and returns its time in nanoseconds since the epoch.
func (s *liveState) read(data []byte, ci gopacket.CaptureInfo) int64 {
	s.data, s.ci = data, ci
	s.frame++
	ts := ci.Timestamp.UnixNano()
	st := &s.stats
	if st.Packets == 0 {
		st.FirstTime = ts
	} else if ts < st.LastTime {
		st.BackwardsTimestamps++
	}
	st.LastTime = max(st.LastTime, ts)
	st.Packets++
	st.Files[0].Packets++
	st.Bytes += uint64(ci.Length)
	st.CapturedBytes += uint64(len(data))
	return ts
}

// tally counts a packet's decoding result.
func (s *liveState) tally(r SkipReason) {
	if r == SkipNone {
		s.stats.TCPSegments++
	} else {
		s.stats.Skipped[r]++
	}
}

// OpenLive opens a live capture. Problems are returned as *LiveError (or
// *FilterError inside one) with a message fit for the command line.
func OpenLive(o LiveOptions) (*LiveSource, error) {
	if o.Snaplen <= 0 {
		o.Snaplen = DefaultSnaplen
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultReadTimeout
	}
	fail := func(err error) (*LiveSource, error) { return nil, &LiveError{Interface: o.Interface, Err: err} }
	if o.Interface == "" {
		return fail(errors.New("no interface named"))
	}
	if o.Interface != "any" {
		if _, err := net.InterfaceByName(o.Interface); err != nil {
			return fail(ErrNoInterface)
		}
	}
	in, err := pcap.NewInactiveHandle(o.Interface)
	if err != nil {
		return fail(classifyPcapError(err))
	}
	defer in.CleanUp()
	for _, err := range []error{
		in.SetSnapLen(o.Snaplen),
		in.SetPromisc(o.Promisc),
		in.SetTimeout(o.Timeout),
		in.SetImmediateMode(o.Immediate),
	} {
		if err != nil {
			return fail(classifyPcapError(err))
		}
	}
	if o.BufferSize > 0 {
		if err := in.SetBufferSize(o.BufferSize); err != nil {
			return fail(classifyPcapError(err))
		}
	}
	h, err := in.Activate()
	if err != nil {
		return fail(classifyPcapError(err))
	}
	s := &LiveSource{handle: h, liveState: liveState{iface: o.Interface, link: LinkType(h.LinkType()), snaplen: h.SnapLen(),
		decoder: NewDecoder(o.Decoder)}}
	if strings.TrimSpace(o.Filter) != "" {
		if _, err := h.CompileBPFFilter(o.Filter); err != nil {
			h.Close()
			return fail(&FilterError{Expr: o.Filter, Msg: cleanPcapMessage(err.Error())})
		}
		if err := h.SetBPFFilter(o.Filter); err != nil {
			h.Close()
			return fail(&FilterError{Expr: o.Filter, Msg: cleanPcapMessage(err.Error())})
		}
	}
	s.stats.Files = []FileInfo{{Name: o.Interface, LinkTypes: []LinkType{s.link}}}
	return s, nil
}

// classifyPcapError turns libpcap's activation errors into the package's
// worded errors, keeping libpcap's message otherwise.
func classifyPcapError(err error) error {
	msg := err.Error()
	low := strings.ToLower(msg)
	switch {
	case strings.Contains(low, "no such device"):
		return ErrNoInterface
	case strings.Contains(low, "permission denied"), strings.Contains(low, "operation not permitted"),
		strings.Contains(low, "don't have permission"):
		return ErrPermission
	case strings.Contains(low, "not up"):
		return ErrInterfaceDown
	}
	return errors.New(cleanPcapMessage(msg))
}

// Next reads one packet. It returns SkipNone and a nil error with seg
// filled for a TCP segment; another SkipReason and a nil error for a packet
// that is not one (counted in Stats); ErrQuiet when no packet arrived
// within the read timeout; io.EOF after Close; any other error when the
// capture failed. seg.Frame is the packet's 1-based number among the
// packets read, seg.Time its capture time in Unix nanoseconds. The packet
// is read without copying: CurrentPacket's data is valid until the next
// call.
func (s *LiveSource) Next(seg *tracker.Segment) (SkipReason, error) {
	data, ci, err := s.handle.ZeroCopyReadPacketData()
	if err != nil {
		s.data = nil
		if err == pcap.NextErrorTimeoutExpired {
			return SkipNone, ErrQuiet
		}
		if err == io.EOF {
			return SkipNone, io.EOF
		}
		return SkipNone, &LiveError{Interface: s.iface, Err: err}
	}
	ts := s.read(data, ci)
	seg.Time, seg.Frame = ts, s.frame
	r := s.decoder.Decode(s.link, data, seg)
	s.tally(r)
	return r, nil
}

// CaptureStats asks libpcap for its counters and returns them widened to
// 64 bits. Call it often enough (every few seconds) that no 32-bit counter
// wraps twice between calls.
func (s *LiveSource) CaptureStats() (CaptureCounters, error) {
	ps, err := s.handle.Stats()
	if err != nil {
		return s.wc.wide, err
	}
	s.wc.widen([4]uint32{uint32(ps.PacketsReceived), uint32(ps.PacketsDropped), uint32(ps.PacketsIfDropped)})
	return s.wc.wide, nil
}

// widener widens 32-bit kernel counters to 64 bits.
type widener struct {
	// last are the raw 32-bit counters seen last, and wide their widened
	// sums.
	last [4]uint32
	wide CaptureCounters
}

// widen adds the change of each 32-bit counter (received, dropped,
// if-dropped, freezes) since the last call to the 64-bit sums, counting a
// smaller value as a wrap.
func (w *widener) widen(now [4]uint32) {
	sums := [4]*uint64{&w.wide.Received, &w.wide.Dropped, &w.wide.IfDropped, &w.wide.Freezes}
	for i, v := range now {
		*sums[i] += uint64(v - w.last[i]) // modular: a wrap is a small delta
		w.last[i] = v
	}
}

// Close ends the capture; Next then returns io.EOF.
func (s *LiveSource) Close() error {
	if s.handle != nil {
		s.handle.Close()
	}
	return nil
}

// Interface describes one capture device, as -D lists them.
type Interface struct {
	// Name is the device name to give OpenLive.
	Name string
	// Description is libpcap's description, often empty on Linux.
	Description string
	// Addresses lists the device's IP addresses.
	Addresses []string
}

// Interfaces lists the devices libpcap can capture on.
func Interfaces() ([]Interface, error) {
	devs, err := pcap.FindAllDevs()
	if err != nil {
		return nil, classifyPcapError(err)
	}
	out := make([]Interface, 0, len(devs))
	for _, d := range devs {
		i := Interface{Name: d.Name, Description: d.Description}
		for _, a := range d.Addresses {
			if a.IP != nil {
				i.Addresses = append(i.Addresses, a.IP.String())
			}
		}
		out = append(out, i)
	}
	return out, nil
}
