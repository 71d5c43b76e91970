package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/wirestate/wirestate/report"
	"github.com/wirestate/wirestate/tracker"
)

// mixLabels is pcaps/mixed.labels.json, written by the lab's mixed
// scenario (pcaps/lab/peer/mixed.go): per connection, the finding kinds its
// behaviour calls for.
type mixLabels struct {
	Capture string         `json:"capture"`
	Client  string         `json:"client"`
	Server  string         `json:"server"`
	Counts  map[string]int `json:"counts"`
	Conns   []struct {
		OrigP     uint16   `json:"orig_p"`
		RespP     uint16   `json:"resp_p"`
		Nth       int      `json:"nth"`
		Behaviour string   `json:"behaviour"`
		Expect    []string `json:"expect"`
	} `json:"conns"`
}

// kindScore is one row of the precision/recall matrix.
type kindScore struct {
	kind       tracker.AnomalyKind
	sev        tracker.Severity // the highest severity seen (default if none)
	tp, fp, fn int
	fpConns    []string // behaviour and 4-tuple of some false positives
	fnConns    []string
}

func ratio(a, b int) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(a)/float64(b))
}

// scoreMixed matches res's connections to the labels and scores every
// finding kind. A connection's kinds are its per-connection findings and
// the aggregates listing it among their members (the kind bits of its
// record); an aggregate without member list (per host) is scored
// separately by the caller. Every labelled connection must be found and
// every connection must be labelled.
func scoreMixed(t *testing.T, res *report.Result, lab *mixLabels) []*kindScore {
	t.Helper()
	type key struct {
		orig, resp uint16
		nth        int
	}
	seen := map[[2]uint16]int{}
	recs := map[key]*tracker.Record{}
	for i := range res.Records {
		c := &res.Records[i].Conn
		if c.Orig.Addr.String() != lab.Client || c.Resp.Addr.String() != lab.Server {
			t.Errorf("connection %s %s→%s is not between the lab's client and server", c.UID, c.Orig, c.Resp)
			continue
		}
		tup := [2]uint16{c.Orig.Port, c.Resp.Port}
		recs[key{tup[0], tup[1], seen[tup]}] = &res.Records[i]
		seen[tup]++
	}
	scores := map[tracker.AnomalyKind]*kindScore{}
	for k := range tracker.AllKinds() {
		scores[k] = &kindScore{kind: k, sev: k.DefaultSeverity()}
	}
	maxSev := map[tracker.AnomalyKind]tracker.Severity{}
	for _, f := range res.Findings {
		if f.Severity > maxSev[f.Kind] {
			maxSev[f.Kind] = f.Severity
		}
	}
	for k, s := range maxSev {
		scores[k].sev = s
	}
	matched := 0
	expect := map[tracker.UID][]string{}
	for _, l := range lab.Conns {
		r := recs[key{l.OrigP, l.RespP, l.Nth}]
		if r == nil {
			t.Errorf("labelled connection %s :%d→:%d (nth %d) is not in the analysis", l.Behaviour, l.OrigP, l.RespP, l.Nth)
			continue
		}
		matched++
		expect[r.Conn.UID] = l.Expect
		have := map[string]bool{}
		for _, k := range r.Conn.AnomalyNames() {
			have[k] = true
		}
		desc := fmt.Sprintf("%s %s :%d→:%d", l.Behaviour, r.Conn.UID, l.OrigP, l.RespP)
		for k := range tracker.AllKinds() {
			if k.Aggregate() && !perConnAggregate(k) {
				continue
			}
			s, want := scores[k], slices.Contains(l.Expect, k.String())
			switch {
			case want && have[k.String()]:
				s.tp++
			case want:
				s.fn++
				s.fnConns = append(s.fnConns, desc)
			case have[k.String()]:
				s.fp++
				s.fpConns = append(s.fpConns, desc)
			}
		}
	}
	// The members of a per-listener aggregate (abortive-close in bulk,
	// close-wait-stuck per service, floods) carry its kind, so they were
	// scored above; an aggregate must not list a connection whose label
	// does not call for its kind either.
	for _, f := range res.Findings {
		for _, u := range f.UIDs {
			if e, ok := expect[u]; ok && !slices.Contains(e, f.Kind.String()) {
				scores[f.Kind].fp++
				scores[f.Kind].fpConns = append(scores[f.Kind].fpConns, fmt.Sprintf("%s member %s", f.Scope, u))
			}
		}
	}
	// An aggregate about a listener that lists no member (all folded) is
	// matched to the listener's labelled connections: one true positive if
	// any of them expects the kind, else one false positive.
	for _, f := range res.Findings {
		if f.UID != 0 || len(f.UIDs) > 0 || !perConnAggregate(f.Kind) {
			continue
		}
		want := false
		for _, l := range lab.Conns {
			if fmt.Sprintf("%s:%d", lab.Server, l.RespP) == f.Scope && slices.Contains(l.Expect, f.Kind.String()) {
				want = true
			}
		}
		if want {
			scores[f.Kind].tp++
		} else {
			scores[f.Kind].fp++
			scores[f.Kind].fpConns = append(scores[f.Kind].fpConns, "aggregate "+f.Scope)
		}
	}
	if matched != len(res.Records) {
		t.Errorf("%d connections analysed, %d labelled and matched", len(res.Records), matched)
	}
	var out []*kindScore
	for k := range tracker.AllKinds() {
		out = append(out, scores[k])
	}
	return out
}

// perConnAggregate: aggregate kinds whose members carry the kind (flood
// members); time-wait-load and ephemeral-ports are per host.
func perConnAggregate(k tracker.AnomalyKind) bool {
	return k != tracker.AnomTimeWaitLoad && k != tracker.AnomEphemeralPorts
}

// TestMixedPrecisionRecall scores wirestate's findings on pcaps/mixed.pcap,
// a few thousand connections between real kernels with labelled
// behaviours, per finding kind: precision must be 100% for every warning
// and critical kind, recall at least 99% for every kind the mix forces.
func TestMixedPrecisionRecall(t *testing.T) { checkMixed(t, pcapDir) }

// checkMixed scores dir/mixed.pcap against dir/mixed.labels.json and
// asserts the bars.
func checkMixed(t *testing.T, dir string) {
	lab := loadMixLabels(t, dir)
	res := analyzeFor(t, filepath.Join(dir, lab.Capture))
	scores := scoreMixed(t, res, lab)

	var sb strings.Builder
	fmt.Fprintf(&sb, "%d connections (%s)\n", len(lab.Conns), behaviourCounts(lab.Counts))
	fmt.Fprintf(&sb, "%-28s %-8s %5s %4s %4s %9s %7s\n", "kind", "severity", "TP", "FP", "FN", "precision", "recall")
	for _, s := range scores {
		if s.tp+s.fp+s.fn == 0 {
			continue
		}
		fmt.Fprintf(&sb, "%-28s %-8s %5d %4d %4d %9s %7s\n", s.kind, s.sev, s.tp, s.fp, s.fn, ratio(s.tp, s.tp+s.fp), ratio(s.tp, s.tp+s.fn))
	}
	for _, f := range res.Findings {
		if f.UID == 0 && len(f.UIDs) == 0 && !perConnAggregate(f.Kind) {
			fmt.Fprintf(&sb, "per host: %s %s %s: %s\n", f.Kind, f.Severity, f.Scope, f.Summary)
			if f.Severity >= tracker.SevWarning {
				t.Errorf("per-host %s finding at %s: %s", f.Kind, f.Severity, f.Summary)
			}
		}
	}
	t.Log("\n" + sb.String())

	for _, s := range scores {
		if s.sev >= tracker.SevWarning && s.fp > 0 {
			t.Errorf("%s (%s): precision %s, %d false positives, e.g. %s", s.kind, s.sev, ratio(s.tp, s.tp+s.fp), s.fp, strings.Join(first(s.fpConns, 3), "; "))
		}
		if s.tp+s.fn > 0 && 100*s.tp < 99*(s.tp+s.fn) {
			t.Errorf("%s: recall %s, %d missed, e.g. %s", s.kind, ratio(s.tp, s.tp+s.fn), s.fn, strings.Join(first(s.fnConns, 3), "; "))
		}
	}
}

func loadMixLabels(t *testing.T, dir string) *mixLabels {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "mixed.labels.json"))
	if err != nil {
		t.Fatal(err)
	}
	var lab mixLabels
	if err := json.Unmarshal(b, &lab); err != nil {
		t.Fatal(err)
	}
	if len(lab.Conns) < 2000 {
		t.Fatalf("%d labelled connections, want a few thousand", len(lab.Conns))
	}
	return &lab
}

// TestMixedScoringCounts checks that the scoring can fail: with one normal
// connection labelled lost-final-ack and one lost-final-ack connection
// labelled clean, lost-final-ack has exactly one false positive and one
// false negative more.
func TestMixedScoringCounts(t *testing.T) {
	lab := loadMixLabels(t, pcapDir)
	res := analyzeFor(t, filepath.Join(pcapDir, lab.Capture))
	before := scoreMixed(t, res, lab)[tracker.AnomLostFinalACK]
	var normal, lost bool
	for i := range lab.Conns {
		c := &lab.Conns[i]
		switch {
		case c.Behaviour == "normal" && !normal:
			c.Expect, normal = []string{"lost-final-ack"}, true
		case c.Behaviour == "lost-final-ack" && !lost:
			c.Expect, lost = nil, true
		}
	}
	after := scoreMixed(t, res, lab)[tracker.AnomLostFinalACK]
	if after.fp != before.fp+1 || after.fn != before.fn+1 || after.tp != before.tp-1 {
		t.Errorf("lost-final-ack before TP %d FP %d FN %d, after mislabelling two TP %d FP %d FN %d",
			before.tp, before.fp, before.fn, after.tp, after.fp, after.fn)
	}
}

func first(s []string, n int) []string { return s[:min(n, len(s))] }

func behaviourCounts(m map[string]int) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	var parts []string
	for _, k := range ks {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}
