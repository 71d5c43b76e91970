package synth

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

func mustWrite(t testing.TB, cfg Config) ([]byte, Stats) {
	t.Helper()
	var buf bytes.Buffer
	st, err := Write(&buf, cfg)
	if err != nil {
		t.Fatalf("Write(%+v): %v", cfg, err)
	}
	return buf.Bytes(), st
}

func TestDeterminism(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"defaults", Config{Seed: 1, Conns: 500}},
		{"mixed", Config{Seed: 42, Conns: 2000, Concurrency: 300, IPv6Fraction: 0.3, RSTFraction: 0.1, RefusedFraction: 0.1}},
		{"nanos-full", Config{Seed: 7, Conns: 300, Concurrency: 50, Snaplen: 65535, Nanos: true, DataSegments: 5}},
		{"serial", Config{Seed: -3, Conns: 200, Concurrency: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, sa := mustWrite(t, tt.cfg)
			b, sb := mustWrite(t, tt.cfg)
			if !bytes.Equal(a, b) {
				t.Fatal("same config produced different output")
			}
			if sa != sb {
				t.Fatalf("same config produced different stats:\n%+v\n%+v", sa, sb)
			}
			other := tt.cfg
			other.Seed++
			c, _ := mustWrite(t, other)
			if bytes.Equal(a, c) {
				t.Fatal("different seeds produced identical output")
			}
		})
	}
}

// side is one direction's view of a connection in the checker.
type side struct {
	next    uint32
	segs    int
	fin     bool
	started bool
}

// tracked is the checker's state of one connection.
type tracked struct {
	cli, srv side
	kind     string // "", "refused", "reset", "closed"
	synAcked bool
	done     bool
	firstFIN string
	v6       bool
}

// summary is what the checker counted.
type summary struct {
	packets, conns, v6Conns, established, resets, refused int64
	clientClosed, serverClosed, dataSegs, wire, captured  int64
	payload                                               int64
	maxActive                                             int
	truncatedTCP                                          int64
}

type tupleKey struct {
	a, b netip.AddrPort
}

// check reads a pcap written by Write and verifies every packet: it parses
// with gopacket, IPv4 and TCP checksums are valid, timestamps increase,
// and each side's sequence and acknowledgement numbers are consistent.
func check(t *testing.T, data []byte, cfg Config) summary {
	t.Helper()
	n, err := cfg.normalize()
	if err != nil {
		t.Fatal(err)
	}
	r, err := pcapgo.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("pcapgo.NewReader: %v", err)
	}
	if r.LinkType() != layers.LinkTypeEthernet {
		t.Fatalf("link type %v", r.LinkType())
	}
	if got := r.Snaplen(); got != uint32(n.Snaplen) {
		t.Fatalf("snaplen %d, want %d", got, n.Snaplen)
	}
	if got, want := r.Resolution(), gopacket.TimestampResolutionMicrosecond; !n.Nanos && got != want {
		t.Fatalf("resolution %v, want %v", got, want)
	}
	if got, want := r.Resolution(), gopacket.TimestampResolutionNanosecond; n.Nanos && got != want {
		t.Fatalf("resolution %v, want %v", got, want)
	}

	var s summary
	conns := map[tupleKey]*tracked{}
	active := 0
	var last time.Time
	for {
		pkt, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("packet %d: %v", s.packets+1, err)
		}
		s.packets++
		s.wire += int64(ci.Length)
		s.captured += int64(ci.CaptureLength)
		if ci.CaptureLength != min(ci.Length, n.Snaplen) {
			t.Fatalf("packet %d: captured %d of %d with snaplen %d", s.packets, ci.CaptureLength, ci.Length, n.Snaplen)
		}
		if !ci.Timestamp.After(last) {
			t.Fatalf("packet %d: time %v not after %v", s.packets, ci.Timestamp, last)
		}
		if s.packets == 1 && !ci.Timestamp.After(n.Start) {
			t.Fatalf("first packet at %v, before start %v", ci.Timestamp, n.Start)
		}
		last = ci.Timestamp

		p := gopacket.NewPacket(pkt, layers.LayerTypeEthernet, gopacket.DecodeOptions{NoCopy: true})
		if el := p.ErrorLayer(); el != nil {
			t.Fatalf("packet %d: decode error: %v", s.packets, el.Error())
		}
		tcp, _ := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if tcp == nil {
			t.Fatalf("packet %d: no TCP layer: %v", s.packets, p)
		}
		var src, dst netip.Addr
		var ipPayloadLen int
		var v6 bool
		switch ip := p.NetworkLayer().(type) {
		case *layers.IPv4:
			if fold(sumWords(ip.Contents)) != 0xffff {
				t.Fatalf("packet %d: bad IPv4 header checksum %#04x", s.packets, ip.Checksum)
			}
			if ip.Flags&layers.IPv4DontFragment == 0 || ip.TTL != 64 {
				t.Fatalf("packet %d: flags %v ttl %d", s.packets, ip.Flags, ip.TTL)
			}
			src, _ = netip.AddrFromSlice(ip.SrcIP)
			dst, _ = netip.AddrFromSlice(ip.DstIP)
			ipPayloadLen = int(ip.Length) - int(ip.IHL)*4
			_ = tcp.SetNetworkLayerForChecksum(ip)
		case *layers.IPv6:
			src, _ = netip.AddrFromSlice(ip.SrcIP)
			dst, _ = netip.AddrFromSlice(ip.DstIP)
			ipPayloadLen = int(ip.Length)
			v6 = true
			_ = tcp.SetNetworkLayerForChecksum(ip)
		default:
			t.Fatalf("packet %d: network layer %T", s.packets, ip)
		}
		if got := 14 + len(p.NetworkLayer().LayerContents()) + ipPayloadLen; got != ci.Length {
			t.Fatalf("packet %d: IP says %d bytes, wire length %d", s.packets, got, ci.Length)
		}
		payLen := ipPayloadLen - int(tcp.DataOffset)*4
		if ci.CaptureLength == ci.Length {
			if len(tcp.Payload) != payLen {
				t.Fatalf("packet %d: payload %d bytes, want %d", s.packets, len(tcp.Payload), payLen)
			}
			err, res := tcp.VerifyChecksum()
			if err != nil || !res.Valid {
				t.Fatalf("packet %d: bad TCP checksum %#04x (want %#04x): %v", s.packets, res.Actual, res.Correct, err)
			}
		} else {
			s.truncatedTCP++
		}

		// Connection tracking.
		from := netip.AddrPortFrom(src, uint16(tcp.SrcPort))
		to := netip.AddrPortFrom(dst, uint16(tcp.DstPort))
		k := tupleKey{a: from, b: to}
		c, fromClient := conns[k], true
		if c == nil {
			c, fromClient = conns[tupleKey{a: to, b: from}], false
		}
		if tcp.SYN && !tcp.ACK {
			if c != nil && !c.done {
				t.Fatalf("packet %d: SYN on a connection in progress %v", s.packets, k)
			}
			if !hasSYNOptions(tcp) {
				t.Fatalf("packet %d: SYN options %v", s.packets, tcp.Options)
			}
			c = &tracked{v6: v6}
			c.cli.next = tcp.Seq + 1
			conns[k] = c
			s.conns++
			if v6 {
				s.v6Conns++
			}
			active++
			s.maxActive = max(s.maxActive, active)
			continue
		}
		if c == nil || c.done {
			t.Fatalf("packet %d: %v → %v outside a connection", s.packets, from, to)
		}
		me, peer := &c.cli, &c.srv
		if !fromClient {
			me, peer = &c.srv, &c.cli
		}
		if tcp.RST && !c.synAcked {
			// Refused: RST|ACK with seq 0 acknowledging the SYN.
			if fromClient || !tcp.ACK || tcp.Seq != 0 || tcp.Ack != c.cli.next || len(tcp.Options) != 0 {
				t.Fatalf("packet %d: bad refusal %+v", s.packets, tcp)
			}
			c.kind, c.done = "refused", true
			s.refused++
			active--
			continue
		}
		if tcp.SYN {
			if fromClient || c.synAcked {
				t.Fatalf("packet %d: unexpected SYN-ACK", s.packets)
			}
			if !hasSYNOptions(tcp) {
				t.Fatalf("packet %d: SYN-ACK options %v", s.packets, tcp.Options)
			}
			c.synAcked = true
			c.srv.next = tcp.Seq
			c.srv.started = true
			s.established++
		}
		if !tcp.ACK {
			t.Fatalf("packet %d: no ACK flag", s.packets)
		}
		if tcp.Seq != me.next {
			t.Fatalf("packet %d: seq %d, want %d", s.packets, tcp.Seq, me.next)
		}
		if tcp.SYN {
			me.next++
		}
		if tcp.Ack != peer.next {
			t.Fatalf("packet %d: ack %d, want %d", s.packets, tcp.Ack, peer.next)
		}
		if !hasTimestamp(tcp) {
			t.Fatalf("packet %d: no timestamp option: %v", s.packets, tcp.Options)
		}
		if tcp.RST {
			if payLen != 0 {
				t.Fatalf("packet %d: RST with payload", s.packets)
			}
			c.kind, c.done = "reset", true
			s.resets++
			active--
			continue
		}
		if payLen > 0 {
			if me.fin {
				t.Fatalf("packet %d: data after FIN", s.packets)
			}
			me.segs++
			s.dataSegs++
			s.payload += int64(payLen)
			me.next += uint32(payLen)
		}
		if tcp.FIN {
			if me.fin {
				t.Fatalf("packet %d: second FIN", s.packets)
			}
			me.fin = true
			me.next++
			if !peer.fin {
				if fromClient {
					c.firstFIN = "client"
					s.clientClosed++
				} else {
					c.firstFIN = "server"
					s.serverClosed++
				}
			}
			continue
		}
		if c.cli.fin && c.srv.fin && payLen == 0 {
			// The last ACK of the close.
			c.kind, c.done = "closed", true
			active--
			if c.cli.segs != n.DataSegments || c.srv.segs != n.DataSegments {
				t.Fatalf("packet %d: closed connection with %d/%d data segments, want %d each",
					s.packets, c.cli.segs, c.srv.segs, n.DataSegments)
			}
		}
	}
	for k, c := range conns {
		if !c.done {
			t.Fatalf("connection %v never finished", k)
		}
	}
	return s
}

func hasSYNOptions(tcp *layers.TCP) bool {
	want := map[layers.TCPOptionKind]bool{
		layers.TCPOptionKindMSS: true, layers.TCPOptionKindSACKPermitted: true,
		layers.TCPOptionKindTimestamps: true, layers.TCPOptionKindWindowScale: true,
	}
	for _, o := range tcp.Options {
		delete(want, o.OptionType)
	}
	return len(want) == 0
}

func hasTimestamp(tcp *layers.TCP) bool {
	for _, o := range tcp.Options {
		if o.OptionType == layers.TCPOptionKindTimestamps && len(o.OptionData) == 8 {
			return true
		}
	}
	return false
}

func TestCaptureMatchesStats(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"defaults", Config{Seed: 1, Conns: 3000}},
		{"ipv4-only-serial", Config{Seed: 2, Conns: 400, Concurrency: 1}},
		{"mixed", Config{Seed: 3, Conns: 5000, Concurrency: 700, IPv6Fraction: 0.25, RSTFraction: 0.1, RefusedFraction: 0.05}},
		{"all-ipv6-untruncated", Config{Seed: 4, Conns: 1500, Concurrency: 200, IPv6Fraction: 1, Snaplen: 65535, RSTFraction: 0.05, RefusedFraction: 0.05}},
		{"no-data-nanos", Config{Seed: 5, Conns: 1000, Concurrency: 100, DataSegments: -1, Nanos: true, RSTFraction: 0.2}},
		{"many-segments", Config{Seed: 6, Conns: 300, Concurrency: 30, DataSegments: 40, Snaplen: 1600, IPv6Fraction: 0.5}},
		{"all-refused", Config{Seed: 7, Conns: 200, Concurrency: 20, RefusedFraction: 1}},
		{"all-reset", Config{Seed: 8, Conns: 200, Concurrency: 20, RSTFraction: 1, Snaplen: 2000}},
		{"start", Config{Seed: 9, Conns: 100, Start: time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)}},
		{"zero", Config{Seed: 10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, st := mustWrite(t, tt.cfg)
			got := check(t, data, tt.cfg)
			n, _ := tt.cfg.normalize()
			eq := func(what string, a, b int64) {
				t.Helper()
				if a != b {
					t.Errorf("%s: capture has %d, Stats say %d", what, a, b)
				}
			}
			eq("packets", got.packets, st.Packets)
			eq("connections", got.conns, st.Conns)
			eq("configured connections", got.conns, int64(tt.cfg.Conns))
			eq("IPv6 connections", got.v6Conns, st.IPv6Conns)
			eq("established", got.established, st.Established)
			eq("resets", got.resets, st.Resets)
			eq("refused", got.refused, st.Refused)
			eq("client closes", got.clientClosed, st.ClientClosed)
			eq("server closes", got.serverClosed, st.ServerClosed)
			eq("data segments", got.dataSegs, st.DataSegments)
			eq("payload bytes", got.payload, st.PayloadBytes)
			eq("wire bytes", got.wire, st.WireBytes)
			eq("captured bytes", got.captured, st.CapturedBytes)
			if int64(len(data)) != 24+16*st.Packets+st.CapturedBytes {
				t.Errorf("file is %d bytes, want %d", len(data), 24+16*st.Packets+st.CapturedBytes)
			}
			if st.Conns > 0 {
				if !st.First.After(n.Start) || !st.Last.After(st.First) && st.Packets > 1 {
					t.Errorf("times %v .. %v, start %v", st.First, st.Last, n.Start)
				}
			}
			wantActive := min(n.Concurrency, tt.cfg.Conns)
			if st.MaxActive != wantActive {
				t.Errorf("Stats.MaxActive %d, want %d", st.MaxActive, wantActive)
			}
			// Connections are counted as active from their SYN, so the
			// capture sees slightly fewer than the generator holds.
			if got.maxActive > wantActive || got.maxActive < wantActive*8/10 {
				t.Errorf("at most %d connections open at once in the capture, want about %d", got.maxActive, wantActive)
			}
			if got.established+got.refused != got.conns {
				t.Errorf("%d established + %d refused != %d connections", got.established, got.refused, got.conns)
			}
			t.Logf("%d packets, %d conns (%d v6, %d reset, %d refused, %d seq wraps), %d truncated",
				st.Packets, st.Conns, st.IPv6Conns, st.Resets, st.Refused, st.SeqWraps, got.truncatedTCP)
		})
	}
}

func TestFractions(t *testing.T) {
	st, err := Segments(Config{Seed: 11, Conns: 20000, IPv6Fraction: 0.1, RSTFraction: 0.05, RefusedFraction: 0.02},
		func([]byte, gopacket.CaptureInfo) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	near := func(what string, got int64, frac float64) {
		t.Helper()
		want := frac * float64(st.Conns)
		if d := float64(got) - want; d > 0.2*want || d < -0.2*want {
			t.Errorf("%s: %d of %d connections, want about %.0f", what, got, st.Conns, want)
		}
	}
	near("IPv6", st.IPv6Conns, 0.1)
	near("reset", st.Resets, 0.05)
	near("refused", st.Refused, 0.02)
	near("client-closed", st.ClientClosed, 0.93/2)
	// About 1 in 32 connections starts each side near 2^32.
	near("sequence wraps", st.SeqWraps, 0.06)
}

func TestSegmentsMatchesWrite(t *testing.T) {
	cfg := Config{Seed: 12, Conns: 1000, Concurrency: 100, IPv6Fraction: 0.2, RSTFraction: 0.05, RefusedFraction: 0.05}
	data, wst := mustWrite(t, cfg)
	var out bytes.Buffer
	var rec [16]byte
	sst, err := Segments(cfg, func(p []byte, ci gopacket.CaptureInfo) error {
		binary.LittleEndian.PutUint32(rec[0:], uint32(ci.Timestamp.Unix()))
		binary.LittleEndian.PutUint32(rec[4:], uint32(ci.Timestamp.Nanosecond()/1000))
		binary.LittleEndian.PutUint32(rec[8:], uint32(ci.CaptureLength))
		binary.LittleEndian.PutUint32(rec[12:], uint32(ci.Length))
		if len(p) != ci.CaptureLength {
			return fmt.Errorf("data %d bytes, CaptureLength %d", len(p), ci.CaptureLength)
		}
		out.Write(rec[:])
		out.Write(p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if sst != wst {
		t.Fatalf("Segments stats %+v, Write stats %+v", sst, wst)
	}
	if !bytes.Equal(out.Bytes(), data[24:]) {
		t.Fatal("Segments and Write produced different packets")
	}
}

func TestSegmentsStopsOnError(t *testing.T) {
	stop := errors.New("stop")
	count := 0
	st, err := Segments(Config{Seed: 1, Conns: 1000}, func([]byte, gopacket.CaptureInfo) error {
		count++
		if count == 10 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Fatalf("err = %v, want %v", err, stop)
	}
	if count != 10 || st.Packets != 10 {
		t.Fatalf("callback ran %d times, Stats.Packets %d; want 10", count, st.Packets)
	}
}

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"negative conns", Config{Conns: -1}},
		{"negative concurrency", Config{Conns: 1, Concurrency: -5}},
		{"negative snaplen", Config{Conns: 1, Snaplen: -1}},
		{"huge snaplen", Config{Conns: 1, Snaplen: 1 << 20}},
		{"ipv6 above 1", Config{Conns: 1, IPv6Fraction: 1.5}},
		{"negative rst", Config{Conns: 1, RSTFraction: -0.1}},
		{"rst and refused above 1", Config{Conns: 1, RSTFraction: 0.6, RefusedFraction: 0.6}},
		{"too many segments", Config{Conns: 1, DataSegments: 1 << 20}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Write(io.Discard, tt.cfg); err == nil {
				t.Fatal("Write accepted an invalid config")
			}
		})
	}
}

func TestPayloadMessages(t *testing.T) {
	ct, st := texts()
	for _, tt := range []struct {
		name string
		text *payloadText
		head string
	}{
		{"request", ct, "GET /api/v1/items/"},
		{"response", st, "HTTP/1.1 200 OK\r\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for n := tt.text.lo; n <= tt.text.hi; n++ {
				off, l := tt.text.message(n)
				if l != n {
					t.Fatalf("message(%d) has length %d", n, l)
				}
				m := tt.text.buf[off : off+l]
				if !bytes.HasPrefix(m, []byte(tt.head)) {
					t.Fatalf("message %d starts %q", n, m[:20])
				}
				for _, o := range []int{off, off + 1} {
					k := off + l - o
					var naive uint64
					for i := 0; i < k; i += 2 {
						w := uint64(tt.text.buf[o+i]) << 8
						if i+1 < k {
							w |= uint64(tt.text.buf[o+i+1])
						}
						naive += w
					}
					if got, want := tt.text.sum(o, k), fold(naive); got != want {
						t.Fatalf("sum(%d, %d) = %#04x, want %#04x", o, k, got, want)
					}
				}
			}
			if _, l := tt.text.message(1); l != tt.text.lo {
				t.Fatalf("message(1) has length %d, want the shortest, %d", l, tt.text.lo)
			}
			if _, l := tt.text.message(1 << 20); l != maxPayload {
				t.Fatalf("message(huge) has length %d, want %d", l, maxPayload)
			}
		})
	}
}

func TestNoPerPacketAllocation(t *testing.T) {
	texts() // built once per process
	allocs := func(conns int) float64 {
		return testing.AllocsPerRun(3, func() {
			_, _ = Segments(Config{Seed: 1, Conns: conns, Concurrency: 100}, func([]byte, gopacket.CaptureInfo) error { return nil })
		})
	}
	small, large := allocs(200), allocs(20000)
	if large > small+5 {
		t.Fatalf("%v allocations for 20000 connections, %v for 200: allocation grows with traffic", large, small)
	}
}

func BenchmarkSegments(b *testing.B) {
	cfg := Config{Seed: 1, Conns: 100000, Concurrency: 10000, IPv6Fraction: 0.1, RSTFraction: 0.02, RefusedFraction: 0.01}
	var pkts int64
	b.ReportAllocs()
	for b.Loop() {
		st, err := Segments(cfg, func([]byte, gopacket.CaptureInfo) error { return nil })
		if err != nil {
			b.Fatal(err)
		}
		pkts += st.Packets
	}
	b.ReportMetric(float64(pkts)/b.Elapsed().Seconds(), "packets/s")
}

func BenchmarkWrite(b *testing.B) {
	cfg := Config{Seed: 1, Conns: 100000, Concurrency: 10000, IPv6Fraction: 0.1, RSTFraction: 0.02, RefusedFraction: 0.01}
	var pkts, bytes int64
	b.ReportAllocs()
	for b.Loop() {
		st, err := Write(io.Discard, cfg)
		if err != nil {
			b.Fatal(err)
		}
		pkts += st.Packets
		bytes += 16*st.Packets + st.CapturedBytes
	}
	b.SetBytes(bytes / int64(max(1, b.N)))
	b.ReportMetric(float64(pkts)/b.Elapsed().Seconds(), "packets/s")
}
