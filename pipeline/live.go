package pipeline

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wirestate/wirestate/capture"
	"github.com/wirestate/wirestate/report"
	"github.com/wirestate/wirestate/tracker"
	"github.com/wirestate/wirestate/tracker/detect"
)

// LiveConfig holds the options of live capture.
type LiveConfig struct {
	// LiveOptions open the capture: interface, filter, snapshot length,
	// promiscuous mode, buffer, immediate mode. The pipeline sets the read
	// timeout and the decoder.
	capture.LiveOptions
	// Count stops after this many packets; Duration after this long.
	Count    uint64
	Duration time.Duration
	// StatsInterval is how often a status record is written (0: never).
	StatsInterval time.Duration
	// Write, when set, receives every captured packet (pcap); FileSize
	// starts a new file past that many bytes.
	Write    string
	FileSize int64
	// EvidencePackets is how many of each connection's last packets are
	// kept for WriteFindings until it is decided.
	EvidencePackets int
	// MetricsAddr, when set, serves Prometheus metrics there.
	MetricsAddr string
	// ReportConns bounds the records (and findings) kept for the final
	// report.
	ReportConns int
	// Stderr receives the run's notices (listening, drops, metrics).
	Stderr io.Writer
}

// quietSlack is how far behind the wall clock a quiet wire moves packet
// time, so that a packet captured just before the read timed out is not
// older than the time already reached. The afpacket engine adds its block
// timeout: a packet may wait that long in a ring block not yet handed over.
const quietSlack = 20 * time.Millisecond

// tickInterval is how often each reader moves time on and delivers pending
// segments to the shards, and the run polls the capture counters.
const tickInterval = 100 * time.Millisecond

// dropPad widens each interval with capture loss backwards: the lost
// packets may be older than the previous poll of the counters.
const dropPad = int64(500 * time.Millisecond)

// liveRun is the state of one live capture: its workers, each reading one
// source (an AF_PACKET socket of a fanout group, or the libpcap handle),
// and what they share.
type liveRun struct {
	cfg     *Config
	lc      *LiveConfig
	engine  capture.Engine
	srcs    []capture.Live
	workers []*liveWorker
	tr      *tracker.Tracker
	sink    *liveSink
	ctrs    *liveCounters
	metrics *liveMetrics
	stderr  io.Writer
	start   time.Time
	// quietLag is how far behind the wall clock a quiet reader moves its
	// packet time.
	quietLag int64

	// wmu guards w, ev and frames: every worker writes packets there.
	wmu    sync.Mutex
	w      *capture.PcapWriter
	ev     *evidenceKeeper
	frames uint64 // packets written by -w

	count atomic.Uint64 // packets read, with -c
	stop  atomic.Bool   // the workers end at their next look

	// Owned by the run's goroutine.
	cc     capture.CaptureCounters // summed over the sources at the last poll
	lost   uint64                  // dropped + if-dropped at the last poll
	polled int64                   // time of the last poll
}

// liveWorker reads one source on a goroutine of its own and feeds its own
// tracker shard (afpacket), or the tracker's sharding reader (libpcap).
type liveWorker struct {
	r     *liveRun
	id    int
	src   capture.Live
	shard *tracker.Shard // nil: feed r.tr
	err   error          // why the worker stopped, if it failed
	// The source's counts, published at every tick for the run's
	// goroutine.
	packets, segments                     atomic.Uint64
	received, dropped, ifDropped, freezes atomic.Uint64
}

// runLive captures from an interface until interrupted (ctx), the count
// or the duration is reached, streaming findings and status records to
// the outputs, and then gives them the same final result as offline
// analysis.
func runLive(ctx context.Context, cfg *Config) error {
	cfg.Detect.Live = true // report findings as soon as they are decided
	lc := cfg.Live
	stderr := lc.Stderr
	if stderr == nil {
		stderr = io.Discard
	}
	// A bad filter is reported before the device is opened, so that it
	// is named even without capture privileges.
	if err := capture.CompileFilter(lc.Filter, capture.LinkEthernet, lc.Snaplen); err != nil && lc.Interface != "any" {
		return err
	}
	opts := lc.LiveOptions
	opts.Timeout = capture.DefaultReadTimeout
	if opts.Engine == "" {
		opts.Engine = capture.DefaultEngine
	}
	if opts.Engine == capture.EngineAFPacket && opts.Workers <= 0 {
		opts.Workers = DefaultShards()
	}
	if opts.BlockTimeout <= 0 {
		opts.BlockTimeout = capture.DefaultBlockTimeout
	}
	// TCP checksums are not verified: with transmit checksum offload
	// (every NIC, veth and lo) the packets a host sends are captured
	// before their checksum is filled in.
	opts.Decoder = capture.DecoderOptions{}
	srcs, err := capture.OpenCapture(opts)
	if err != nil {
		return err
	}
	r := &liveRun{cfg: cfg, lc: lc, engine: opts.Engine, srcs: srcs, stderr: stderr, ctrs: &liveCounters{},
		quietLag: int64(quietSlack)}
	if opts.Engine == capture.EngineAFPacket {
		r.quietLag += int64(opts.BlockTimeout)
		if opts.Immediate {
			r.quietLag = int64(quietSlack + time.Millisecond)
		}
	}
	defer func() {
		for _, s := range srcs {
			s.Close()
		}
	}()
	src := srcs[0]

	r.sink = newLiveSink(cfg.Outputs, max(lc.ReportConns, 1))
	r.sink.records.Metrics = cfg.needs().Metrics // the final report's
	r.sink.foldAfter(cfg.FoldAfter)
	if sel := &cfg.Select; !sel.Empty() {
		// Live, a finding about many is streamed when the endpoints it
		// names are selected (its members may not be known yet).
		r.sink.match = func(f *tracker.Finding) bool { return sel.MatchFinding(f, nil) }
		r.sink.matchRecord = sel.Match
	}
	if lc.MetricsAddr != "" {
		r.metrics = newLiveMetrics(r.ctrs, dropCounters(cfg.Outputs))
		addr, err := r.metrics.serve(lc.MetricsAddr)
		if err != nil {
			return err
		}
		defer r.metrics.shutdown()
		fmt.Fprintf(stderr, "wirestate: metrics at http://%s/metrics\n", addr)
		r.sink.metrics = r.metrics
	}
	if lc.Write != "" {
		if r.w, err = capture.CreatePcap(lc.Write, src.LinkType(), src.Snaplen(), lc.FileSize); err != nil {
			return fmt.Errorf("-w: %v", err)
		}
		defer r.w.Close()
	}
	if cfg.WriteFindings != "" {
		fw, err := capture.CreatePcap(cfg.WriteFindings, src.LinkType(), src.Snaplen(), 0)
		if err != nil {
			return fmt.Errorf("--write-findings: %v", err)
		}
		r.ev = newEvidenceKeeper(fw, lc.EvidencePackets, src.Snaplen())
		r.sink.evidence = r.ev.q
	}

	tc := cfg.trackerConfig(cfg.shards(), r.sink, detect.Observers(cfg.Detect))
	// Zeek's history and conn_state appear in JSON and conn.log only, as
	// offline.
	tc.SkipHistory = !cfg.needs().History
	// Data round trips and losses appear in JSON, HTML and Kafka records,
	// in the text report's timelines only, as offline.
	tc.SkipMetrics = !cfg.needs().Metrics
	if r.engine == capture.EngineAFPacket {
		// Each worker feeds its own shard on its own goroutine: the
		// kernel's fanout already split the packets by flow.
		tc.External, tc.Shards = true, len(srcs)
	}
	r.tr = tracker.New(tc)
	for i, s := range srcs {
		r.workers = append(r.workers, &liveWorker{r: r, id: i, src: s, shard: r.tr.Shard(i)})
	}
	how := "libpcap"
	if r.engine == capture.EngineAFPacket {
		ring := capture.RingSize(opts.BufferSize, len(srcs))
		how = fmt.Sprintf("afpacket, %d worker%s, %s ring each", len(srcs), plural(len(srcs)), mib(ring))
	}
	fmt.Fprintf(stderr, "wirestate: listening on %s, link-type %s, snapshot length %d bytes (%s)\n",
		src.Interface(), capture.LinkTypeName(src.LinkType()), src.Snaplen(), how)

	r.start = time.Now()
	r.polled = r.start.UnixNano()
	if err := r.run(ctx); err != nil {
		r.tr.Close()
		return err
	}
	return r.finish()
}

// plural returns "s" unless n is 1.
func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// mib formats a byte count in MiB ("32 MiB", "0.5 MiB").
func mib(n int) string {
	return strconv.FormatFloat(float64(n)/(1<<20), 'f', -1, 64) + " MiB"
}

// run starts the workers and, until they stop, moves the run along every
// tickInterval: it polls the capture counters, flushes -w, carries out the
// evidence requests and, every --stats-interval, writes a status line. It
// stops the workers on interrupt (ctx) or at the end of --duration.
func (r *liveRun) run(ctx context.Context) error {
	lf := r.lc
	var wg sync.WaitGroup
	for _, w := range r.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.read()
		}()
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	var deadline time.Time
	if lf.Duration > 0 {
		deadline = r.start.Add(lf.Duration)
	}
	var nextStats, nextCensus time.Time
	if lf.StatsInterval > 0 {
		nextStats = r.start.Add(lf.StatsInterval)
	} else if r.metrics != nil {
		// No status lines: the metrics still get a census.
		nextCensus = r.start.Add(metricsCensusInterval)
	}
	tick := time.NewTicker(tickInterval)
	defer tick.Stop()
	ctxDone := ctx.Done()
	for {
		select {
		case <-done:
			for _, w := range r.workers {
				if w.err != nil {
					return w.err
				}
			}
			return nil
		case <-ctxDone:
			r.stop.Store(true)
			ctxDone = nil
		case now := <-tick.C:
			if !deadline.IsZero() && !now.Before(deadline) {
				r.stop.Store(true)
			}
			r.poll(now.UnixNano())
			r.wmu.Lock()
			if r.ev != nil {
				r.ev.apply()
			}
			if r.w != nil {
				r.w.Flush()
			}
			r.wmu.Unlock()
			r.sink.tick(now) // flushes streamed records, rotates files
			if !nextStats.IsZero() && !now.Before(nextStats) {
				nextStats = now.Add(lf.StatsInterval)
				r.writeStats(now, false)
			}
			if !nextCensus.IsZero() && !now.Before(nextCensus) {
				nextCensus = now.Add(metricsCensusInterval)
				r.metrics.census(takeCensus(r.tr, statsHosts))
			}
		}
	}
}

// read is a worker's capture loop: it feeds every TCP segment to the
// tracker and, every tickInterval, moves its packet time on and publishes
// its counts, until the run stops, the count is reached or the source
// fails.
func (w *liveWorker) read() {
	r := w.r
	count := r.lc.Count
	n := uint64(len(r.workers))
	keep := r.w != nil || r.ev != nil
	var seg tracker.Segment
	nextTick := time.Now().Add(tickInterval)
	nextTickNs := nextTick.UnixNano()
	for {
		skip, err := w.src.Next(&seg)
		quiet := false
		switch {
		case err == nil:
			last := false
			if count > 0 {
				c := r.count.Add(1)
				if c > count {
					r.stop.Store(true)
					return
				}
				last = c == count
			}
			if n > 1 {
				// Unique across the workers: the id is the remainder.
				seg.Frame = (seg.Frame-1)*n + uint64(w.id) + 1
			}
			if keep {
				if err := r.keep(w.src, &seg, skip); err != nil {
					w.fail(err)
					return
				}
			}
			if skip == capture.SkipNone {
				if w.shard != nil {
					w.shard.Feed(&seg)
				} else {
					r.tr.Feed(&seg)
				}
			}
			if last {
				r.stop.Store(true)
				return
			}
			if seg.Time < nextTickNs {
				continue // packet time is wall time, read for free
			}
		case err == capture.ErrQuiet:
			quiet = true
		case err == io.EOF:
			return
		default:
			w.fail(err)
			return
		}
		if r.stop.Load() {
			return
		}
		now := time.Now()
		if now.Before(nextTick) {
			continue
		}
		nextTick = now.Add(tickInterval)
		nextTickNs = nextTick.UnixNano()
		w.tick(now, quiet)
	}
}

// fail records why the worker stopped and stops the others.
func (w *liveWorker) fail(err error) {
	w.err = err
	w.r.stop.Store(true)
}

// keep writes a captured packet to -w (numbering it by its place in the
// file) and hands a TCP segment's packet to the evidence keeper.
func (r *liveRun) keep(src capture.Live, seg *tracker.Segment, skip capture.SkipReason) error {
	data, ci := src.CurrentPacket()
	r.wmu.Lock()
	defer r.wmu.Unlock()
	if r.w != nil {
		r.frames++
		seg.Frame = r.frames
		if err := r.w.WritePacket(seg.Time, ci.Length, data); err != nil {
			return fmt.Errorf("-w: %v", err)
		}
	}
	if r.ev != nil && skip == capture.SkipNone {
		r.ev.add(seg, data, ci.Length)
	}
	return nil
}

// metricsCensusInterval is how often the connection gauges are refreshed
// when --stats-interval is 0 (otherwise every status line refreshes them).
const metricsCensusInterval = 10 * time.Second

// tick moves the worker's packet time on when the wire is quiet (only its
// own shard's, with afpacket), delivers pending segments to the shards
// and publishes the worker's counts.
func (w *liveWorker) tick(now time.Time, quiet bool) {
	var at int64
	if quiet {
		at = now.UnixNano() - w.r.quietLag
	}
	if w.shard != nil {
		w.shard.Tick(at)
	} else {
		w.r.tr.Tick(at) // at 0: deliver pending segments; packet time moves itself
	}
	w.publish()
}

// publish stores the source's counts for the run's goroutine.
func (w *liveWorker) publish() {
	if cc, err := w.src.CaptureStats(); err == nil {
		w.received.Store(cc.Received)
		w.dropped.Store(cc.Dropped)
		w.ifDropped.Store(cc.IfDropped)
		w.freezes.Store(cc.Freezes)
	}
	st := w.src.Stats()
	w.packets.Store(st.Packets)
	w.segments.Store(st.TCPSegments)
}

// counters returns the worker's last published kernel counters.
func (w *liveWorker) counters() capture.CaptureCounters {
	return capture.CaptureCounters{Received: w.received.Load(), Dropped: w.dropped.Load(),
		IfDropped: w.ifDropped.Load(), Freezes: w.freezes.Load()}
}

// poll sums the workers' counters and publishes them, recording an
// interval with capture loss when they grew.
func (r *liveRun) poll(ns int64) {
	var cc capture.CaptureCounters
	var packets, segments uint64
	for _, w := range r.workers {
		cc = cc.Add(w.counters())
		packets += w.packets.Load()
		segments += w.segments.Load()
	}
	r.cc = cc
	if lost := r.cc.Dropped + r.cc.IfDropped; lost > r.lost {
		r.sink.drops.add(r.polled-dropPad, ns, lost-r.lost)
		r.lost = lost
	}
	r.polled = ns
	r.ctrs.packets.Store(packets)
	r.ctrs.segments.Store(segments)
	r.ctrs.received.Store(r.cc.Received)
	r.ctrs.dropped.Store(r.cc.Dropped)
	r.ctrs.ifDropped.Store(r.cc.IfDropped)
	r.ctrs.freezes.Store(r.cc.Freezes)
}

// sourceStats sums the sources' counts: one input, whatever the number of
// workers.
func (r *liveRun) sourceStats() capture.Stats {
	var st capture.Stats
	for _, s := range r.srcs {
		o := s.Stats()
		if o.Packets > 0 {
			if st.Packets == 0 || o.FirstTime < st.FirstTime {
				st.FirstTime = o.FirstTime
			}
			st.LastTime = max(st.LastTime, o.LastTime)
		}
		st.Packets += o.Packets
		st.TCPSegments += o.TCPSegments
		st.Bytes += o.Bytes
		st.CapturedBytes += o.CapturedBytes
		st.BackwardsTimestamps += o.BackwardsTimestamps
		for i := range st.Skipped {
			st.Skipped[i] += o.Skipped[i]
		}
	}
	src := r.srcs[0]
	st.Files = []capture.FileInfo{{Name: src.Interface(), LinkTypes: []capture.LinkType{src.LinkType()}, Packets: st.Packets}}
	return st
}

// finish stops the capture, drains the tracker and writes the final report.
func (r *liveRun) finish() error {
	cfg := r.cfg
	for _, w := range r.workers {
		w.publish() // they have stopped: their counts are final
	}
	r.poll(time.Now().UnixNano())
	for _, s := range r.srcs {
		s.Close()
	}
	tst := r.tr.Close()
	if r.w != nil {
		if err := r.w.Close(); err != nil {
			return fmt.Errorf("-w: %v", err)
		}
	}
	if r.ev != nil {
		if err := r.ev.close(); err != nil {
			return fmt.Errorf("--write-findings: %v", err)
		}
		if r.ev.unkept > 0 {
			fmt.Fprintf(r.stderr, "wirestate: --write-findings: %d connections had no evidence ring (memory budget of %d MiB spent)\n", r.ev.unkept, evidenceBudget>>20)
		}
	}
	st := r.sourceStats()
	src := r.srcs[0]
	in := inputOf([]string{src.Interface()}, st)
	counts := fmt.Sprintf("libpcap: %d received, %d dropped, %d dropped by the interface", r.cc.Received, r.cc.Dropped, r.cc.IfDropped)
	if r.engine == capture.EngineAFPacket {
		counts = fmt.Sprintf("afpacket, %d worker%s: %d received, %d dropped, %d ring freezes",
			len(r.srcs), plural(len(r.srcs)), r.cc.Received, r.cc.Dropped, r.cc.Freezes)
	}
	in.Formats = []string{fmt.Sprintf("live, %s, snapshot length %d, %d packets; %s",
		capture.LinkTypeName(src.LinkType()), src.Snaplen(), st.Packets, counts)}
	in.Dropped = r.cc.Dropped + r.cc.IfDropped
	res := &report.Result{Input: in, Tracker: tst}

	s := r.sink
	droppedRecords, droppedFindings, uncertain := s.finalResult(cfg, res)
	if droppedRecords > 0 || droppedFindings > 0 {
		fmt.Fprintf(r.stderr, "wirestate: the final report leaves out %d connection records and %d findings (--report-conns %d); all were streamed and counted\n",
			droppedRecords, droppedFindings, r.lc.ReportConns)
	}
	if in.Dropped > 0 {
		how := fmt.Sprintf("%d by the kernel buffer, %d by the interface", r.cc.Dropped, r.cc.IfDropped)
		if r.engine == capture.EngineAFPacket {
			how = fmt.Sprintf("by the kernel's rings, which froze %d times", r.cc.Freezes)
		}
		fmt.Fprintf(r.stderr, "wirestate: the capture lost %d packets (%s); %d findings resting on an unseen packet are marked uncertain\n",
			in.Dropped, how, uncertain)
	}
	if r.lc.StatsInterval > 0 {
		r.writeStats(time.Now(), true)
	}
	if err := s.err; err != nil {
		return err
	}
	return writeOutputs(cfg.Outputs, res, false)
}
