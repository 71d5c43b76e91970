package pipeline

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/wirestate/wirestate/report"
	"github.com/wirestate/wirestate/tracker"
	"github.com/wirestate/wirestate/tracker/detect"
)

// liveSink is the tracker.Sink of live capture. Shard workers call it
// concurrently; it serialises everything behind one mutex. It streams each
// finding as it is decided (after marking it uncertain when it rests on a
// packet's absence during capture loss), counts records and findings, feeds
// the metrics and the evidence keeper, and keeps a bounded set of records
// and findings for the final report.
type liveSink struct {
	mu sync.Mutex

	// outs receive each finding as it is decided, and status records.
	outs []Output
	err  error // the first write error

	drops    *dropLog
	metrics  *liveMetrics
	evidence *evidenceQueue
	// match, when set, selects the findings streamed and kept (--host,
	// --port); matchRecord the records streamed.
	match       func(f *tracker.Finding) bool
	matchRecord func(r *tracker.Record) bool
	// now returns the current time in Unix nanoseconds (the decision
	// time of a streamed finding).
	now func() int64

	// maxRecords bounds the records kept for the final report: the first
	// maxRecords of any kind, then up to maxRecords more with anomalies.
	// maxFindings bounds the findings kept.
	maxRecords, maxFindings int
	// records keeps them, in chunks that never move (as offline).
	records         *Collector
	anomalous       int // records kept past maxRecords
	findings        []tracker.Finding
	droppedRecords  uint64
	droppedFindings uint64
	// latency gathers every streamed record's latency figures, kept or
	// not.
	latency report.Latency

	// fold, when set (--fold-after), counts possible flood members past
	// the first ones per victim instead of streaming and keeping them.
	fold *folder

	// Counts over the whole run.
	conns       uint64
	streamed    uint64 // records streamed (selected, not folded)
	evicted     uint64
	idleExpired uint64
	byKind      map[string]uint64
	uncertain   uint64
}

// newLiveSink returns a sink streaming to outs.
func newLiveSink(outs []Output, maxRecords int) *liveSink {
	records := NewCollector(1)
	records.SkipLatency = true // gathered over every streamed record instead
	return &liveSink{outs: outs, drops: &dropLog{}, byKind: map[string]uint64{},
		maxRecords: maxRecords, maxFindings: maxRecords, records: records,
		now: func() int64 { return time.Now().UnixNano() }}
}

// Conn implements tracker.Sink.
func (s *liveSink) Conn(_ int, r *tracker.Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conns++
	switch r.Reason {
	case tracker.EndEvicted:
		s.evicted++
	case tracker.EndIdle:
		s.idleExpired++
	}
	s.metrics.record(r.Reason)
	s.evidence.release(r.Conn.Key())
	if s.fold != nil && r.Timeline == nil && r.Transitions == nil && !r.Conn.Anomalous() && s.fold.add(&r.Conn) {
		return // counted in its flood's tally, as offline
	}
	if s.matchRecord == nil || s.matchRecord(r) {
		s.record(r)
		s.streamed++
		s.latency.Add(r)
		s.metrics.latency(r)
	}
	keep := s.records.Len() < s.maxRecords
	if !keep && r.Conn.Anomalies != 0 && s.anomalous < s.maxRecords {
		keep = true
		s.anomalous++
	}
	if !keep {
		s.droppedRecords++
		s.metrics.reportDropped("records")
		return
	}
	s.records.Conn(0, r)
}

// Finding implements tracker.Sink.
func (s *liveSink) Finding(_ int, f *tracker.Finding) {
	fc := *f
	fc.Evidence = slices.Clone(f.Evidence)
	fc.UIDs = slices.Clone(f.UIDs)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.finding(&fc, true)
}

// finding handles one finding (a copy the sink may keep); keep says
// whether it goes into the final report's list.
func (s *liveSink) finding(f *tracker.Finding, keep bool) {
	if s.match != nil && !s.match(f) {
		return
	}
	if f.Kind.AbsenceBased() { // capture loss during its evidence can fake it
		if s.drops.markUncertain(f, s.now()) {
			s.uncertain++
		}
	}
	s.byKind[f.Kind.String()]++
	s.metrics.finding(f)
	if f.Severity >= tracker.SevWarning && f.UID != 0 {
		k, _ := tracker.MakeFlowKey(f.Orig, f.Resp)
		s.evidence.dump(k)
	}
	s.write(f)
	if !keep {
		return
	}
	if len(s.findings) >= s.maxFindings {
		s.droppedFindings++
		s.metrics.reportDropped("findings")
		return
	}
	s.findings = append(s.findings, *f)
}

// each calls write with every output's stream, in order, until one fails;
// the first error sticks. Called with the sink's lock held.
func (s *liveSink) each(write func(report.Stream) error) {
	for i := range s.outs {
		if s.err != nil {
			return
		}
		o := &s.outs[i]
		s.err = o.wrap(write(o.Stream))
	}
}

// record streams one connection record to every output (those that list
// connections in the summary ignore it).
func (s *liveSink) record(r *tracker.Record) {
	s.each(func(st report.Stream) error { return st.Record(r) })
}

// write streams one finding to every output.
func (s *liveSink) write(f *tracker.Finding) {
	s.each(func(st report.Stream) error { return st.Finding(f) })
}

// stats writes a status record to every output.
func (s *liveSink) stats(rec *report.Stats) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.each(func(st report.Stream) error { return st.Stats(rec) })
}

// liveZeekSweep is how often live capture in Zeek mode looks for the
// connections Zeek's timers remove (tracker.Config.SweepEvery).
const liveZeekSweep = time.Second

// liveFoldVictims bounds the victims whose possible flood members a live
// run counts (--fold-after): about 64 bytes each.
const liveFoldVictims = 1 << 16

// foldAfter makes the sink fold the possible flood members of each victim
// past the first n (0: none), as offline analysis does.
func (s *liveSink) foldAfter(n int) {
	if n > 0 {
		s.fold = &folder{member: detect.FloodMember, limit: n, maxVictims: liveFoldVictims}
	}
}

// tick hands the time to every output that works on the clock (flushing
// buffered records, rotating files).
func (s *liveSink) tick(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.each(func(st report.Stream) error {
		if t, ok := st.(report.Ticker); ok {
			return t.Tick(now)
		}
		return nil
	})
}

// finalResult fills res with what the sink kept for the final report
// (the sink keeps no more): the records, the findings with those about many
// connections (streamed now), the tallies of the flood members folded, and
// the count of connections streamed. It returns what the report leaves out
// and the findings marked uncertain.
func (s *liveSink) finalResult(cfg *Config, res *report.Result) (droppedRecords, droppedFindings, uncertain uint64) {
	s.mu.Lock()
	res.Records, res.Findings = s.records.Records(), s.findings // records sorted
	res.Latency = &s.latency
	s.findings = nil
	var folded []tracker.Folded
	if s.fold != nil {
		folded = mergeFolded(s.fold)
	}
	streamed := s.streamed
	droppedRecords, droppedFindings = s.droppedRecords, s.droppedFindings
	s.mu.Unlock()
	report.SortFindings(res.Findings)
	agg := detect.Aggregate(res.Records, res.Findings, folded, cfg.Detect)
	s.mu.Lock()
	for i := range agg {
		s.finding(&agg[i], false)
	}
	uncertain = s.uncertain
	s.mu.Unlock()
	res.Records = cfg.Select.filter(res.Records)
	res.Folded = cfg.Select.filterFolded(folded)
	res.Connections = int(streamed) + report.FoldedCount(res.Folded)
	res.Findings = append(res.Findings, cfg.Select.filterFindings(agg, res.Records)...)
	report.SortFindings(res.Findings)
	return droppedRecords, droppedFindings, uncertain
}

// counts returns a copy of the run's counts.
func (s *liveSink) counts() (conns, evicted, idle uint64, byKind map[string]uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	byKind = make(map[string]uint64, len(s.byKind))
	for k, v := range s.byKind {
		byKind[k] = v
	}
	return s.conns, s.evicted, s.idleExpired, byKind
}

// dropInterval is a span of packet time in which the capture lost packets.
type dropInterval struct {
	from, to int64
	n        uint64
}

// maxDropIntervals bounds the intervals remembered; older ones are merged.
const maxDropIntervals = 4096

// dropLog records the intervals with capture loss. The reader goroutine
// adds to it; the sink reads it.
type dropLog struct {
	mu        sync.Mutex
	intervals []dropInterval
	total     uint64
}

// add records n packets lost between from and to (Unix nanoseconds).
// Intervals that touch are merged.
func (d *dropLog) add(from, to int64, n uint64) {
	if n == 0 {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.total += n
	if k := len(d.intervals); k > 0 && from <= d.intervals[k-1].to {
		last := &d.intervals[k-1]
		last.from = min(last.from, from)
		last.to = max(last.to, to)
		last.n += n
		return
	}
	if len(d.intervals) == maxDropIntervals {
		// Merge the two oldest: the log stays bounded and errs on the
		// side of uncertainty.
		d.intervals[1].from = d.intervals[0].from
		d.intervals[1].n += d.intervals[0].n
		d.intervals = append(d.intervals[:0], d.intervals[1:]...)
	}
	d.intervals = append(d.intervals, dropInterval{from, to, n})
}

// overlap returns the packets lost in intervals overlapping [from, to] and
// the span they cover.
func (d *dropLog) overlap(from, to int64) (n uint64, first, last int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i := len(d.intervals) - 1; i >= 0; i-- {
		iv := d.intervals[i]
		if iv.to < from {
			break
		}
		if iv.from > to {
			continue
		}
		n += iv.n
		if first == 0 || iv.from < first {
			first = iv.from
		}
		last = max(last, iv.to)
	}
	return n, first, last
}

// markUncertain marks f uncertain, with a note in its summary, when the
// capture lost packets between the start of its evidence and now (the
// moment it was decided): the packet whose absence it rests on may be one
// of them. It reports whether it marked f.
func (d *dropLog) markUncertain(f *tracker.Finding, now int64) bool {
	from := f.Time
	if f.First != 0 && f.First < from {
		from = f.First
	}
	to := max(f.Time, f.Last)
	for _, e := range f.Evidence {
		if e.Time != 0 && e.Time < from {
			from = e.Time
		}
		to = max(to, e.Time)
	}
	to = max(to, now)
	n, first, last := d.overlap(from, to)
	if n == 0 {
		return false
	}
	f.Uncertain = true
	f.Summary += fmt.Sprintf(" (uncertain: the capture dropped %d packets between %s and %s, while this was being observed; the packet it rests on not seeing may be among them)",
		n, time.Unix(0, first).UTC().Format("15:04:05.000"), time.Unix(0, last).UTC().Format("15:04:05.000"))
	return true
}
