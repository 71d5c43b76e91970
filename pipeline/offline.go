package pipeline

import (
	"context"
	"fmt"
	"io"
	"os"
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
	// record selects connections whose timelines are kept.
	record func(tracker.UID) bool
	// only, when set, restricts the segments fed to these 4-tuples.
	only map[tracker.FlowKey]bool
	// keep, when set, selects the records collected.
	keep func(*tracker.Record) bool
	// until, when set, stops reading after this packet time: no later
	// packet belongs to a connection of interest. Packet time then moves
	// on to settle, so that their timers (TIME_WAIT's 2MSL) fire as they
	// did in the first pass.
	until, settle int64
	// states, when set, counts per-host states over time.
	states *StateRecorder
}

// Analyze reads the configured files (twice when timelines of chosen
// connections are wanted, once more for --write-findings) and returns the
// result, ready for the outputs.
func Analyze(ctx context.Context, cfg *Config) (*report.Result, error) {
	needs := cfg.needs()
	sel := &cfg.Select
	names := cfg.Files
	if cfg.Timelines != TimelinesNone || len(sel.uids) > 0 || needs.FindingTimelines > 0 || cfg.WriteFindings != "" {
		// Timelines of anomalous connections are built in a second pass,
		// so standard input is spooled to a file that can be read twice.
		spooled, cleanup, err := spoolStdin(names)
		if err != nil {
			return nil, err
		}
		defer cleanup()
		names = spooled
	}

	first := pass{cfg: cfg, history: needs.History}
	if needs.States {
		first.states = NewStateRecorder(int64(cfg.MSL))
	}
	switch {
	case cfg.Timelines == TimelinesAll:
		first.record = func(u tracker.UID) bool { return true }
	case len(sel.uids) > 0:
		first.record = func(u tracker.UID) bool { return sel.uids[u] }
	}
	res, err := first.run(ctx, names)
	if err != nil {
		return nil, err
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
		if err := secondPass(ctx, cfg, names, res, recorded, needs.History); err != nil {
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
// records in res the timelines and transitions it recorded.
func secondPass(ctx context.Context, cfg *Config, names []string, res *report.Result, recorded map[tracker.UID]bool, history bool) error {
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
	second := pass{cfg: cfg, history: history, only: keys, until: until, settle: settle,
		record: func(u tracker.UID) bool { return want[u] },
		keep:   func(r *tracker.Record) bool { return want[r.Conn.UID] }}
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
	return tracker.Config{
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
	src, err := capture.Open(names, cfg.fileOptions())
	if err != nil {
		return nil, err
	}
	defer src.Close()
	shards := cfg.shards()
	col := NewCollector(shards)
	col.Keep = p.keep
	if p.keep == nil {
		col.Fold, col.FoldAfter = detect.FloodMember, cfg.FoldAfter
	}
	tcfg := cfg.trackerConfig(shards, col, withStates(detect.Observers(cfg.Detect), p.states))
	tcfg.Record = p.record
	// Zeek's history and conn_state appear in JSON and conn.log only.
	tcfg.SkipHistory = !p.history
	var tr *tracker.Tracker
	var seg tracker.Segment
	var at int64
	progress := cfg.Progress
	if p.keep != nil {
		progress = nil // the first pass alone shows progress
	}
	for n := 0; ; n++ {
		if n&0xffff == 0 {
			if ctx.Err() != nil {
				break // interrupted: report what was read
			}
			if progress != nil {
				read, total := src.Progress()
				progress(read, total, src.Stats().Packets, false)
			}
		}
		err := src.Next(&seg)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if tr == nil {
			if cfg.At != "" {
				if at, err = ParseAt(cfg.At, seg.Time); err != nil {
					return nil, err
				}
				tcfg.SnapshotAt = at
			}
			tr = tracker.New(tcfg)
		}
		if p.until != 0 && seg.Time > p.until {
			tr.Advance(max(seg.Time, p.settle)) // both times the first pass reached
			break
		}
		if p.only != nil {
			k, _ := tracker.MakeFlowKey(seg.Src, seg.Dst)
			if !p.only[k] {
				tr.Advance(seg.Time) // timers still run on packet time
				continue
			}
		}
		tr.Feed(&seg)
	}
	if progress != nil {
		read, total := src.Progress()
		progress(read, total, src.Stats().Packets, true)
	}
	res := &report.Result{Input: inputOf(names, src.Stats())}
	if p.keep == nil {
		warnInput(cfg.Stderr, src.Stats())
	}
	if cfg.Filter != "" {
		res.Input.Filter, res.Input.Filtered = cfg.Filter, src.Stats().Filtered
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

// spoolStdin copies standard input, if named, to a temporary file.
func spoolStdin(names []string) ([]string, func(), error) {
	out := append([]string(nil), names...)
	cleanup := func() {}
	for i, n := range names {
		if n != "-" {
			continue
		}
		f, err := os.CreateTemp("", "wirestate-stdin-*.pcap")
		if err != nil {
			return nil, cleanup, err
		}
		if _, err := io.Copy(f, os.Stdin); err != nil {
			f.Close()
			os.Remove(f.Name())
			return nil, cleanup, fmt.Errorf("reading standard input: %w", err)
		}
		f.Close()
		out[i] = f.Name()
		name := f.Name()
		cleanup = func() { os.Remove(name) }
		break
	}
	return out, cleanup, nil
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
