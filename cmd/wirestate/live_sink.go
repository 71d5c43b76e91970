package main

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wirestate/wirestate/report"
	"github.com/wirestate/wirestate/tracker"
)

// liveSink is the tracker.Sink of live capture. Shard workers call it
// concurrently; it serialises everything behind one mutex. It streams each
// finding as it is decided (after marking it uncertain when it rests on a
// packet's absence during capture loss), counts records and findings, feeds
// the metrics and the evidence keeper, and keeps a bounded set of records
// and findings for the final report.
type liveSink struct {
	mu sync.Mutex

	// Output: exactly one of jw (JSON Lines) and tw (text) is set, or
	// neither (--format zeek streams nothing).
	jw  *report.JSONWriter
	tw  *bufio.Writer
	raw io.Writer // the stream under jw or tw, for stats records
	opt report.Options
	err error // the first write error

	drops    *dropLog
	metrics  *liveMetrics
	evidence *evidenceQueue
	// match, when set, selects the findings streamed and kept (--host,
	// --port).
	match func(f *tracker.Finding) bool
	// now returns the current time in Unix nanoseconds (the decision
	// time of a streamed finding).
	now func() int64

	// maxRecords bounds the records kept for the final report: the first
	// maxRecords of any kind, then up to maxRecords more with anomalies.
	// maxFindings bounds the findings kept.
	maxRecords, maxFindings int
	records                 []tracker.Record
	anomalous               int // records kept past maxRecords
	findings                []tracker.Finding
	droppedRecords          uint64
	droppedFindings         uint64

	// Counts over the whole run.
	conns       uint64
	evicted     uint64
	idleExpired uint64
	byKind      map[string]uint64
	uncertain   uint64
}

// newLiveSink returns a sink streaming to out in the given format.
func newLiveSink(out io.Writer, format string, opt report.Options, maxRecords int) *liveSink {
	s := &liveSink{raw: out, opt: opt, drops: &dropLog{}, byKind: map[string]uint64{},
		maxRecords: maxRecords, maxFindings: maxRecords,
		now: func() int64 { return time.Now().UnixNano() }}
	switch format {
	case "json":
		s.jw = report.NewJSONWriter(out, opt)
		s.jw.Flush = true
	case "text":
		s.tw = bufio.NewWriter(out)
	}
	return s
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
	keep := len(s.records) < s.maxRecords
	if !keep && r.Conn.Anomalies != 0 && s.anomalous < s.maxRecords {
		keep = true
		s.anomalous++
	}
	if !keep {
		s.droppedRecords++
		s.metrics.reportDropped("records")
		return
	}
	rc := *r
	rc.Timeline = slices.Clone(r.Timeline)
	rc.Transitions = slices.Clone(r.Transitions)
	s.records = append(s.records, rc)
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

// write streams one finding.
func (s *liveSink) write(f *tracker.Finding) {
	if s.err != nil {
		return
	}
	switch {
	case s.jw != nil:
		s.err = s.jw.Finding(f)
	case s.tw != nil:
		writeFindingLine(s.tw, f, &s.opt)
		s.err = s.tw.Flush()
	}
}

// writeFindingLine writes one finding as one line of text:
// time, severity, kind, uid, endpoints, summary.
func writeFindingLine(w *bufio.Writer, f *tracker.Finding, opt *report.Options) {
	t := time.Unix(0, f.Time)
	if !opt.Local {
		t = t.UTC()
	}
	who := f.Scope
	if f.UID != 0 {
		who = fmt.Sprintf("%s %s → %s", f.UID, f.Orig, f.Resp)
	}
	fmt.Fprintf(w, "%s %-8s %s %s: %s", t.Format("15:04:05.000000"), strings.ToUpper(f.Severity.String()), f.Kind, who, f.Summary)
	if f.Uncertain {
		fmt.Fprint(w, " [uncertain]")
	}
	fmt.Fprintln(w)
}

// writeRaw writes b (a stats line or record) to the stream between
// findings.
func (s *liveSink) writeRaw(b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return
	}
	if s.tw != nil {
		if _, s.err = s.tw.Write(b); s.err == nil {
			s.err = s.tw.Flush()
		}
		return
	}
	_, s.err = s.raw.Write(b)
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
