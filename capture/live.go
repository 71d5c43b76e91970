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
	// BufferSize is the kernel capture buffer in bytes; 0 keeps libpcap's
	// default (2 MiB on Linux).
	BufferSize int
	// Immediate delivers every packet as soon as it arrives instead of
	// when a kernel buffer block fills or the read timeout passes.
	Immediate bool
	// Timeout is the read timeout; default DefaultReadTimeout.
	Timeout time.Duration
	// Decoder configures the packet decoder.
	Decoder DecoderOptions
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
}

// LiveSource reads TCP segments from a network interface through libpcap.
// It is not safe for concurrent use: one goroutine reads, and calls Stats
// and CaptureStats.
type LiveSource struct {
	handle  *pcap.Handle
	iface   string
	link    LinkType
	snaplen int
	decoder *Decoder
	frame   uint64
	stats   Stats
	// data and ci describe the packet read last.
	data []byte
	ci   gopacket.CaptureInfo
	// last are the raw 32-bit counters seen last, and wide their widened
	// sums.
	last [3]uint32
	wide CaptureCounters
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
	s := &LiveSource{handle: h, iface: o.Interface, link: LinkType(h.LinkType()), snaplen: h.SnapLen(),
		decoder: NewDecoder(o.Decoder)}
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

// LinkType returns the link type of the captured packets.
func (s *LiveSource) LinkType() LinkType { return s.link }

// Snaplen returns the snapshot length the capture was opened with.
func (s *LiveSource) Snaplen() int { return s.snaplen }

// Interface returns the interface name.
func (s *LiveSource) Interface() string { return s.iface }

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
	seg.Time, seg.Frame = ts, s.frame
	r := s.decoder.Decode(s.link, data, seg)
	if r == SkipNone {
		st.TCPSegments++
	} else {
		st.Skipped[r]++
	}
	return r, nil
}

// CurrentPacket returns the packet Next read last: its captured bytes
// (valid until the next call to Next) and capture information. It returns
// nil data when the last call read no packet.
func (s *LiveSource) CurrentPacket() ([]byte, gopacket.CaptureInfo) {
	return s.data, s.ci
}

// Stats returns a copy of the counts so far.
func (s *LiveSource) Stats() Stats {
	st := s.stats
	st.Files = append([]FileInfo(nil), s.stats.Files...)
	return st
}

// CaptureStats asks libpcap for its counters and returns them widened to
// 64 bits. Call it often enough (every few seconds) that no 32-bit counter
// wraps twice between calls.
func (s *LiveSource) CaptureStats() (CaptureCounters, error) {
	ps, err := s.handle.Stats()
	if err != nil {
		return s.wide, err
	}
	s.widen([3]uint32{uint32(ps.PacketsReceived), uint32(ps.PacketsDropped), uint32(ps.PacketsIfDropped)})
	return s.wide, nil
}

// widen adds the change of each 32-bit counter since the last call to the
// 64-bit sums, counting a smaller value as a wrap.
func (s *LiveSource) widen(now [3]uint32) {
	sums := [3]*uint64{&s.wide.Received, &s.wide.Dropped, &s.wide.IfDropped}
	for i, v := range now {
		*sums[i] += uint64(v - s.last[i]) // modular: a wrap is a small delta
		s.last[i] = v
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
