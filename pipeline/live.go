package pipeline

import (
	"context"
	"fmt"
	"io"
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
// older than the time already reached.
const quietSlack = 20 * time.Millisecond

// tickInterval is how often the reader moves time on, delivers pending
// segments to the shards and polls libpcap's counters.
const tickInterval = 100 * time.Millisecond

// dropPad widens each interval with capture loss backwards: the lost
// packets may be older than the previous poll of the counters.
const dropPad = int64(500 * time.Millisecond)

// liveRun is the state of one live capture.
type liveRun struct {
	cfg     *Config
	lc      *LiveConfig
	src     *capture.LiveSource
	tr      *tracker.Tracker
	sink    *liveSink
	ctrs    *liveCounters
	metrics *liveMetrics
	w       *capture.PcapWriter
	ev      *evidenceKeeper
	stderr  io.Writer
	start   time.Time
	cc      capture.CaptureCounters
	lost    uint64 // dropped + if-dropped at the last poll
	polled  int64  // time of the last poll
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
	// TCP checksums are not verified: with transmit checksum offload
	// (every NIC, veth and lo) the packets a host sends are captured
	// before their checksum is filled in.
	opts.Decoder = capture.DecoderOptions{}
	src, err := capture.OpenLive(opts)
	if err != nil {
		return err
	}
	r := &liveRun{cfg: cfg, lc: lc, src: src, stderr: stderr, ctrs: &liveCounters{}}
	defer src.Close()

	r.sink = newLiveSink(cfg.Outputs, max(lc.ReportConns, 1))
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

	r.tr = tracker.New(cfg.trackerConfig(cfg.shards(), r.sink, detect.Observers(cfg.Detect)))
	fmt.Fprintf(stderr, "wirestate: listening on %s, link-type %s, snapshot length %d bytes\n",
		src.Interface(), capture.LinkTypeName(src.LinkType()), src.Snaplen())

	r.start = time.Now()
	r.polled = r.start.UnixNano()
	if err := r.read(ctx); err != nil {
		r.tr.Close()
		return err
	}
	return r.finish()
}

// read is the capture loop: it feeds every TCP segment to the tracker and,
// every tickInterval, moves time on, polls the capture counters and, every
// --stats-interval, writes a status line.
func (r *liveRun) read(ctx context.Context) error {
	lf := r.lc
	var seg tracker.Segment
	var deadline time.Time
	if lf.Duration > 0 {
		deadline = r.start.Add(lf.Duration)
	}
	nextTick := r.start.Add(tickInterval)
	nextTickNs := nextTick.UnixNano()
	var nextStats, nextCensus time.Time
	if lf.StatsInterval > 0 {
		nextStats = r.start.Add(lf.StatsInterval)
	} else if r.metrics != nil {
		// No status lines: the metrics still get a census.
		nextCensus = r.start.Add(metricsCensusInterval)
	}
	var n uint64
	for {
		skip, err := r.src.Next(&seg)
		quiet := false
		switch {
		case err == nil:
			n++
			if r.w != nil || r.ev != nil {
				data, ci := r.src.CurrentPacket()
				if r.w != nil {
					if err := r.w.WritePacket(seg.Time, ci.Length, data); err != nil {
						return fmt.Errorf("-w: %v", err)
					}
				}
				if r.ev != nil && skip == capture.SkipNone {
					r.ev.add(&seg, data, ci.Length)
				}
			}
			if skip == capture.SkipNone {
				r.tr.Feed(&seg)
			}
			if lf.Count > 0 && n >= lf.Count {
				return nil
			}
			if seg.Time < nextTickNs {
				continue // packet time is wall time, read for free
			}
		case err == capture.ErrQuiet:
			quiet = true
		case err == io.EOF:
			return nil
		default:
			return err
		}
		now := time.Now()
		if ctx.Err() != nil || (!deadline.IsZero() && !now.Before(deadline)) {
			return nil
		}
		if now.Before(nextTick) {
			continue
		}
		nextTick = now.Add(tickInterval)
		nextTickNs = nextTick.UnixNano()
		r.tick(now, quiet)
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

// metricsCensusInterval is how often the connection gauges are refreshed
// when --stats-interval is 0 (otherwise every status line refreshes them).
const metricsCensusInterval = 10 * time.Second

// tick polls libpcap's counters, records capture loss, moves packet time
// on when the wire is quiet and delivers pending segments to the shards.
func (r *liveRun) tick(now time.Time, quiet bool) {
	ns := now.UnixNano()
	r.poll(ns)
	if quiet {
		r.tr.Tick(ns - int64(quietSlack))
	} else {
		r.tr.Tick(0) // deliver pending segments; packet time moves itself
	}
	if r.ev != nil {
		r.ev.apply()
	}
	if r.w != nil {
		r.w.Flush()
	}
}

// poll reads libpcap's counters and publishes them, recording an interval
// with capture loss when they grew.
func (r *liveRun) poll(ns int64) {
	if cc, err := r.src.CaptureStats(); err == nil {
		r.cc = cc
	}
	if lost := r.cc.Dropped + r.cc.IfDropped; lost > r.lost {
		r.sink.drops.add(r.polled-dropPad, ns, lost-r.lost)
		r.lost = lost
	}
	r.polled = ns
	st := r.src.Stats()
	r.ctrs.packets.Store(st.Packets)
	r.ctrs.segments.Store(st.TCPSegments)
	r.ctrs.received.Store(r.cc.Received)
	r.ctrs.dropped.Store(r.cc.Dropped)
	r.ctrs.ifDropped.Store(r.cc.IfDropped)
}

// finish stops the capture, drains the tracker and writes the final report.
func (r *liveRun) finish() error {
	cfg := r.cfg
	r.poll(time.Now().UnixNano())
	r.src.Close()
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
	st := r.src.Stats()
	in := inputOf([]string{r.src.Interface()}, st)
	in.Formats = []string{fmt.Sprintf("live, %s, snapshot length %d, %d packets; libpcap: %d received, %d dropped, %d dropped by the interface",
		capture.LinkTypeName(r.src.LinkType()), r.src.Snaplen(), st.Packets, r.cc.Received, r.cc.Dropped, r.cc.IfDropped)}
	in.Dropped = r.cc.Dropped + r.cc.IfDropped
	res := &report.Result{Input: in, Tracker: tst}

	s := r.sink
	s.mu.Lock()
	res.Records = s.records
	res.Findings = s.findings
	res.Latency = &s.latency
	droppedRecords, droppedFindings, uncertain := s.droppedRecords, s.droppedFindings, s.uncertain
	s.records, s.findings = nil, nil
	s.mu.Unlock()
	report.SortRecords(res.Records)
	report.SortFindings(res.Findings)
	agg := detect.Aggregate(res.Records, res.Findings, nil, cfg.Detect)
	for i := range agg {
		s.mu.Lock()
		s.finding(&agg[i], false)
		s.mu.Unlock()
	}
	res.Records = cfg.Select.filter(res.Records)
	res.Findings = append(res.Findings, cfg.Select.filterFindings(agg, res.Records)...)
	report.SortFindings(res.Findings)
	if droppedRecords > 0 || droppedFindings > 0 {
		fmt.Fprintf(r.stderr, "wirestate: the final report leaves out %d connection records and %d findings (--report-conns %d); all were streamed and counted\n",
			droppedRecords, droppedFindings, r.lc.ReportConns)
	}
	if in.Dropped > 0 {
		fmt.Fprintf(r.stderr, "wirestate: the capture lost %d packets (%d by the kernel buffer, %d by the interface); %d findings resting on an unseen packet are marked uncertain\n",
			in.Dropped, r.cc.Dropped, r.cc.IfDropped, uncertain)
	}
	if r.lc.StatsInterval > 0 {
		r.writeStats(time.Now(), true)
	}
	if err := s.err; err != nil {
		return err
	}
	return writeOutputs(cfg.Outputs, res, false)
}
