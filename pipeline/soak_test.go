package pipeline

import (
	"cmp"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/wirestate/wirestate/report"
	"github.com/wirestate/wirestate/sink/rotate"
	"github.com/wirestate/wirestate/tracker"
	"github.com/wirestate/wirestate/tracker/detect"
	"github.com/wirestate/wirestate/tracker/seqnum"
)

// soakTraffic generates hours of synthetic traffic in packet time, slot
// by slot (100 ms), as tracker segments in time order: short HTTPS-like
// connections opened and closed without pause (each leaving its client in
// TIME_WAIT), long-lived database connections that exchange a little every
// 30 s and close after 5 to 15 minutes, and, for five minutes of every
// hour, a SYN flood from spoofed sources answered by the victim (held half
// open until the idle timeout, then folded past --fold-after).
type soakTraffic struct {
	now    int64 // start of the current slot
	rng    uint64
	segs   []tracker.Segment
	short  uint64 // short connections started
	longs  []longConn
	ports  []uint16 // next ephemeral port per short-connection client
	floods uint64
}

// The soak's rates, per second of packet time.
const (
	soakSlot       = int64(100 * time.Millisecond)
	soakShortRate  = 200  // short connections opened (and closed)
	soakLongConns  = 2000 // long-lived connections held
	soakFloodRate  = 500  // flood SYNs during the flood
	soakFloodStart = 10 * 60
	soakFloodSecs  = 5 * 60
	soakClients    = 4000
)

// longConn is one long-lived connection.
type longConn struct {
	c, s      tracker.Endpoint
	cseq      seqnum.Value
	sseq      seqnum.Value
	next, end int64
}

func newSoakTraffic(start int64) *soakTraffic {
	g := &soakTraffic{now: start, rng: 0x9e3779b97f4a7c15, ports: make([]uint16, soakClients)}
	for i := range g.ports {
		g.ports[i] = 32768
	}
	g.longs = make([]longConn, soakLongConns)
	for i := range g.longs {
		g.openLong(&g.longs[i], i, start+int64(g.intn(30e9)))
	}
	return g
}

func (g *soakTraffic) next64() uint64 {
	g.rng ^= g.rng << 13
	g.rng ^= g.rng >> 7
	g.rng ^= g.rng << 17
	return g.rng
}

func (g *soakTraffic) intn(n int64) int64 { return int64(g.next64() % uint64(n)) }

func addr4(a, b, c, d byte) tracker.Addr { return tracker.AddrFrom4([4]byte{a, b, c, d}) }

// seg appends one segment.
func (g *soakTraffic) seg(t int64, src, dst tracker.Endpoint, flags uint8, seq, ack seqnum.Value, n uint32) {
	s := tracker.Segment{Time: t, Src: src, Dst: dst, Seq: seq, Ack: ack, Flags: flags, Window: 502, PayloadLen: n, IPLen: 52 + n}
	if flags&tracker.FlagSYN != 0 {
		s.Opts, s.MSS, s.IPLen = tracker.OptMSS, 1460, 60
	}
	g.segs = append(g.segs, s)
}

// openLong starts long-lived connection i with its handshake at t.
func (g *soakTraffic) openLong(l *longConn, i int, t int64) {
	port := uint16(32768 + g.intn(28000))
	l.c = tracker.Endpoint{Addr: addr4(10, 2, byte(i/250), byte(i%250+1)), Port: port}
	l.s = tracker.Endpoint{Addr: addr4(10, 0, 1, byte(i%8+1)), Port: 5432}
	l.cseq, l.sseq = seqnum.Value(g.next64()), seqnum.Value(g.next64())
	const ack, syn = tracker.FlagACK, tracker.FlagSYN
	g.seg(t, l.c, l.s, syn, l.cseq, 0, 0)
	g.seg(t+1e6, l.s, l.c, syn|ack, l.sseq, l.cseq+1, 0)
	l.cseq++
	l.sseq++
	g.seg(t+2e6, l.c, l.s, ack, l.cseq, l.sseq, 0)
	l.next = t + 30e9
	l.end = t + 300e9 + g.intn(600e9)
}

// slot appends the segments of the next 100 ms, sorted by time, and moves
// on.
func (g *soakTraffic) slot() []tracker.Segment {
	g.segs = g.segs[:0]
	from, to := g.now, g.now+soakSlot
	const ack, syn, fin, psh = tracker.FlagACK, tracker.FlagSYN, tracker.FlagFIN, tracker.FlagPSH
	for range soakShortRate * soakSlot / 1e9 {
		t := from + g.intn(soakSlot-20e6)
		ci := int(g.short % soakClients)
		g.short++
		port := g.ports[ci]
		if g.ports[ci]++; g.ports[ci] == 61000 {
			g.ports[ci] = 32768
		}
		c := tracker.Endpoint{Addr: addr4(10, 1, byte(ci/250), byte(ci%250+1)), Port: port}
		s := tracker.Endpoint{Addr: addr4(10, 0, 0, byte(g.short%20+1)), Port: 443}
		cs, ss := seqnum.Value(g.next64()), seqnum.Value(g.next64())
		g.seg(t, c, s, syn, cs, 0, 0)
		g.seg(t+1e6, s, c, syn|ack, ss, cs+1, 0)
		g.seg(t+2e6, c, s, ack, cs+1, ss+1, 0)
		g.seg(t+3e6, c, s, psh|ack, cs+1, ss+1, 200)
		g.seg(t+5e6, s, c, ack, ss+1, cs+201, 0)
		g.seg(t+6e6, s, c, psh|ack, ss+1, cs+201, 1000)
		g.seg(t+7e6, c, s, ack, cs+201, ss+1001, 0)
		g.seg(t+8e6, c, s, fin|ack, cs+201, ss+1001, 0)
		g.seg(t+9e6, s, c, fin|ack, ss+1001, cs+202, 0)
		g.seg(t+10e6, c, s, ack, cs+202, ss+1002, 0)
	}
	for i := range g.longs {
		l := &g.longs[i]
		if l.next >= to || l.next < from {
			continue
		}
		t := l.next
		if t >= l.end {
			g.seg(t, l.c, l.s, fin|ack, l.cseq, l.sseq, 0)
			g.seg(t+1e6, l.s, l.c, fin|ack, l.sseq, l.cseq+1, 0)
			g.seg(t+2e6, l.c, l.s, ack, l.cseq+1, l.sseq+1, 0)
			g.openLong(l, i, t+3e6+g.intn(soakSlot/2))
			continue
		}
		g.seg(t, l.c, l.s, psh|ack, l.cseq, l.sseq, 100)
		g.seg(t+1e6, l.s, l.c, psh|ack, l.sseq, l.cseq+100, 300)
		g.seg(t+2e6, l.c, l.s, ack, l.cseq+100, l.sseq+300, 0)
		l.cseq += 100
		l.sseq += 300
		l.next = t + 30e9
	}
	if sec := (from / 1e9) % 3600; sec >= soakFloodStart && sec < soakFloodStart+soakFloodSecs {
		victim := tracker.Endpoint{Addr: addr4(10, 0, 0, 2), Port: 80}
		for range soakFloodRate * soakSlot / 1e9 {
			t := from + g.intn(soakSlot-2e6)
			r := g.next64()
			src := tracker.Endpoint{Addr: addr4(byte(100+r%100), byte(r>>8), byte(r>>16), byte(r>>24)), Port: uint16(1024 + r>>32%60000)}
			isn := seqnum.Value(r >> 40)
			g.seg(t, src, victim, syn, isn, 0, 0)
			g.seg(t+1e6, victim, src, syn|ack, seqnum.Value(g.next64()), isn+1, 0)
			g.floods++
		}
	}
	slices.SortFunc(g.segs, func(a, b tracker.Segment) int { return cmp.Compare(a.Time, b.Time) })
	g.now = to
	return g.segs
}

// soakHours is how many hours of packet time BenchmarkSoak runs
// (WIRESTATE_SOAK_HOURS, default 4).
func soakHours(b *testing.B) int {
	if s := os.Getenv("WIRESTATE_SOAK_HOURS"); s != "" {
		h, err := strconv.Atoi(s)
		if err != nil || h < 2 {
			b.Fatalf("WIRESTATE_SOAK_HOURS=%q: want a whole number of hours, 2 or more", s)
		}
		return h
	}
	return 4
}

// heapMiB returns the heap in use after a collection, in MiB.
func heapMiB() float64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.HeapInuse) / (1 << 20)
}

// BenchmarkSoak runs the live path — the sharded tracker with the live
// detectors, the live sink with --fold-after 10000 and the final report's
// default bound of 100,000 records, JSON Lines streamed to io.Discard and a
// conn.log rotated every hour of packet time (each rotated file deleted,
// as a shipper would) — on hours of synthetic traffic in packet time (see
// soakTraffic; WIRESTATE_SOAK_HOURS, default 4), and reports the heap in
// use after a collection at the end of each hour: heap-MiB-h1 after the
// first (warm: the report's bound is full and the first flood is held),
// heap-MiB-mid and heap-MiB-end, and the largest. Memory is flat when the
// last three are alike. The time is reported as segments per second.
func BenchmarkSoak(b *testing.B) {
	hours := soakHours(b)
	for i := 0; i < b.N; i++ {
		runtime.GC()
		base := heapMiB()
		dir := b.TempDir()
		start := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC).UnixNano()
		var clock int64 = start
		rotated := 0
		zeek, err := rotate.New(rotate.Config{Path: filepath.Join(dir, "conn.log"), Interval: time.Hour,
			Now: func() time.Time { return time.Unix(0, clock) },
			New: func(w io.Writer, open time.Time) report.Stream {
				s, _ := report.NewStream("zeek", w, report.StreamOptions{Live: true, Open: open, Clock: func() time.Time { return time.Unix(0, clock) }})
				return s
			},
			Rotated: func(name string) { rotated++; os.Remove(name) }})
		if err != nil {
			b.Fatal(err)
		}
		js, _ := report.NewStream("json", io.Discard, report.StreamOptions{Live: true})
		cfg := &Config{Live: &LiveConfig{}, MSL: 30 * time.Second, IdleTimeout: time.Hour, MaxConns: 1 << 20,
			Shards: 2, FoldAfter: 10000, Detect: detect.Defaults(),
			Outputs: []Output{{Stream: js}, {Name: "conn.log", Stream: zeek}}}
		cfg.Detect.Live = true
		s := newLiveSink(cfg.Outputs, 100000)
		s.foldAfter(cfg.FoldAfter)
		tr := tracker.New(cfg.trackerConfig(cfg.shards(), s, detect.Observers(cfg.Detect)))
		g := newSoakTraffic(start)
		var heaps []float64
		var segs uint64
		began := time.Now()
		b.ResetTimer()
		for h := 0; h < hours; h++ {
			for range 3600 * 1e9 / soakSlot {
				for j := range g.slot() {
					tr.Feed(&g.segs[j])
				}
				segs += uint64(len(g.segs))
				clock = g.now
				tr.Tick(0)
				s.tick(time.Unix(0, clock))
			}
			b.StopTimer()
			tr.Flush()
			heaps = append(heaps, heapMiB()-base)
			b.StartTimer()
		}
		tst := tr.Close()
		res := &report.Result{Tracker: tst}
		s.finalResult(cfg, res)
		if err := writeOutputs(s.outs, res, false); err != nil {
			b.Fatal(err)
		}
		elapsed := time.Since(began)
		b.StopTimer()
		if s.err != nil {
			b.Fatal(s.err)
		}
		if rotated != hours+1 {
			b.Errorf("%d conn.log files rotated in %d hours, want %d", rotated, hours, hours+1)
		}
		var flood *tracker.Finding
		for k := range res.Findings {
			if res.Findings[k].Kind == tracker.AnomSYNFlood {
				flood = &res.Findings[k]
			}
		}
		if flood == nil || report.FoldedCount(res.Folded) == 0 {
			b.Errorf("no syn-flood finding or nothing folded (%d folded)", report.FoldedCount(res.Folded))
		}
		b.ReportMetric(heaps[0], "heap-MiB-h1")
		b.ReportMetric(heaps[len(heaps)/2], "heap-MiB-mid")
		b.ReportMetric(heaps[len(heaps)-1], "heap-MiB-end")
		b.ReportMetric(slices.Max(heaps), "heap-MiB-max")
		b.ReportMetric(float64(segs)/elapsed.Seconds(), "segs/s")
		b.ReportMetric(float64(s.conns), "conns")
		b.ReportMetric(float64(report.FoldedCount(res.Folded)), "folded")
		b.Logf("%d h: %d segments, %d connections ended (%d flood SYNs, %d folded, %d streamed), max held %d; heap MiB per hour %.1f",
			hours, segs, s.conns, g.floods, report.FoldedCount(res.Folded), s.streamed, tst.MaxLive, heaps)
	}
}
