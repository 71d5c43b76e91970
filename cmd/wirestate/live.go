package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/wirestate/wirestate/capture"
	"github.com/wirestate/wirestate/report"
	"github.com/wirestate/wirestate/tracker"
	"github.com/wirestate/wirestate/tracker/detect"
)

// LiveFlags holds the options of live capture.
type LiveFlags struct {
	Interface      string
	FilterExpr     string
	Snaplen        int
	NoPromisc      bool
	BufferSize     int
	Immediate      bool
	Count          uint64
	Duration       time.Duration
	ListInterfaces bool
	StatsInterval  time.Duration
	Write          string
	FileSize       int
	EvidencePkts   int
	MetricsAddr    string
	ReportConns    int
}

// defaultReportConns bounds the connection records (and, separately, the
// findings) a live run keeps for its final report.
const defaultReportConns = 100000

// registerLiveFlags adds the live-capture options to fs.
func registerLiveFlags(fs *pflag.FlagSet, l *LiveFlags) {
	fs.StringVarP(&l.Interface, "interface", "i", "", "capture live from `IFACE` (any for all); TCP checksums are not verified live, as transmit offload leaves them unfilled")
	fs.StringVarP(&l.FilterExpr, "filter", "f", "", "BPF capture filter `EXPR` (instead of positional arguments)")
	fs.IntVarP(&l.Snaplen, "snaplen", "s", capture.DefaultSnaplen, "live: capture at most `BYTES` of each packet (the default holds every header with full TCP options; lengths come from the IP header)")
	fs.BoolVarP(&l.NoPromisc, "no-promisc", "p", false, "live: do not put the interface in promiscuous mode")
	fs.IntVarP(&l.BufferSize, "buffer-size", "B", 0, "live: kernel capture buffer in `KiB` (default libpcap's, 2 MiB); raise it if drops appear")
	fs.BoolVar(&l.Immediate, "immediate-mode", true, "live: deliver packets as they arrive rather than in kernel-buffer blocks")
	fs.Uint64VarP(&l.Count, "count", "c", 0, "live: stop after `N` packets")
	fs.DurationVar(&l.Duration, "duration", 0, "live: stop after this long")
	fs.BoolVarP(&l.ListInterfaces, "list-interfaces", "D", false, "list the interfaces live capture can use, and exit")
	fs.DurationVar(&l.StatsInterval, "stats-interval", 10*time.Second, "live: print a status line (a stats record in JSON) this often; 0 for none")
	fs.StringVarP(&l.Write, "write", "w", "", "live: also write every captured packet to the pcap `FILE`")
	fs.IntVar(&l.FileSize, "file-size", 0, "live: with -w, start a new file (FILE1, FILE2 ...) when one passes `MB` million bytes (tcpdump's -C)")
	fs.IntVar(&l.EvidencePkts, "evidence-packets", 64, "live: with --write-findings, the last `N` packets kept per connection until it is decided")
	fs.StringVar(&l.MetricsAddr, "metrics-addr", "", "live: serve Prometheus metrics on `ADDR` (like :9100) at /metrics")
	fs.IntVar(&l.ReportConns, "report-conns", defaultReportConns, "live: connection records (and findings) kept for the final report; past it only records with findings, up to as many again (findings are always streamed and counted)")
}

// liveWanted reports whether the flags ask for live capture (or only for
// the interface list).
func liveWanted(fl *Flags) bool { return fl.Live.Interface != "" || fl.Live.ListInterfaces }

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
	fl      *Flags
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

// live captures from an interface until interrupted, streaming findings,
// and then writes the same final report as offline analysis.
func live(ctx context.Context, fl *Flags, out, stderr io.Writer) error {
	fl.Detect.Live = true // report findings as soon as they are decided
	lf := &fl.Live
	if lf.ListInterfaces {
		return listInterfaces(out)
	}
	if len(fl.Read) > 0 {
		return errors.New("give -r FILE or -i IFACE, not both")
	}
	filter := fl.Filter
	if lf.FilterExpr != "" {
		if filter != "" {
			return errors.New("give the capture filter with -f or as arguments, not both")
		}
		filter = lf.FilterExpr
	}
	switch {
	case fl.At != "":
		return errors.New("--at is for capture files; live capture reports the states as they are")
	case lf.StatsInterval < 0:
		return errors.New("--stats-interval must not be negative")
	case fl.MaxConns < 0:
		return errors.New("--max-conns must not be negative")
	case lf.FileSize < 0:
		return errors.New("--file-size must not be negative")
	case lf.FileSize > 0 && lf.Write == "":
		return errors.New("--file-size needs -w FILE")
	}
	// A bad filter is reported before the device is opened, so that it
	// is named even without capture privileges.
	if err := capture.CompileFilter(filter, capture.LinkEthernet, lf.Snaplen); err != nil && lf.Interface != "any" {
		return err
	}
	zcfg, err := zeekTrackerConfig(fl)
	if err != nil {
		return err
	}
	sel, err := newSelection(fl)
	if err != nil {
		return err
	}

	// The second signal ends the process at once; the first (which
	// cancels ctx in main) stops the capture and prints the report.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		n := 0
		for range sigs {
			if n++; n >= 2 {
				fmt.Fprintln(stderr, "wirestate: second signal, exiting at once")
				os.Exit(130)
			}
		}
	}()

	src, err := capture.OpenLive(capture.LiveOptions{
		Interface:  lf.Interface,
		Filter:     filter,
		Snaplen:    lf.Snaplen,
		Promisc:    !lf.NoPromisc,
		BufferSize: lf.BufferSize << 10,
		Immediate:  lf.Immediate,
		Timeout:    capture.DefaultReadTimeout,
		// TCP checksums are not verified: with transmit checksum
		// offload (every NIC, veth and lo) the packets a host sends are
		// captured before their checksum is filled in.
		Decoder: capture.DecoderOptions{},
	})
	if err != nil {
		return err
	}
	r := &liveRun{fl: fl, src: src, stderr: stderr, ctrs: &liveCounters{}}
	defer src.Close()

	opt := report.Options{Local: fl.LocalTime}
	format := fl.Format
	r.sink = newLiveSink(out, format, opt, max(lf.ReportConns, 1))
	if !sel.empty() {
		r.sink.match = func(f *tracker.Finding) bool {
			return sel.match(&tracker.Record{Conn: tracker.Conn{UID: f.UID, Orig: f.Orig, Resp: f.Resp}}) || f.UID == 0
		}
	}
	if lf.MetricsAddr != "" {
		r.metrics = newLiveMetrics(r.ctrs)
		addr, err := r.metrics.serve(lf.MetricsAddr)
		if err != nil {
			return err
		}
		defer r.metrics.shutdown()
		fmt.Fprintf(stderr, "wirestate: metrics at http://%s/metrics\n", addr)
		r.sink.metrics = r.metrics
	}
	if lf.Write != "" {
		if r.w, err = capture.CreatePcap(lf.Write, src.LinkType(), src.Snaplen(), int64(lf.FileSize)*1e6); err != nil {
			return fmt.Errorf("-w: %v", err)
		}
		defer r.w.Close()
	}
	if fl.HTML.WriteFindings != "" { // --write-findings is registered with the HTML report (html.go)
		fw, err := capture.CreatePcap(fl.HTML.WriteFindings, src.LinkType(), src.Snaplen(), 0)
		if err != nil {
			return fmt.Errorf("--write-findings: %v", err)
		}
		r.ev = newEvidenceKeeper(fw, lf.EvidencePkts, src.Snaplen())
		r.sink.evidence = r.ev.q
	}

	shards := fl.Shards
	if shards <= 0 {
		shards = defaultShards()
	}
	r.tr = tracker.New(tracker.Config{
		Shards:      shards,
		MSL:         int64(fl.MSL),
		IdleTimeout: int64(fl.IdleTimeout),
		Sink:        r.sink,
		Observers:   observers(fl),
		Zeek:        zcfg,
		MaxConns:    fl.MaxConns,
	})
	fmt.Fprintf(stderr, "wirestate: listening on %s, link-type %s, snapshot length %d bytes\n",
		src.Interface(), capture.LinkTypeName(src.LinkType()), src.Snaplen())

	r.start = time.Now()
	r.polled = r.start.UnixNano()
	if err := r.read(ctx); err != nil {
		r.tr.Close()
		return err
	}
	return r.finish(out, sel)
}

// read is the capture loop: it feeds every TCP segment to the tracker and,
// every tickInterval, moves time on, polls the capture counters and, every
// --stats-interval, writes a status line.
func (r *liveRun) read(ctx context.Context) error {
	lf := &r.fl.Live
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
func (r *liveRun) finish(out io.Writer, sel *selection) error {
	fl := r.fl
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
	droppedRecords, droppedFindings, uncertain := s.droppedRecords, s.droppedFindings, s.uncertain
	s.records, s.findings = nil, nil
	s.mu.Unlock()
	report.SortRecords(res.Records)
	report.SortFindings(res.Findings)
	agg := detect.Aggregate(res.Records, res.Findings, nil, fl.Detect)
	for i := range agg {
		s.mu.Lock()
		s.finding(&agg[i], false)
		s.mu.Unlock()
	}
	res.Findings = append(res.Findings, agg...)
	report.SortFindings(res.Findings)
	res.Records = sel.filter(res.Records)
	if droppedRecords > 0 || droppedFindings > 0 {
		fmt.Fprintf(r.stderr, "wirestate: the final report leaves out %d connection records and %d findings (--report-conns %d); all were streamed and counted\n",
			droppedRecords, droppedFindings, fl.Live.ReportConns)
	}
	if in.Dropped > 0 {
		fmt.Fprintf(r.stderr, "wirestate: the capture lost %d packets (%d by the kernel buffer, %d by the interface); %d findings resting on an unseen packet are marked uncertain\n",
			in.Dropped, r.cc.Dropped, r.cc.IfDropped, uncertain)
	}
	if fl.Live.StatsInterval > 0 {
		r.writeStats(time.Now(), true)
	}
	if err := s.err; err != nil {
		return err
	}
	opt := report.Options{Local: fl.LocalTime}
	if err := writeHTML(fl, res, opt); err != nil {
		return err
	}
	switch fl.Format {
	case "json":
		return s.jw.Finish(res)
	case "zeek":
		return writeZeek(out, res, fl)
	}
	return report.WriteText(out, res, opt)
}

// listInterfaces prints the capture devices, as tcpdump -D does.
func listInterfaces(out io.Writer) error {
	ifs, err := capture.Interfaces()
	if err != nil {
		return err
	}
	for i, d := range ifs {
		line := fmt.Sprintf("%d.%s", i+1, d.Name)
		var extra []string
		if d.Description != "" {
			extra = append(extra, d.Description)
		}
		if len(d.Addresses) > 0 {
			extra = append(extra, strings.Join(d.Addresses, ", "))
		}
		if len(extra) > 0 {
			line += " [" + strings.Join(extra, "; ") + "]"
		}
		fmt.Fprintln(out, line)
	}
	return nil
}
