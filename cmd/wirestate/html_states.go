package main

import (
	"github.com/wirestate/wirestate/report"
	"github.com/wirestate/wirestate/tracker"
)

// maxHTMLTimelines bounds the connections whose timelines are recorded for
// the HTML report.
const maxHTMLTimelines = 20000

// htmlStates returns a recorder of per-host state counts when the HTML
// report is wanted, nil otherwise.
func htmlStates(fl *Flags) *report.StateRecorder {
	if fl.HTML.Path == "" {
		return nil
	}
	return report.NewStateRecorder(int64(fl.MSL))
}

// withStates adds the recorder's observer, if any, to each shard's
// observers.
func withStates(obs func(int, func(*tracker.Finding)) []tracker.Observer, rec *report.StateRecorder) func(int, func(*tracker.Finding)) []tracker.Observer {
	if rec == nil {
		return obs
	}
	return func(shard int, emit func(*tracker.Finding)) []tracker.Observer {
		return append(obs(shard, emit), rec.Observer())
	}
}

// htmlTimelineUIDs returns the connections whose timelines the second pass
// records: those the text or JSON report shows, and, with --html, every
// connection with a finding (up to maxHTMLTimelines of them).
func htmlTimelineUIDs(fl *Flags, fs []tracker.Finding, shown map[tracker.UID]bool) map[tracker.UID]bool {
	if fl.HTML.Path == "" {
		return shown
	}
	out := make(map[tracker.UID]bool, len(shown))
	for u := range shown {
		out[u] = true
	}
	// The most severe first, so that the bound drops info findings first.
	for sev := tracker.SevCritical; ; sev-- {
		for i := range fs {
			if f := &fs[i]; f.UID != 0 && f.Severity == sev && len(out) < maxHTMLTimelines {
				out[f.UID] = true
			}
		}
		if sev == tracker.SevInfo {
			break
		}
	}
	return out
}
