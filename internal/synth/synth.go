// Package synth generates realistic, deterministic TCP conversations as
// Ethernet frames and classic pcap files, for tests and benchmarks of
// wirestate that must not depend on root, namespaces or recorded traffic.
//
// Each connection has a full three-way handshake with MSS, SACK-permitted,
// timestamp and window-scale options, request and response data segments
// with acknowledgements, and a FIN/FIN close started by either side; a
// configurable share is aborted with RST after the handshake or refused
// (SYN answered by RST). Every segment carries the timestamp option except
// the RST refusing a connection, which, as Linux sends it, has no options.
// Each data segment carries one whole HTTP/1.1 request or response, so
// dissectors such as tshark's see coherent HTTP even in truncated captures.
// Some connections start with ISNs just below 2^32 so that their sequence
// numbers wrap. Connections are interleaved so that a flow table
// holds Config.Concurrency of them at once, and packet times increase by a
// few microseconds. IPv4 header checksums and TCP checksums are correct for
// the full, untruncated segments even when only Config.Snaplen bytes are
// written.
//
// Generation is streaming: only the active window of connections is kept
// in memory, frames are built by hand in a reused buffer, and the whole
// output is a pure function of the Config.
package synth

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/gopacket/gopacket"
)

// Defaults applied when a Config field is left at zero.
const (
	// DefaultDataSegments is the number of data segments each side sends
	// on a completed connection.
	DefaultDataSegments = 3
	// DefaultConcurrency is the number of connections in progress at once.
	DefaultConcurrency = 1000
	// DefaultSnaplen is the number of bytes of each frame written out.
	DefaultSnaplen = 128
)

// DefaultStart is the time of the first packet when Config.Start is zero.
var DefaultStart = time.Date(2024, time.January, 2, 3, 4, 5, 0, time.UTC)

// Config describes the traffic to generate. The zero value of every field
// except Conns selects a sensible default.
type Config struct {
	// Seed selects the pseudo-random stream; the same Config always yields
	// byte-identical output.
	Seed int64
	// Conns is the number of TCP connections (connection attempts,
	// including refused ones) to generate.
	Conns int
	// DataSegments is the number of data segments each side sends on a
	// completed connection. Zero means DefaultDataSegments; a negative
	// value means none (handshake and close only).
	DataSegments int
	// Concurrency is the number of connections in progress at once. Zero
	// means DefaultConcurrency.
	Concurrency int
	// IPv6Fraction is the share of connections carried over IPv6.
	IPv6Fraction float64
	// RSTFraction is the share of connections aborted with a RST after the
	// handshake.
	RSTFraction float64
	// RefusedFraction is the share of connection attempts answered with a
	// RST instead of a SYN-ACK.
	RefusedFraction float64
	// Snaplen is the number of bytes of each frame written out. Zero
	// means DefaultSnaplen; IP and TCP length fields always carry the real
	// lengths.
	Snaplen int
	// Start is the timestamp of the first packet. Zero means DefaultStart.
	Start time.Time
	// Nanos selects a nanosecond-resolution pcap file in Write. Packet
	// times are whole microseconds either way.
	Nanos bool
}

// Stats summarizes what was generated.
type Stats struct {
	// Packets is the number of frames generated.
	Packets int64
	// Conns is the number of connections (SYNs from distinct attempts).
	Conns int64
	// IPv6Conns is the number of connections carried over IPv6.
	IPv6Conns int64
	// Established is the number of connections that completed the
	// three-way handshake.
	Established int64
	// Resets is the number of established connections aborted with RST.
	Resets int64
	// Refused is the number of connection attempts answered with RST.
	Refused int64
	// ClientClosed and ServerClosed count FIN closes by which side sent the
	// first FIN.
	ClientClosed, ServerClosed int64
	// SeqWraps is the number of connections in which at least one side's
	// sequence numbers wrapped past 2^32.
	SeqWraps int64
	// DataSegments is the number of segments that carried payload.
	DataSegments int64
	// PayloadBytes is the total TCP payload length (untruncated).
	PayloadBytes int64
	// WireBytes is the total length of all frames as on the wire.
	WireBytes int64
	// CapturedBytes is the total length of the frames as written (at most
	// Snaplen each).
	CapturedBytes int64
	// MaxActive is the largest number of connections in progress at once.
	MaxActive int
	// First and Last are the timestamps of the first and last packet.
	First, Last time.Time
}

func (c *Config) normalize() (Config, error) {
	n := *c
	if n.Conns < 0 {
		return n, errors.New("synth: Conns must not be negative")
	}
	switch {
	case n.DataSegments == 0:
		n.DataSegments = DefaultDataSegments
	case n.DataSegments < 0:
		n.DataSegments = 0
	}
	if n.DataSegments >= 1<<16 {
		return n, errors.New("synth: DataSegments too large")
	}
	if n.Concurrency == 0 {
		n.Concurrency = DefaultConcurrency
	}
	if n.Concurrency < 0 {
		return n, errors.New("synth: Concurrency must not be negative")
	}
	if n.Snaplen == 0 {
		n.Snaplen = DefaultSnaplen
	}
	if n.Snaplen < 0 || n.Snaplen > 262144 {
		return n, fmt.Errorf("synth: Snaplen %d out of range", n.Snaplen)
	}
	for _, f := range []float64{n.IPv6Fraction, n.RSTFraction, n.RefusedFraction} {
		if !(f >= 0 && f <= 1) {
			return n, errors.New("synth: fractions must be within [0, 1]")
		}
	}
	if n.RSTFraction+n.RefusedFraction > 1 {
		return n, errors.New("synth: RSTFraction + RefusedFraction exceeds 1")
	}
	if n.Start.IsZero() {
		n.Start = DefaultStart
	}
	return n, nil
}

// rng is a small, fast, stable pseudo-random generator (splitmix64), so
// that output does not depend on the standard library's generators.
type rng struct{ s uint64 }

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// intn returns a value in [0, n) for n > 0.
func (r *rng) intn(n int) int {
	return int((r.next() >> 32) * uint64(n) >> 32)
}

// float returns a value in [0, 1).
func (r *rng) float() float64 {
	return float64(r.next()>>11) / (1 << 53)
}

// Connection kinds.
const (
	kindFIN = iota
	kindRST
	kindRefused
)

// Connection phases.
const (
	phSYN = iota
	phSYNACK
	phACK
	phData
	phClose
	phDone
)

// TCP flags.
const (
	fFIN = 0x01
	fSYN = 0x02
	fRST = 0x04
	fPSH = 0x08
	fACK = 0x10
)

// endpoint is one side of a connection.
type endpoint struct {
	addr   [16]byte
	port   uint16
	isn    uint32
	nxt    uint32 // next sequence number to send
	tsOff  uint32
	lastTS uint32 // last TSval sent
	ipid   uint16
	win    uint16 // advertised window after the handshake (scaled units)
	synWin uint16
	ws     uint8
	mss    uint16
}

// conn is one connection in progress.
type conn struct {
	cli, srv    endpoint
	v6          bool
	kind        uint8
	phase       uint8
	sub         uint8
	cliFirst    bool // client sends the first FIN
	combined    bool // the second FIN carries the ACK of the first
	rstByServer bool
	rstRound    uint16
	rstSub      uint8
	round       uint16
	flowC       uint32 // IPv6 flow labels
	flowS       uint32
}

// generator holds the state of one run.
type generator struct {
	cfg    Config
	r      rng
	now    int64 // ns since Start
	start  int64 // Start in ns since the epoch
	buf    [2048]byte
	stats  Stats
	ctext  *payloadText
	stext  *payloadText
	nextID int
	emit   func([]byte, gopacket.CaptureInfo) error
}

// Client address and port space.
const (
	clientHosts    = 4096
	ephemeralLow   = 32768
	ephemeralPorts = 60999 - ephemeralLow + 1
)

var (
	macClient = [6]byte{0x02, 0x42, 0xac, 0x10, 0x00, 0x01}
	macServer = [6]byte{0x02, 0x42, 0xac, 0x10, 0x00, 0xfe}
	srvPorts  = [...]uint16{80, 80, 80, 80, 8080, 8080, 8088, 3128}
)

// Segments generates the packets described by cfg in order and calls fn
// for each one. The data slice is only valid during the call; ci carries
// the timestamp, the captured length and the wire length. An error from
// fn stops generation and is returned.
func Segments(cfg Config, fn func(data []byte, ci gopacket.CaptureInfo) error) (Stats, error) {
	n, err := cfg.normalize()
	if err != nil {
		return Stats{}, err
	}
	return segments(n, fn)
}

// segments runs the generator on a normalized Config.
func segments(n Config, fn func(data []byte, ci gopacket.CaptureInfo) error) (Stats, error) {
	g := &generator{
		cfg:   n,
		r:     rng{s: uint64(n.Seed)*0x2545f4914f6cdd1d + 0x1234567},
		start: n.Start.UnixNano(),
		emit:  fn,
	}
	g.ctext, g.stext = texts()
	return g.run()
}

func (g *generator) run() (Stats, error) {
	conc := min(g.cfg.Concurrency, g.cfg.Conns)
	active := make([]conn, conc)
	for i := range active {
		g.newConn(&active[i])
	}
	g.stats.MaxActive = conc
	n := conc
	for n > 0 {
		i := g.r.intn(n)
		c := &active[i]
		if err := g.step(c); err != nil {
			return g.stats, err
		}
		if c.phase == phDone {
			g.finish(c)
			if g.nextID < g.cfg.Conns {
				g.newConn(c)
			} else {
				n--
				active[i] = active[n]
			}
		}
	}
	return g.stats, nil
}

func (g *generator) finish(c *conn) {
	if c.cli.nxt < c.cli.isn || c.srv.nxt < c.srv.isn {
		g.stats.SeqWraps++
	}
}

// newConn initializes c as the next connection.
func (g *generator) newConn(c *conn) {
	id := g.nextID
	g.nextID++
	r := &g.r
	*c = conn{}
	g.stats.Conns++

	c.v6 = r.float() < g.cfg.IPv6Fraction
	k := r.float()
	switch {
	case k < g.cfg.RefusedFraction:
		c.kind = kindRefused
		g.stats.Refused++
	case k < g.cfg.RefusedFraction+g.cfg.RSTFraction:
		c.kind = kindRST
		c.rstByServer = r.intn(3) == 0
		c.rstRound = uint16(r.intn(g.cfg.DataSegments + 1))
		c.rstSub = uint8(r.intn(4))
	default:
		c.kind = kindFIN
	}
	c.cliFirst = r.intn(2) == 0
	c.combined = r.intn(2) == 0

	// Addresses: clientHosts client hosts take connections in turn, each
	// walking its own ephemeral port range from a per-host offset, so that
	// a 4-tuple comes back only after clientHosts*ephemeralPorts
	// connections and connections in progress never share one.
	h := uint32(id % clientHosts)
	slot := uint32(id / clientHosts)
	port := ephemeralLow + (slot+h*7919)%ephemeralPorts
	srvIdx := uint8(r.intn(16))
	if c.v6 {
		g.stats.IPv6Conns++
		c.cli.addr = [16]byte{0xfd, 0x00, 0x00, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, byte(h >> 8), byte(h) + 1}
		c.srv.addr = [16]byte{0xfd, 0x00, 0x00, 0x0b, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 + srvIdx}
		c.cli.mss, c.srv.mss = 1440, 1440
		c.flowC = uint32(r.next()) & 0xfffff
		c.flowS = uint32(r.next()) & 0xfffff
	} else {
		copy(c.cli.addr[:4], []byte{10, 64 + byte(h>>8), byte(h * 37), byte(2 + h%251)})
		copy(c.srv.addr[:4], []byte{172, 16, 0, 1 + srvIdx})
		c.cli.mss, c.srv.mss = 1460, 1460
	}
	c.cli.port = uint16(port)
	c.srv.port = srvPorts[r.intn(len(srvPorts))]

	for _, e := range []*endpoint{&c.cli, &c.srv} {
		e.isn = uint32(r.next())
		e.tsOff = uint32(r.next())
		e.ipid = uint16(r.next())
		e.ws = uint8(7 + r.intn(3))
		e.win = uint16(250 + r.intn(800))
	}
	// Linux-like SYN windows: a multiple of the MSS on the SYN, of the MSS
	// less the timestamp option on the SYN-ACK.
	c.cli.synWin = 65535 - 65535%c.cli.mss
	c.srv.synWin = 45 * (c.srv.mss - 12)
	// Some connections start close to 2^32 so that sequence numbers wrap
	// while they are in progress.
	if r.intn(32) == 0 {
		c.cli.isn = -uint32(1 + r.intn(128*g.cfg.DataSegments+1))
	}
	if r.intn(32) == 0 {
		c.srv.isn = -uint32(1 + r.intn(96*g.cfg.DataSegments+1))
	}
	c.cli.nxt, c.srv.nxt = c.cli.isn, c.srv.isn
}

// step emits the next packet of c and advances its state.
func (g *generator) step(c *conn) error {
	r := &g.r
	cli, srv := &c.cli, &c.srv
	switch c.phase {
	case phSYN:
		c.phase = phSYNACK
		return g.packet(c, cli, srv, fSYN, 0)
	case phSYNACK:
		if c.kind == kindRefused {
			c.phase = phDone
			return g.packet(c, srv, cli, fRST|fACK, 0)
		}
		c.phase = phACK
		return g.packet(c, srv, cli, fSYN|fACK, 0)
	case phACK:
		g.stats.Established++
		c.phase = phData
		return g.packet(c, cli, srv, fACK, 0)
	}

	for {
		if c.kind == kindRST && c.round == c.rstRound && c.sub == c.rstSub {
			c.phase = phDone
			g.stats.Resets++
			if c.rstByServer {
				return g.packet(c, srv, cli, fRST|fACK, 0)
			}
			return g.packet(c, cli, srv, fRST|fACK, 0)
		}
		if c.phase == phData && int(c.round) >= g.cfg.DataSegments {
			if c.kind == kindRST {
				// The abort comes before the close.
				c.rstRound, c.rstSub = c.round, c.sub
				continue
			}
			c.phase, c.sub = phClose, 0
			if c.cliFirst {
				g.stats.ClientClosed++
			} else {
				g.stats.ServerClosed++
			}
		}
		if c.phase == phClose {
			a, b := cli, srv
			if !c.cliFirst {
				a, b = srv, cli
			}
			switch c.sub {
			case 0:
				c.sub = 1
				if c.combined {
					c.sub = 2
				}
				return g.packet(c, a, b, fFIN|fACK, 0)
			case 1:
				c.sub = 2
				return g.packet(c, b, a, fACK, 0)
			case 2:
				c.sub = 3
				return g.packet(c, b, a, fFIN|fACK, 0)
			default:
				c.phase = phDone
				return g.packet(c, a, b, fACK, 0)
			}
		}

		// Data rounds: client data, server ACK, server data, client ACK;
		// a pure ACK is often left out and carried by the next segment.
		sub := c.sub
		c.sub++
		if c.sub == 4 {
			c.sub = 0
			c.round++
		}
		switch sub {
		case 0:
			n := 100 + r.intn(300)
			if r.intn(8) == 0 {
				n = 400 + r.intn(1000)
			}
			return g.packet(c, cli, srv, fPSH|fACK, n)
		case 1:
			if r.intn(2) == 0 {
				return g.packet(c, srv, cli, fACK, 0)
			}
		case 2:
			max := int(srv.mss) - 12
			n := max
			if r.intn(5) < 2 {
				n = 1 + r.intn(max)
			}
			return g.packet(c, srv, cli, fPSH|fACK, n)
		case 3:
			if r.intn(3) != 0 {
				return g.packet(c, cli, srv, fACK, 0)
			}
		}
	}
}

// packet builds one frame from src to dst with the given flags and payload
// length, hands it to the callback and updates the sequence state.
func (g *generator) packet(c *conn, src, dst *endpoint, flags uint8, n int) error {
	g.now += int64(1+g.r.intn(5)) * 1000
	b := g.buf[:]
	fromClient := src == &c.cli

	// Payload: one whole message of (about) n bytes.
	text := g.stext
	if fromClient {
		text = g.ctext
	}
	off := 0
	if n > 0 {
		off, n = text.message(n)
	}

	// Ethernet.
	if fromClient {
		copy(b[0:6], macServer[:])
		copy(b[6:12], macClient[:])
	} else {
		copy(b[0:6], macClient[:])
		copy(b[6:12], macServer[:])
	}
	ipLen := 20
	if c.v6 {
		ipLen = 40
		b[12], b[13] = 0x86, 0xdd
	} else {
		b[12], b[13] = 0x08, 0x00
	}

	// TCP header and options.
	refusal := c.kind == kindRefused && flags&fRST != 0
	optLen := 12
	switch {
	case flags&fSYN != 0:
		optLen = 20
	case refusal:
		optLen = 0
	}
	tcpHdr := 20 + optLen
	tcpLen := tcpHdr + n
	t := b[14+ipLen:]
	binary.BigEndian.PutUint16(t[0:], src.port)
	binary.BigEndian.PutUint16(t[2:], dst.port)
	seq, ack := src.nxt, dst.nxt
	if flags&fACK == 0 {
		ack = 0
	}
	win := src.win
	if flags&fSYN != 0 {
		win = src.synWin
	}
	if refusal {
		seq, win = 0, 0
	}
	binary.BigEndian.PutUint32(t[4:], seq)
	binary.BigEndian.PutUint32(t[8:], ack)
	t[12] = byte(tcpHdr/4) << 4
	t[13] = flags
	binary.BigEndian.PutUint16(t[14:], win)
	t[16], t[17], t[18], t[19] = 0, 0, 0, 0
	tsval := src.tsOff + uint32(g.now/1_000_000)
	if optLen != 0 {
		o := t[20:tcpHdr]
		tsecr := dst.lastTS
		if flags == fSYN {
			tsecr = 0
		}
		if flags&fSYN != 0 {
			o[0], o[1] = 2, 4
			binary.BigEndian.PutUint16(o[2:], src.mss)
			o[4], o[5] = 4, 2
			o[6], o[7] = 8, 10
			binary.BigEndian.PutUint32(o[8:], tsval)
			binary.BigEndian.PutUint32(o[12:], tsecr)
			o[16] = 1
			o[17], o[18], o[19] = 3, 3, src.ws
		} else {
			o[0], o[1], o[2], o[3] = 1, 1, 8, 10
			binary.BigEndian.PutUint32(o[4:], tsval)
			binary.BigEndian.PutUint32(o[8:], tsecr)
		}
		src.lastTS = tsval
	}

	hdrs := 14 + ipLen + tcpHdr
	capLen := min(hdrs+n, g.cfg.Snaplen)
	if capLen > hdrs {
		copy(b[hdrs:capLen], text.buf[off:off+capLen-hdrs])
	}

	// TCP checksum over the pseudo-header, the header and the full payload.
	var s uint64
	if c.v6 {
		s = sumWords(src.addr[:]) + sumWords(dst.addr[:]) + uint64(tcpLen) + 6
	} else {
		s = sumWords(src.addr[:4]) + sumWords(dst.addr[:4]) + uint64(tcpLen) + 6
	}
	s += sumWords(t[:tcpHdr]) + uint64(text.sum(off, n))
	binary.BigEndian.PutUint16(t[16:], ^fold(s))

	// IP header.
	ip := b[14:]
	if c.v6 {
		flow := c.flowS
		if fromClient {
			flow = c.flowC
		}
		binary.BigEndian.PutUint32(ip[0:], 6<<28|flow)
		binary.BigEndian.PutUint16(ip[4:], uint16(tcpLen))
		ip[6], ip[7] = 6, 64
		copy(ip[8:24], src.addr[:])
		copy(ip[24:40], dst.addr[:])
	} else {
		ip[0], ip[1] = 0x45, 0
		binary.BigEndian.PutUint16(ip[2:], uint16(20+tcpLen))
		id := src.ipid
		src.ipid++
		if refusal || flags&(fSYN|fACK) == fSYN|fACK {
			id = 0 // Linux sends SYN-ACKs and resets with ID 0
		}
		binary.BigEndian.PutUint16(ip[4:], id)
		ip[6], ip[7] = 0x40, 0 // DF
		ip[8], ip[9] = 64, 6
		ip[10], ip[11] = 0, 0
		copy(ip[12:16], src.addr[:4])
		copy(ip[16:20], dst.addr[:4])
		binary.BigEndian.PutUint16(ip[10:], ^fold(sumWords(ip[:20])))
	}

	// Sequence space.
	src.nxt += uint32(n)
	if flags&(fSYN|fFIN) != 0 {
		src.nxt++
	}
	if n > 0 {
		g.stats.DataSegments++
		g.stats.PayloadBytes += int64(n)
	}

	wire := hdrs + n
	ts := time.Unix(0, g.start+g.now)
	if g.stats.Packets == 0 {
		g.stats.First = ts
	}
	g.stats.Last = ts
	g.stats.Packets++
	g.stats.WireBytes += int64(wire)
	g.stats.CapturedBytes += int64(capLen)
	return g.emit(b[:capLen], gopacket.CaptureInfo{Timestamp: ts, CaptureLength: capLen, Length: wire})
}

// sumWords returns the sum of the big-endian 16-bit words of b (even
// length).
func sumWords(b []byte) uint64 {
	var s uint64
	for len(b) >= 8 {
		s += uint64(binary.BigEndian.Uint32(b)) + uint64(binary.BigEndian.Uint32(b[4:]))
		b = b[8:]
	}
	for len(b) >= 2 {
		s += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	return s
}
