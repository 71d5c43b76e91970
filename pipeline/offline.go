package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wirestate/wirestate/capture"
	"github.com/wirestate/wirestate/report"
	"github.com/wirestate/wirestate/tracker"
	"github.com/wirestate/wirestate/tracker/detect"
)

// pass is one read of the input through the tracker.
type pass struct {
	cfg *Config
	// history keeps Zeek's history bookkeeping.
	history bool
	// metrics measures every connection's latency and loss.
	metrics bool
	// record selects connections whose timelines are kept.
	record func(tracker.UID) bool
	// only, when set, restricts the segments fed to these 4-tuples.
	only *flowSet
	// mark, when set, notes the places that cut the file into parts for
	// a later pass; parts, when set, are such places: the pass reads the
	// parts after the first side by side (see parts.go).
	mark  *marker
	parts []capture.Mark
	// keep, when set, selects the records collected.
	keep func(*tracker.Record) bool
	// until, when set, stops reading after this packet time: no later
	// packet belongs to a connection of interest. Packet time then moves
	// on to settle, so that their timers (TIME_WAIT's 2MSL) fire as they
	// did in the first pass.
	until, settle int64
	// states, when set, counts per-host states over time.
	states *StateRecorder
	// rings, when set, keeps every 4-tuple's last segments (standard
	// input, read once); replay, when set, is read instead of the files.
	rings  *segRings
	replay []tracker.Segment
}

// Analyze reads the configured files (twice when timelines of chosen
// connections are wanted, once more for --write-findings) and returns the
// result, ready for the outputs.
func Analyze(ctx context.Context, cfg *Config) (*report.Result, error) {
	needs := cfg.needs()
	sel := &cfg.Select
	names := cfg.Files
	first := pass{cfg: cfg, history: needs.History, metrics: needs.Metrics}
	if slices.Contains(names, "-") {
		cfg.stdin = interruptible(ctx, os.Stdin)
		// Standard input is read once: the timelines are replayed from
		// the rings of segments the first pass keeps.
		if cfg.WriteFindings != "" {
			return nil, errors.New("--write-findings needs capture files: standard input is read once")
		}
		if cfg.Timelines != TimelinesNone || len(sel.uids) > 0 || needs.FindingTimelines > 0 {
			first.rings = newSegRings()
		}
	}
	if needs.States {
		first.states = NewStateRecorder(int64(cfg.MSL))
	}
	switch {
	case cfg.Timelines == TimelinesAll:
		first.record = func(u tracker.UID) bool { return true }
	case len(sel.uids) > 0:
		first.record = func(u tracker.UID) bool { return sel.uids[u] }
	}
	if len(names) == 1 && first.rings == nil {
		first.mark = &marker{}
	}
	res, err := first.run(ctx, names)
	if err != nil {
		return nil, err
	}
	var marks []capture.Mark
	if first.mark != nil {
		marks = first.mark.marks
	}

	// The connections whose timelines the outputs show (examples of each
	// warning or critical kind, or every such connection), and those
	// recorded besides (every finding's, for the HTML report).
	shown := map[tracker.UID]bool{}
	if cfg.Timelines == TimelinesAnomalous || needs.FindingTimelines > 0 {
		if cfg.Timelines == TimelinesAnomalous {
			shown = shownUIDs(res.Findings, needs)
		}
		recorded := withFindingUIDs(shown, res.Findings, needs.FindingTimelines)
		if err := secondPass(ctx, cfg, names, res, recorded, needs.History, needs.Metrics, first.rings, marks); err != nil {
			return nil, err
		}
	}

	if err := writeFindingsPcap(ctx, cfg, names, res); err != nil {
		return nil, err
	}
	res.Records = sel.filter(res.Records)
	res.Folded = sel.filterFolded(res.Folded)
	res.Findings = sel.filterFindings(res.Findings, res.Records)
	mode := cfg.Timelines
	res.Show = report.Show{
		Transitions: mode != TimelinesNone || len(sel.uids) > 0,
		Timelines: func(r *tracker.Record) bool {
			return sel.uids[r.Conn.UID] || mode == TimelinesAll || mode == TimelinesAnomalous && shown[r.Conn.UID]
		},
	}
	return res, nil
}

// shownUIDs returns the connections whose timelines the outputs print: a
// few examples of each warning or critical kind, or every such connection
// up to a bound.
func shownUIDs(fs []tracker.Finding, needs report.Needs) map[tracker.UID]bool {
	shown := map[tracker.UID]bool{}
	if needs.ExampleTimelines > 0 {
		shown = report.ExampleUIDs(fs, needs.ExampleTimelines)
	}
	n := len(shown)
	for i := range fs {
		if f := &fs[i]; f.UID != 0 && f.Severity >= tracker.SevWarning && n < needs.WarningTimelines && !shown[f.UID] {
			shown[f.UID] = true
			n++
		}
	}
	return shown
}

// withFindingUIDs returns shown and, up to max in all, the connections of
// every finding, most severe first (so that the bound drops info findings
// first).
func withFindingUIDs(shown map[tracker.UID]bool, fs []tracker.Finding, max int) map[tracker.UID]bool {
	if max == 0 {
		return shown
	}
	out := make(map[tracker.UID]bool, len(shown))
	for u := range shown {
		out[u] = true
	}
	for sev := tracker.SevCritical; ; sev-- {
		for i := range fs {
			if f := &fs[i]; f.UID != 0 && f.Severity == sev && len(out) < max {
				out[f.UID] = true
			}
		}
		if sev == tracker.SevInfo {
			break
		}
	}
	return out
}

// secondPass reads the input again for the connections in recorded that
// have no timeline yet, seeing only their 4-tuples, and gives their
// records in res the timelines and transitions it recorded (and, when the
// first pass measured capture loss only, their metrics). marks, when
// the first pass took them, cut the file into parts read side by side.
func secondPass(ctx context.Context, cfg *Config, names []string, res *report.Result, recorded map[tracker.UID]bool, history, metrics bool, rings *segRings, marks []capture.Mark) error {
	want := map[tracker.UID]bool{}
	keys := map[tracker.FlowKey]bool{}
	twoMSL := 2 * int64(cfg.MSL)
	var until, settle int64
	for i := range res.Records {
		r := &res.Records[i]
		if recorded[r.Conn.UID] && r.Timeline == nil && cfg.Select.Match(r) {
			want[r.Conn.UID] = true
			keys[r.Conn.Key()] = true
			until = max(until, readUntil(r, twoMSL, res.Input.Last))
			// Timers need no packets: packet time is moved on to 2MSL
			// after the last packet, never past the capture's end.
			settle = max(settle, r.Conn.Last+twoMSL+1)
		}
	}
	settle = min(settle, res.Input.Last)
	if len(want) == 0 {
		return nil
	}
	second := pass{cfg: cfg, history: history, metrics: metrics, only: newFlowSet(keys), until: until, settle: settle, parts: marks,
		record: func(u tracker.UID) bool { return want[u] },
		keep:   func(r *tracker.Record) bool { return want[r.Conn.UID] }}
	if rings != nil {
		var cut, missing int
		second.replay, cut, missing = rings.replay(keys)
		if (cut > 0 || missing > 0) && cfg.Stderr != nil {
			fmt.Fprintf(cfg.Stderr, "wirestate: standard input is read once: %d of %d timelines start mid-connection (more than %d segments on the 4-tuple) and %d could not be kept (%d MiB of segments held); give -r FILE for all of them\n",
				cut, len(keys), ringSize, missing, ringBudget>>20)
		}
		if len(second.replay) == 0 {
			return nil
		}
	}
	res2, err := second.run(ctx, names)
	if err != nil {
		return err
	}
	byUID := make(map[tracker.UID]*tracker.Record, len(res2.Records))
	for i := range res2.Records {
		byUID[res2.Records[i].Conn.UID] = &res2.Records[i]
	}
	for i := range res.Records {
		if r2 := byUID[res.Records[i].Conn.UID]; r2 != nil {
			res.Records[i].Timeline, res.Records[i].Transitions = r2.Timeline, r2.Transitions
			if !metrics {
				// The first pass measured capture loss only; the
				// second, recording, measured the shown connections.
				res.Records[i].Metrics = r2.Metrics
			}
		}
	}
	return nil
}

// readUntil returns the packet time up to which the second pass reads for
// record r's timeline to come out as a single pass recording everything
// makes it. A connection's packets end with its last one (Last), with two
// exceptions. A stale segment's connections read on for 2MSL. An
// incarnation that a newer one replaced on its 4-tuple may still be sent
// segments afterwards (ConnLateSegments; not in Last when stale), so it
// reads to the capture's end (inputLast); and when it was emitted still in
// TIME_WAIT (capture-end, not closed), its timer must not run out in the
// second pass either: whatever emitted it (a third incarnation, the
// successor's end) came within 2MSL of Last.
func readUntil(r *tracker.Record, twoMSL, inputLast int64) int64 {
	c := &r.Conn
	end := c.Last + 1
	if c.Has(tracker.AnomStaleSegment) {
		end += twoMSL
	}
	if c.Flags&tracker.ConnReincarnated != 0 {
		switch {
		case c.Flags&tracker.ConnLateSegments != 0:
			end = max(end, inputLast+1)
		case r.Reason == tracker.EndCaptureEnd && (c.Peers[0].State == tracker.TimeWait || c.Peers[1].State == tracker.TimeWait):
			end = max(end, c.Last+1+twoMSL)
		}
	}
	return end
}

// trackerConfig returns the tracker configuration shared by every pass and
// live capture.
func (c *Config) trackerConfig(shards int, sink tracker.Sink, obs func(int, func(*tracker.Finding)) []tracker.Observer) tracker.Config {
	var sweep int64
	if c.Live != nil && c.Zeek != nil {
		// Live conn.log: connections leave when Zeek's timers say, not
		// up to a minute later.
		sweep = int64(liveZeekSweep)
	}
	return tracker.Config{
		SweepEvery:  sweep,
		Shards:      shards,
		MaxConns:    c.MaxConns,
		MSL:         int64(c.MSL),
		IdleTimeout: int64(c.IdleTimeout),
		Sink:        sink,
		Observers:   obs,
		Zeek:        c.Zeek,
	}
}

// run reads every input once through a fresh tracker.
func (p *pass) run(ctx context.Context, names []string) (*report.Result, error) {
	cfg := p.cfg
	var src *capture.FileSource
	if p.replay == nil {
		var err error
		if src, err = capture.Open(names, cfg.fileOptions()); err != nil {
			return nil, err
		}
		defer src.Close()
	}
	next := func(seg *tracker.Segment) error { return src.Next(seg) }
	if p.replay != nil {
		segs := p.replay
		next = func(seg *tracker.Segment) error {
			if len(segs) == 0 {
				return io.EOF
			}
			*seg, segs = segs[0], segs[1:]
			return nil
		}
	}
	shards := cfg.shards()
	col := NewCollector(shards)
	col.Keep = p.keep
	col.Metrics = p.metrics
	if p.keep == nil {
		col.Fold, col.FoldAfter = detect.FloodMember, cfg.FoldAfter
	}
	tcfg := cfg.trackerConfig(shards, col, withStates(detect.Observers(cfg.Detect), p.states))
	tcfg.Record = p.record
	// Zeek's history and conn_state appear in JSON and conn.log only.
	tcfg.SkipHistory = !p.history
	// Latency and loss appear in JSON and HTML for every connection,
	// in the text report's timelines only (recorded connections).
	tcfg.SkipMetrics = !p.metrics
	var tr *tracker.Tracker
	var seg tracker.Segment
	var at int64
	progress := cfg.Progress
	if p.keep != nil || src == nil {
		progress = nil // the first pass alone shows progress
	}
	if p.mark != nil && src != nil {
		_, p.mark.size, _ = src.Progress()
		if p.mark.parts = partsFor(p.mark.size); p.mark.parts < 2 {
			p.mark = nil
		}
	}
	start := func(t0 int64) error {
		if cfg.At != "" {
			var err error
			if at, err = ParseAt(cfg.At, t0); err != nil {
				return err
			}
			tcfg.SnapshotAt = at
		}
		tr = tracker.New(tcfg)
		return nil
	}
	var partEnd uint64 // the first part's last frame
	var outs []chan *partBatch
	if len(p.parts) > 0 && src != nil {
		partEnd = p.parts[0].Frame
		var stopParts func()
		outs, stopParts = p.startParts(ctx)
		defer stopParts()
	}
	stopped := false
	for n := 0; ; n++ {
		if n&0xffff == 0 {
			if ctx.Err() != nil {
				stopped = true
				break // interrupted: report what was read
			}
			if progress != nil {
				read, total, packets := src.Progress()
				progress(read, total, packets, false)
			}
		}
		err := next(&seg)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if partEnd != 0 && seg.Frame > partEnd {
			break // the next part's: read by its goroutine
		}
		if tr == nil {
			if err := start(seg.Time); err != nil {
				return nil, err
			}
		}
		if p.until != 0 && seg.Time > p.until {
			tr.Advance(max(seg.Time, p.settle)) // both times the first pass reached
			stopped = true
			break
		}
		if p.only != nil && !p.only.has(&seg) {
			tr.Advance(seg.Time) // timers still run on packet time
			continue
		}
		if p.rings != nil {
			p.rings.add(&seg)
		}
		tr.Feed(&seg)
		if p.mark != nil && n&(markEvery-1) == 0 {
			p.mark.note(src)
		}
	}
	if outs != nil && !stopped {
		if err := p.feedParts(ctx, outs, &tr, start); err != nil {
			return nil, err
		}
	}
	if p.replay != nil && tr != nil && p.settle != 0 {
		// The files' other packets moved packet time on; the replay moves
		// it to where the first pass reached, so timers fire alike.
		tr.Advance(p.settle)
	}
	if progress != nil {
		read, total, packets := src.Progress()
		progress(read, total, packets, true)
	}
	res := &report.Result{}
	if src != nil {
		st := src.Stats()
		res.Input = inputOf(names, st)
		res.Input.Filter = cfg.Filter
		if p.keep == nil {
			warnInput(cfg.Stderr, st)
		}
	}
	if tr == nil {
		if cfg.At != "" {
			if _, err := ParseAt(cfg.At, 0); err != nil {
				return nil, err
			}
		}
		return res, nil
	}
	res.Tracker = tr.Close()
	res.Records = col.Records()
	res.Folded = col.Folded()
	res.Findings = col.Findings()
	res.Latency = col.Latency()
	if p.keep == nil {
		res.Findings = append(res.Findings, detect.Aggregate(res.Records, res.Findings, res.Folded, cfg.Detect)...)
		report.SortFindings(res.Findings)
	}
	if p.states != nil {
		res.States = p.states
	}
	if cfg.At != "" {
		res.At = at
		res.Snapshot = tr.Snapshot()
		if res.Snapshot == nil {
			res.Snapshot = []tracker.ConnState{}
		}
	}
	return res, nil
}

// withStates adds the recorder's observer, if any, to each shard's
// observers.
func withStates(obs func(int, func(*tracker.Finding)) []tracker.Observer, rec *StateRecorder) func(int, func(*tracker.Finding)) []tracker.Observer {
	if rec == nil {
		return obs
	}
	return func(shard int, emit func(*tracker.Finding)) []tracker.Observer {
		return append(obs(shard, emit), rec.Observer())
	}
}

// ParseAt turns an --at value into nanoseconds since the epoch; start is
// the first packet's time, for offsets.
func ParseAt(s string, start int64) (int64, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "+") {
		d, err := time.ParseDuration(s[1:])
		if err != nil {
			return 0, fmt.Errorf("--at %q: bad offset: %v", s, err)
		}
		return start + int64(d), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UnixNano(), nil
	}
	if v, err := strconv.ParseFloat(s, 64); err == nil {
		sec := int64(v)
		return sec*1e9 + int64((v-float64(sec))*1e9+0.5), nil
	}
	return 0, fmt.Errorf("--at %q: want RFC 3339 (2026-11-22T10:00:00Z), epoch seconds, or +OFFSET (+12.5s)", s)
}

// warnInput tells, once per run, what of the input was not read: files
// that ended early on damage (the report covers what came before), files
// of a directory that are not captures.
func warnInput(w io.Writer, st capture.Stats) {
	if w == nil {
		return
	}
	for _, e := range st.Damaged {
		fmt.Fprintf(w, "wirestate: warning: %v; the report covers the packets before it (--strict makes this an error)\n", &e)
	}
	if n := len(st.NotCaptures); n > 0 {
		names := st.NotCaptures
		more := ""
		if n > 5 {
			names, more = names[:5], fmt.Sprintf(" and %d more", n-5)
		}
		fmt.Fprintf(w, "wirestate: skipped %d files that are not captures: %s%s\n", n, strings.Join(names, ", "), more)
	}
}

// interruptible returns a reader of r that ends (io.EOF) as soon as ctx is
// done, even while a read of r blocks: Ctrl-C while standard input is still
// open ends the run with a report of what was read. A goroutine copies r;
// it is left blocked on r when ctx ends first (the process is ending).
func interruptible(ctx context.Context, r io.Reader) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		_, err := io.Copy(pw, r)
		pw.CloseWithError(err) // nil: io.EOF for the reader
	}()
	context.AfterFunc(ctx, func() { pw.CloseWithError(io.EOF) })
	return pr
}
