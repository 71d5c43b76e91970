package tracker

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"
	"unicode"
)

// TestKindsTable checks every kind's row: a unique flag-safe name that
// parses back, a doc line and a README section.
func TestKindsTable(t *testing.T) {
	seen := map[string]AnomalyKind{}
	n := 0
	for k := range AllKinds() {
		n++
		name := k.String()
		if name == "" || name == "unknown" || strings.Trim(name, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" {
			t.Errorf("kind %d: name %q is not a lower-case flag name", k, name)
		}
		if prev, dup := seen[name]; dup {
			t.Errorf("kinds %d and %d are both named %q", prev, k, name)
		}
		seen[name] = k
		if got, ok := ParseAnomalyKind(name); !ok || got != k {
			t.Errorf("ParseAnomalyKind(%q) = %d, %v; want %d", name, got, ok, k)
		}
		if doc := k.Doc(); doc == "" || strings.Contains(doc, "\n") {
			t.Errorf("%s: doc %q is not one line", name, doc)
		}
		if k.Section() == "" {
			t.Errorf("%s: no README section", name)
		}
		if k.DefaultSeverity() > SevCritical {
			t.Errorf("%s: default severity %d", name, k.DefaultSeverity())
		}
	}
	if n != int(NumAnomalyKinds) {
		t.Errorf("AllKinds yields %d kinds, want %d", n, NumAnomalyKinds)
	}
	if NumAnomalyKinds > watchShift {
		t.Errorf("%d kinds overlap the watch bits at %d", NumAnomalyKinds, watchShift)
	}
	if NumAnomalyKinds.String() != "unknown" || NumAnomalyKinds.Doc() != "" || NumAnomalyKinds.AbsenceBased() {
		t.Errorf("a value past the kinds has a row")
	}
}

// TestKindsREADMESections checks that each kind's section anchor is a
// heading of README.md that names the kind.
func TestKindsREADMESections(t *testing.T) {
	headings, err := readmeHeadings("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for k := range AllKinds() {
		h, ok := headings[k.Section()]
		if !ok {
			t.Errorf("%s: README.md has no heading with anchor #%s", k, k.Section())
			continue
		}
		if !strings.Contains(h, "`"+k.String()+"`") {
			t.Errorf("%s: README heading %q does not name it", k, h)
		}
	}
}

// readmeHeadings returns the headings of a Markdown file by their anchors,
// as GitHub makes them.
func readmeHeadings(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	count := map[string]int{}
	fence := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "```") {
			fence = !fence
			continue
		}
		text, ok := strings.CutPrefix(strings.TrimLeft(line, "#"), " ")
		if fence || !strings.HasPrefix(line, "#") || !ok {
			continue
		}
		a := anchor(text)
		if n := count[a]; n > 0 {
			a = fmt.Sprintf("%s-%d", a, n)
		}
		count[anchor(text)]++
		out[a] = text
	}
	return out, sc.Err()
}

// anchor returns GitHub's anchor of a heading: lower case, spaces made
// hyphens, punctuation other than hyphens and underscores dropped.
func anchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}
