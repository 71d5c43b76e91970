package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wirestate/wirestate/pcaps/manifest"
	"github.com/wirestate/wirestate/pipeline"
	"github.com/wirestate/wirestate/report"
	"github.com/wirestate/wirestate/tracker"
)

const pcapDir = "../../pcaps"

func loadManifest(t *testing.T) *manifest.Manifest {
	t.Helper()
	m, err := manifest.Load(filepath.Join(pcapDir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// analyzeFor runs the whole offline pipeline on path with the given extra
// flags, recording every connection's transitions.
func analyzeFor(t *testing.T, path string, extra ...string) *report.Result {
	t.Helper()
	fl, err := parseFlags(append([]string{"--timeline", "all", "-r", path}, extra...))
	if err != nil {
		t.Fatal(err)
	}
	cfg, closeOutputs, err := pipelineConfig(context.Background(), fl, io.Discard, io.Discard)
	defer closeOutputs()
	if err != nil {
		t.Fatal(err)
	}
	res, err := pipeline.Analyze(context.Background(), cfg)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return res
}

// TestManifest asserts, on every committed sample capture, what the
// manifest says it must show.
func TestManifest(t *testing.T) {
	m := loadManifest(t)
	for _, cs := range m.Captures {
		t.Run(cs.Scenario, func(t *testing.T) {
			checkCapture(t, filepath.Join(pcapDir, cs.File), &cs)
		})
	}
}

// TestManifestOnFreshRecordings re-records the captures from this
// machine's kernel (root only) and asserts the same manifest on them.
func TestManifestOnFreshRecordings(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode: recording takes minutes")
	}
	if os.Geteuid() != 0 {
		t.Skip("skipped: re-recording needs root (network namespaces, nftables, tcpdump)")
	}
	for _, tool := range []string{"tcpdump", "ip", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("skipped: %s is not installed", tool)
		}
	}
	out := t.TempDir()
	cmd := exec.Command("bash", filepath.Join(pcapDir, "lab", "record.sh"))
	cmd.Env = append(os.Environ(), "OUT="+out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("re-recording failed: %v\n%s", err, b)
	}
	m := loadManifest(t)
	for _, cs := range m.Captures {
		t.Run(cs.Scenario, func(t *testing.T) {
			if cs.Scenario == "mixed" {
				cs.Anomalies = freshMinimums(cs.Anomalies)
			}
			checkCapture(t, filepath.Join(out, cs.File), &cs)
		})
	}
	t.Run("mixed-precision-recall", func(t *testing.T) { checkMixed(t, out) })
}

// freshMinimums lowers the mixed capture's least finding counts by one in
// a hundred for a fresh recording: there each of thousands of connections
// runs on this machine's timing, and under the load of a full test run one
// in a few hundred may end without its evidence (twice in about ten CI runs
// a lost final ACK's connection, 151 of 152, plausibly its FIN
// retransmission after the recording stopped). Which connections must show
// which finding is the labels' to say: the precision and recall subtest
// scores every one against them, with the same 99% recall.
func freshMinimums(mins map[string]int) map[string]int {
	out := make(map[string]int, len(mins))
	for kind, n := range mins {
		out[kind] = n - n/100
	}
	return out
}

func checkCapture(t *testing.T, path string, cs *manifest.Capture) {
	res := analyzeFor(t, path)
	n := len(res.Records)
	if cs.ConnCount != nil && n != *cs.ConnCount {
		t.Errorf("%d connections, manifest says %d", n, *cs.ConnCount)
	}
	if cs.ConnCountMin != nil && n < *cs.ConnCountMin {
		t.Errorf("%d connections, manifest says at least %d", n, *cs.ConnCountMin)
	}
	found := map[string]int{}
	for _, f := range res.Findings {
		found[f.Kind.String()]++
	}
	for kind, min := range cs.Anomalies {
		if found[kind] < min {
			t.Errorf("%d %s findings, manifest says at least %d (found %v)", found[kind], kind, min, found)
		}
	}
	if cs.IsClean() {
		for _, f := range res.Findings {
			if f.Severity >= tracker.SevWarning {
				t.Errorf("clean capture has a %s %s finding: %s", f.Severity, f.Kind, f.Summary)
			}
		}
	}
	for i, want := range cs.Conns {
		r := matchConn(res.Records, want.Match)
		if r == nil {
			t.Errorf("conns[%d]: no connection matches %v", i, want.Match)
			continue
		}
		c := &r.Conn
		label := fmt.Sprintf("conns[%d] %s %s→%s", i, c.UID, c.Orig, c.Resp)
		if want.OrigState != "" && c.Peers[tracker.Orig].State.String() != want.OrigState {
			t.Errorf("%s: orig state %s, manifest says %s (transitions: %s)", label, c.Peers[tracker.Orig].State, want.OrigState, transitionList(r))
		}
		if want.RespState != "" && c.Peers[tracker.Resp].State.String() != want.RespState {
			t.Errorf("%s: resp state %s, manifest says %s (transitions: %s)", label, c.Peers[tracker.Resp].State, want.RespState, transitionList(r))
		}
		if want.Partial != nil && c.Partial() != *want.Partial {
			t.Errorf("%s: partial %v, manifest says %v", label, c.Partial(), *want.Partial)
		}
		if len(want.Transitions) > 0 && !subsequence(want.Transitions, transitionItems(r)) {
			t.Errorf("%s: transitions\n  got  %s\n  want %s (in order)", label, transitionList(r), strings.Join(want.Transitions, " "))
		}
		have := map[string]bool{}
		for _, k := range c.AnomalyNames() {
			have[k] = true
		}
		for _, k := range want.Anomalies {
			if !have[k] {
				t.Errorf("%s: no %s finding (has %v)", label, k, c.AnomalyNames())
			}
		}
		for _, k := range want.ForbidAnomalies {
			if have[k] {
				t.Errorf("%s: unexpected %s finding", label, k)
			}
		}
	}
}

// matchConn returns the nth record (in start order) whose fields match.
func matchConn(recs []tracker.Record, m manifest.Match) *tracker.Record {
	nth := m.Nth
	for i := range recs {
		c := &recs[i].Conn
		if m.Matches(c.Orig.Addr.String(), c.Orig.Port, c.Resp.Addr.String(), c.Resp.Port) {
			if nth == 0 {
				return &recs[i]
			}
			nth--
		}
	}
	return nil
}

func transitionItems(r *tracker.Record) []string {
	out := make([]string, 0, len(r.Transitions))
	for _, tr := range r.Transitions {
		out = append(out, tr.Side.String()+":"+tr.To.String())
	}
	return out
}

func transitionList(r *tracker.Record) string { return strings.Join(transitionItems(r), " ") }

func subsequence(want, got []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}
