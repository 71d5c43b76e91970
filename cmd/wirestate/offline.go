package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/wirestate/wirestate/capture"
	"github.com/wirestate/wirestate/report"
	"github.com/wirestate/wirestate/tracker"
	"github.com/wirestate/wirestate/tracker/detect"
)

// pass is one read of the input through the tracker.
type pass struct {
	fl *Flags
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
	// states, when set, counts per-host states over time (--html).
	states *report.StateRecorder
}

// offline analyses the files named by -r and writes the report.
func offline(ctx context.Context, fl *Flags, out, stderr io.Writer) error {
	res, opt, err := analyze(ctx, fl)
	if err != nil {
		return err
	}
	if err := writeHTML(fl, res, opt); err != nil {
		return err
	}
	switch fl.Format {
	case "json":
		return report.WriteJSON(out, res, opt)
	case "zeek":
		return writeZeek(out, res, fl)
	}
	return report.WriteText(out, res, opt)
}

// analyze reads the files named by -r (twice when timelines of anomalous
// connections are wanted) and returns the result and the report options.
func analyze(ctx context.Context, fl *Flags) (*report.Result, report.Options, error) {
	names := fl.Read
	if fl.Timeline != "none" || len(fl.Conns) > 0 || fl.HTML.Path != "" || fl.HTML.WriteFindings != "" {
		// Timelines of anomalous connections are built in a second pass,
		// so standard input is spooled to a file that can be read twice.
		spooled, cleanup, err := spoolStdin(names)
		if err != nil {
			return nil, report.Options{}, err
		}
		defer cleanup()
		names = spooled
	}

	sel, err := newSelection(fl)
	if err != nil {
		return nil, report.Options{}, err
	}
	first := pass{fl: fl, states: htmlStates(fl)}
	switch {
	case fl.Timeline == "all":
		first.record = func(u tracker.UID) bool { return true }
	case len(sel.uids) > 0:
		first.record = func(u tracker.UID) bool { return sel.uids[u] }
	}
	res, err := first.run(ctx, names)
	if err != nil {
		return nil, report.Options{}, err
	}

	// The connections whose timelines the report shows: in text, a few
	// examples of each warning or critical kind; in JSON, every such
	// connection (up to maxJSONTimelines).
	shown := map[tracker.UID]bool{}
	if fl.Timeline == "anomalous" || fl.HTML.Path != "" {
		switch {
		case fl.Timeline != "anomalous": // --html alone: no text or JSON timelines
		case fl.Format == "text":
			shown = report.ExampleUIDs(res.Findings, 3)
		default:
			for i := range res.Findings {
				f := &res.Findings[i]
				if f.UID != 0 && f.Severity >= tracker.SevWarning && len(shown) < maxJSONTimelines {
					shown[f.UID] = true
				}
			}
		}
		want := map[tracker.UID]bool{}
		keys := map[tracker.FlowKey]bool{}
		recorded := htmlTimelineUIDs(fl, res.Findings, shown) // shown, and every finding's with --html
		twoMSL := 2 * int64(fl.MSL)
		var until, settle int64
		for i := range res.Records {
			r := &res.Records[i]
			if recorded[r.Conn.UID] && r.Timeline == nil && sel.match(r) {
				want[r.Conn.UID] = true
				keys[r.Conn.Key()] = true
				until = max(until, readUntil(r, twoMSL, res.Input.Last))
				// Timers need no packets: packet time is moved on to
				// 2MSL after the last packet, never past the capture's end.
				settle = max(settle, r.Conn.Last+twoMSL+1)
			}
		}
		settle = min(settle, res.Input.Last)
		if len(want) > 0 {
			second := pass{fl: fl, only: keys, until: until, settle: settle,
				record: func(u tracker.UID) bool { return want[u] },
				keep:   func(r *tracker.Record) bool { return want[r.Conn.UID] }}
			res2, err := second.run(ctx, names)
			if err != nil {
				return nil, report.Options{}, err
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
		}
	}

	if err := writeFindingsPcap(ctx, fl, names, res); err != nil { // --write-findings (html_findings.go)
		return nil, report.Options{}, err
	}
	res.Records = sel.filter(res.Records)
	res.Folded = sel.filterFolded(res.Folded)
	opt := report.Options{
		Local:       fl.LocalTime,
		Transitions: fl.Timeline != "none" || len(fl.Conns) > 0,
		Timelines: func(r *tracker.Record) bool {
			switch {
			case sel.uids[r.Conn.UID]:
				return true
			case fl.Timeline == "all":
				return true
			case fl.Timeline == "anomalous":
				return shown[r.Conn.UID]
			}
			return false
		},
	}
	return res, opt, nil
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

// maxJSONTimelines bounds the connections whose transitions JSON output
// carries by default.
const maxJSONTimelines = 10000

// run reads every input once through a fresh tracker.
func (p *pass) run(ctx context.Context, names []string) (*report.Result, error) {
	fl := p.fl
	zcfg, err := zeekTrackerConfig(fl) // Zeek mode and originator rules (zeek.go)
	if err != nil {
		return nil, err
	}
	src, err := capture.Open(names, capture.FileOptions{Strict: fl.Strict, Decoder: zeekDecoderOptions(fl)}) // checksums: -C (zeek.go)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	shards := fl.Shards
	if shards <= 0 {
		shards = defaultShards()
	}
	col := report.NewCollector(shards)
	col.Keep = p.keep
	if p.keep == nil {
		col.Fold, col.FoldAfter = detect.FloodMember, fl.FoldAfter
	}
	cfg := tracker.Config{
		Shards:      shards,
		MaxConns:    fl.MaxConns,
		MSL:         int64(fl.MSL),
		IdleTimeout: int64(fl.IdleTimeout),
		Record:      p.record,
		Sink:        col,
		// Observers, with the --html states recorder (html_states.go).
		Observers: withStates(observers(fl), p.states),
		Zeek:      zcfg, // Zeek mode (zeek.go)
		// Zeek's history and conn_state appear in JSON and conn.log
		// only: the text report (and --html) need not keep them.
		SkipHistory: fl.Format == "text",
	}
	var tr *tracker.Tracker
	var seg tracker.Segment
	var at int64
	for n := 0; ; n++ {
		if n&0xffff == 0 && ctx.Err() != nil {
			break // interrupted: report what was read
		}
		err := src.Next(&seg)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if tr == nil {
			if fl.At != "" {
				if at, err = parseAt(fl.At, seg.Time); err != nil {
					return nil, err
				}
				cfg.SnapshotAt = at
			}
			tr = tracker.New(cfg)
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
	res := &report.Result{Input: inputOf(names, src.Stats())}
	if tr == nil {
		if fl.At != "" {
			if _, err := parseAt(fl.At, 0); err != nil {
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
		res.Findings = append(res.Findings, detect.Aggregate(res.Records, res.Findings, res.Folded, fl.Detect)...)
		report.SortFindings(res.Findings)
	}
	res.States = p.states
	if fl.At != "" {
		res.At = at
		res.Snapshot = tr.Snapshot()
		if res.Snapshot == nil {
			res.Snapshot = []tracker.ConnState{}
		}
	}
	return res, nil
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
