package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/wirestate/wirestate/pipeline"
	"github.com/wirestate/wirestate/tracker"
)

// The Zeek conformance test runs wirestate on the traces of Zeek's own test
// suite (../shared/zeek-conformance, see its README and CAVEATS) as Zeek ran
// them, and compares conn_state and history row by row with the conn.log
// Zeek's tests expect, as the corpus's compare.py does: rows are matched by
// 5-tuple and, for a repeated 5-tuple, by order. It fails when conn_state
// agrees on fewer than 98% of the TCP rows or history on fewer than 90%, and
// when a difference is not explained in docs/zeek-differences.md.

// zeekCorpus is where the corpus is looked for, relative to this package.
const zeekCorpus = "../../../shared/zeek-conformance"

// zeekDifferencesDoc lists every known difference with its reason.
const zeekDifferencesDoc = "../../docs/zeek-differences.md"

// Agreement bars over all TCP rows.
const (
	minConnStateAgreement = 0.98
	minHistoryAgreement   = 0.90
)

// zeekCase is one row of the corpus's INDEX.tsv.
type zeekCase struct {
	name, trace, invocation, mode, checksums string
}

// zeekTable is a table read from a Zeek log or a TSV with a header line.
type zeekTable struct {
	fields []string
	rows   []map[string]string
}

// zeekCompared are the columns compared; conn_state_DERIVED (rst-inject-rae,
// derived from the endpoint states the test printed) stands for conn_state.
var zeekCompared = []string{"conn_state", "history"}

// zeekDiff is one row on which wirestate and Zeek disagree in one column.
type zeekDiff struct {
	Case, Key, Column, Zeek, Wirestate string
}

func (d zeekDiff) String() string {
	return fmt.Sprintf("%s %s %s: zeek %q, wirestate %q", d.Case, d.Key, d.Column, d.Zeek, d.Wirestate)
}

// zeekTally counts agreement in the compared columns.
type zeekTally struct{ equal, total [2]int }

func (t *zeekTally) add(o zeekTally) {
	for i := range t.equal {
		t.equal[i] += o.equal[i]
		t.total[i] += o.total[i]
	}
}

func (t zeekTally) String() string {
	var parts []string
	for i, col := range zeekCompared {
		if t.total[i] == 0 {
			parts = append(parts, fmt.Sprintf("%s -", col))
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %d/%d (%.1f%%)", col, t.equal[i], t.total[i], 100*float64(t.equal[i])/float64(t.total[i])))
	}
	return strings.Join(parts, ", ")
}

func TestZeekConformance(t *testing.T) {
	cases := loadZeekCorpus(t)
	explained := loadZeekDifferences(t)
	var total zeekTally
	var all []zeekDiff
	report := func(format string, args ...any) {
		t.Logf(format, args...)
		if testing.Verbose() {
			fmt.Printf(format+"\n", args...)
		}
	}
	for _, zc := range cases {
		expected, err := readZeekTable(filepath.Join(zeekCorpus, "cases", zc.name, "expected.tsv"))
		if err != nil {
			t.Fatalf("%s: %v", zc.name, err)
		}
		log, err := runZeekCase(zc)
		if err != nil {
			t.Errorf("%s: %v", zc.name, err)
			continue
		}
		got, err := parseZeekTable(log)
		if err != nil {
			t.Errorf("%s: reading wirestate's conn.log: %v", zc.name, err)
			continue
		}
		tally, diffs := compareZeekTables(zc.name, expected, got)
		total.add(tally)
		all = append(all, diffs...)
		report("%-28s %s", zc.name, tally)
	}
	report("%-28s %s", "TOTAL", total)
	for i, bar := range []float64{minConnStateAgreement, minHistoryAgreement} {
		if total.total[i] == 0 {
			t.Errorf("no TCP row compared %s", zeekCompared[i])
			continue
		}
		if got := float64(total.equal[i]) / float64(total.total[i]); got < bar {
			t.Errorf("%s agrees on %.1f%% of the TCP rows, want at least %.0f%%", zeekCompared[i], 100*got, 100*bar)
		}
	}
	seen := map[zeekDiff]bool{}
	for _, d := range all {
		seen[d] = true
		if explained[d] {
			report("explained: %s", d)
			continue
		}
		t.Errorf("difference not explained in docs/zeek-differences.md: %s\n  add: | %s | %s | %s | %s | %s | (reason) |",
			d, d.Case, d.Key, d.Column, d.Zeek, d.Wirestate)
	}
	for d := range explained {
		if !seen[d] {
			t.Logf("docs/zeek-differences.md lists a difference that no longer occurs: %s", d)
		}
	}
}

// TestZeekConformanceCompareScript cross-checks the Go comparison with the
// corpus's compare.py on the conn_state and history columns: both must find
// the same number of rows that differ. It needs python3.
func TestZeekConformanceCompareScript(t *testing.T) {
	cases := loadZeekCorpus(t)
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found: skipping the cross-check with compare.py")
	}
	problems := regexp.MustCompile(`problems (\d+)`)
	for _, zc := range cases {
		t.Run(zc.name, func(t *testing.T) {
			expected, err := readZeekTable(filepath.Join(zeekCorpus, "cases", zc.name, "expected.tsv"))
			if err != nil {
				t.Fatal(err)
			}
			if contains(expected.fields, "conn_state_DERIVED") {
				t.Skip("compare.py does not map conn_state_DERIVED")
			}
			log, err := runZeekCase(zc)
			if err != nil {
				t.Fatal(err)
			}
			got, err := parseZeekTable(log)
			if err != nil {
				t.Fatal(err)
			}
			_, diffs := compareZeekTables(zc.name, expected, got)
			rows := map[string]bool{}
			for _, d := range diffs {
				rows[d.Key] = true
			}
			cand := filepath.Join(t.TempDir(), "conn.log")
			if err := os.WriteFile(cand, log, 0o644); err != nil {
				t.Fatal(err)
			}
			out, _ := exec.Command(py, filepath.Join(zeekCorpus, "compare.py"), filepath.Join(zeekCorpus, "cases", zc.name),
				cand, "--cols", "conn_state,history", "--tcp-only").CombinedOutput()
			m := problems.FindSubmatch(out)
			if m == nil {
				t.Fatalf("compare.py printed no summary:\n%s", out)
			}
			if string(m[1]) != fmt.Sprint(len(rows)) {
				t.Errorf("compare.py finds %s rows with problems, the Go comparison %d:\n%s", m[1], len(rows), out)
			}
		})
	}
}

// loadZeekCorpus reads INDEX.tsv, or skips the test when the corpus is not
// there.
func loadZeekCorpus(t *testing.T) []zeekCase {
	t.Helper()
	idx := filepath.Join(zeekCorpus, "INDEX.tsv")
	if _, err := os.Stat(idx); err != nil {
		t.Skipf("Zeek conformance corpus not found (%v): skipping; put it at %s to run this test", err, zeekCorpus)
	}
	tab, err := readZeekTable(idx)
	if err != nil {
		t.Fatal(err)
	}
	var cases []zeekCase
	for _, r := range tab.rows {
		cases = append(cases, zeekCase{name: r["name"], trace: r["trace_file"], invocation: r["zeek_invocation"],
			mode: r["zeek_mode"], checksums: r["checksums"]})
	}
	if len(cases) == 0 {
		t.Fatal("INDEX.tsv lists no case")
	}
	return cases
}

// zeekArgs returns the wirestate arguments that read zc's trace as its Zeek
// invocation did: bare mode with the protocol scripts it loads, and -C when
// Zeek ignored checksums (for ignore_checksums_nets too: every bad
// checksum of that trace comes from the ignored network).
func zeekArgs(zc zeekCase) []string {
	args := []string{"-r", filepath.Join(zeekCorpus, zc.trace), "--format", "zeek", "--timeline", "none"}
	if strings.HasPrefix(zc.mode, "bare") {
		args = append(args, "--zeek-bare")
		if loads := zeekLoads(zc.invocation); len(loads) > 0 {
			args = append(args, "--zeek-load", strings.Join(loads, ","))
		}
	}
	if strings.HasPrefix(zc.checksums, "ignored") {
		args = append(args, "-C")
	}
	return args
}

var loadsRE = regexp.MustCompile(`loads ([^);]*)`)

// zeekLoads returns the protocol scripts with TCP ports that a bare
// invocation loads, as the INDEX describes them ("(loads
// base/protocols/krb, base/protocols/conn)" gives krb).
func zeekLoads(invocation string) []string {
	known := map[string]bool{}
	for _, n := range tracker.ZeekAnalyzers() {
		known[n] = true
	}
	var out []string
	for _, m := range loadsRE.FindAllStringSubmatch(invocation, -1) {
		for _, tok := range strings.FieldsFunc(m[1], func(r rune) bool { return r == ',' || r == ' ' }) {
			for _, part := range strings.Split(tok, "/") {
				if known[part] && !contains(out, part) {
					out = append(out, part)
				}
			}
		}
	}
	return out
}

// runZeekCase runs the wirestate command on zc's trace and returns the
// conn.log it writes.
func runZeekCase(zc zeekCase) ([]byte, error) {
	return runArgs(zeekArgs(zc))
}

// runArgs runs the wirestate command with args, in process, and returns
// what it writes to standard output.
func runArgs(args []string) ([]byte, error) {
	fl, err := parseFlags(args)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	cfg, closeOutputs, err := pipelineConfig(context.Background(), fl, &out, io.Discard)
	defer closeOutputs()
	if err != nil {
		return nil, err
	}
	if err := pipeline.Run(context.Background(), cfg); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// readZeekTable reads a Zeek log or a TSV with a header line.
func readZeekTable(path string) (*zeekTable, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseZeekTable(b)
}

// parseZeekTable parses the contents of a Zeek ASCII log (#fields header)
// or of a TSV whose first line names the columns, as compare.py's load.
func parseZeekTable(b []byte) (*zeekTable, error) {
	lines := strings.Split(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n")
	zeek := false
	for _, l := range lines {
		if strings.HasPrefix(l, "#fields\t") {
			zeek = true
			break
		}
	}
	tab := &zeekTable{}
	for _, l := range lines {
		if strings.HasPrefix(l, "### BTest") {
			continue
		}
		switch {
		case zeek && strings.HasPrefix(l, "#fields\t"):
			tab.fields = strings.Split(l, "\t")[1:]
		case zeek && (strings.HasPrefix(l, "#") || strings.TrimSpace(l) == ""):
		case !zeek && strings.TrimSpace(l) == "":
		case !zeek && tab.fields == nil:
			tab.fields = strings.Split(l, "\t")
		default:
			if tab.fields == nil {
				return nil, fmt.Errorf("row before the header: %q", l)
			}
			vals := strings.Split(l, "\t")
			row := map[string]string{}
			for i, f := range tab.fields {
				if i < len(vals) {
					row[f] = vals[i]
				}
			}
			tab.rows = append(tab.rows, row)
		}
	}
	if tab.fields == nil {
		return nil, fmt.Errorf("no header line")
	}
	return tab, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// compareZeekTables compares the TCP rows of expected (a case's
// expected.tsv) and got (wirestate's conn.log) in conn_state and history.
// Rows are matched by the 5-tuple columns both have and their occurrence
// order; a row only one side has counts as a disagreement in every
// compared column the expected table has.
func compareZeekTables(name string, expected, got *zeekTable) (zeekTally, []zeekDiff) {
	tcp := func(rows []map[string]string) []map[string]string {
		var out []map[string]string
		for _, r := range rows {
			if p, ok := r["proto"]; !ok || p == "tcp" {
				out = append(out, r)
			}
		}
		return out
	}
	var keyCols []string
	for _, k := range []string{"id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto"} {
		if contains(expected.fields, k) && contains(got.fields, k) {
			keyCols = append(keyCols, k)
		}
	}
	index := func(rows []map[string]string) (map[string]map[string]string, []string) {
		m := map[string]map[string]string{}
		var order []string
		seen := map[string]int{}
		for _, r := range rows {
			var parts []string
			for _, k := range keyCols {
				parts = append(parts, r[k])
			}
			base := strings.Join(parts, " ")
			seen[base]++
			key := strings.TrimSpace(fmt.Sprintf("%s #%d", base, seen[base]))
			m[key] = r
			order = append(order, key)
		}
		return m, order
	}
	em, eorder := index(tcp(expected.rows))
	gm, gorder := index(tcp(got.rows))
	keys := append([]string(nil), eorder...)
	for _, k := range gorder {
		if em[k] == nil {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var tally zeekTally
	var diffs []zeekDiff
	for i, col := range zeekCompared {
		ecol := col
		if col == "conn_state" && !contains(expected.fields, col) && contains(expected.fields, "conn_state_DERIVED") {
			ecol = "conn_state_DERIVED"
		}
		if !contains(expected.fields, ecol) {
			continue
		}
		for _, k := range keys {
			e, g := em[k], gm[k]
			ev, gv := "(no row)", "(no row)"
			if e != nil {
				ev = e[ecol]
			}
			if g != nil {
				gv = g[col]
			}
			tally.total[i]++
			if e != nil && g != nil && ev == gv {
				tally.equal[i]++
				continue
			}
			diffs = append(diffs, zeekDiff{Case: name, Key: k, Column: col, Zeek: ev, Wirestate: gv})
		}
	}
	return tally, diffs
}

// loadZeekDifferences reads the table rows of docs/zeek-differences.md:
// | case | row | column | zeek | wirestate | reason |.
func loadZeekDifferences(t *testing.T) map[zeekDiff]bool {
	t.Helper()
	b, err := os.ReadFile(zeekDifferencesDoc)
	if err != nil {
		t.Fatalf("reading the list of explained differences: %v", err)
	}
	out := map[zeekDiff]bool{}
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(l, "| ") {
			continue
		}
		cells := strings.Split(strings.Trim(strings.TrimSpace(l), "|"), "|")
		if len(cells) < 6 {
			continue
		}
		for i := range cells {
			cells[i] = strings.Trim(strings.TrimSpace(cells[i]), "`")
		}
		if cells[0] == "case" || strings.HasPrefix(cells[0], "-") {
			continue
		}
		out[zeekDiff{Case: cells[0], Key: cells[1], Column: cells[2], Zeek: cells[3], Wirestate: cells[4]}] = true
	}
	return out
}

// TestZeekLoads checks that the protocol scripts with TCP ports a bare
// invocation loads are read from the INDEX's description.
func TestZeekLoads(t *testing.T) {
	for _, tc := range []struct {
		invocation string
		want       []string
	}{
		{"zeek -b -r $TRACES/krb/optional-service-name.pcap %INPUT   (loads base/protocols/krb, base/protocols/conn)", []string{"krb"}},
		{"zeek -b -r $TRACES/tunnels/Teredo.pcap %INPUT >output   (loads tunnels, notice/weird, conn, http, dns, dhcp)", []string{"http", "dns"}},
		{"zeek -b -C -r $TRACES/wikipedia.pcap %INPUT && mv conn.log conn1.log   (bare; loads protocols/conn/mac-logging)", nil},
		{"zeek -b -C -r $TRACES/tcp/single-rst.pcap %INPUT >out", nil},
		{"zeek -b -r $TRACES/modbus/modbus-eit.pcap %INPUT | ... ; mv conn.log conn-second.log   (loads base/protocols/modbus, base/protocols/conn, notice/weird; redef DPD::ignore_violations_after = 1)", []string{"modbus"}},
	} {
		got := zeekLoads(tc.invocation)
		if strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("zeekLoads(%q) = %v, want %v", tc.invocation, got, tc.want)
		}
	}
}

// TestCompareZeekTables checks the row matching and the tally on a small
// table: a repeated 5-tuple matched in order, a missing row and an extra
// one.
func TestCompareZeekTables(t *testing.T) {
	exp, _ := parseZeekTable([]byte("id.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tconn_state\thistory\n" +
		"1.1.1.1\t1\t2.2.2.2\t80\ttcp\tS0\tS\n" +
		"1.1.1.1\t1\t2.2.2.2\t80\ttcp\tSF\tShADadFf\n" +
		"3.3.3.3\t1\t2.2.2.2\t80\ttcp\tREJ\tSr\n" +
		"3.3.3.3\t1\t2.2.2.2\t53\tudp\tSF\tDd\n"))
	got, _ := parseZeekTable([]byte("#fields\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tconn_state\thistory\n" +
		"#types\taddr\tport\taddr\tport\tenum\tstring\tstring\n" +
		"1.1.1.1\t1\t2.2.2.2\t80\ttcp\tS0\tS\n" +
		"1.1.1.1\t1\t2.2.2.2\t80\ttcp\tSF\tShADadfF\n" +
		"4.4.4.4\t1\t2.2.2.2\t80\ttcp\tOTH\tD\n"))
	tally, diffs := compareZeekTables("t", exp, got)
	if tally.equal != [2]int{2, 1} || tally.total != [2]int{4, 4} {
		t.Errorf("tally = %+v, want equal [2 1] of [4 4]", tally)
	}
	want := []string{
		`t 3.3.3.3 1 2.2.2.2 80 tcp #1 conn_state: zeek "REJ", wirestate "(no row)"`,
		`t 4.4.4.4 1 2.2.2.2 80 tcp #1 conn_state: zeek "(no row)", wirestate "OTH"`,
		`t 1.1.1.1 1 2.2.2.2 80 tcp #2 history: zeek "ShADadFf", wirestate "ShADadfF"`,
		`t 3.3.3.3 1 2.2.2.2 80 tcp #1 history: zeek "Sr", wirestate "(no row)"`,
		`t 4.4.4.4 1 2.2.2.2 80 tcp #1 history: zeek "(no row)", wirestate "D"`,
	}
	var gotS []string
	for _, d := range diffs {
		gotS = append(gotS, d.String())
	}
	if strings.Join(gotS, "\n") != strings.Join(want, "\n") {
		t.Errorf("diffs:\n%s\nwant:\n%s", strings.Join(gotS, "\n"), strings.Join(want, "\n"))
	}
}
