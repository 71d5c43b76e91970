package report

import (
	"bufio"
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/wirestate/wirestate/tracker"
)

func TestWrapWidth(t *testing.T) {
	text := strings.Repeat("several short words ", 30)
	for _, width := range []int{40, 60, 100} {
		var out bytes.Buffer
		bw := bufio.NewWriter(&out)
		wrap(bw, width, "    "+ansiRed+"▸"+ansiReset+" ", "      ", text)
		bw.Flush()
		lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		for i, l := range lines {
			if n := visibleLen(l); n > width || n < width-12 && i < len(lines)-1 {
				t.Errorf("width %d: line of %d columns: %q", width, n, l)
			}
			if strings.HasSuffix(l, " ") {
				t.Errorf("width %d: trailing space: %q", width, l)
			}
		}
	}
	if n := visibleLen(ansiYellow + "WARNING" + ansiReset + " →"); n != 9 {
		t.Errorf("visibleLen = %d, want 9", n)
	}
}

// TestConnTableNotesSplit checks that a table that fits the width without
// its notes moves notes that would overflow to lines of their own, and
// keeps them inline when the width allows.
func TestConnTableNotesSplit(t *testing.T) {
	rs := hostRecords(rand.New(rand.NewPCG(5, 6)), 30)
	for i := range rs {
		rs[i].Conn.Mark(tracker.AnomPortReuse)
		rs[i].Conn.Mark(tracker.AnomAbortiveClose)
	}
	table := func(width int) []string {
		var out bytes.Buffer
		bw := bufio.NewWriter(&out)
		writeConns(bw, &Result{Records: rs}, &Options{All: true, Width: width})
		bw.Flush()
		return strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")[2:]
	}
	wide := table(400)
	if len(wide) != len(rs)+1 || !strings.HasSuffix(wide[1], "port-reuse, abortive-close") {
		t.Fatalf("wide table: %d lines, row %q", len(wide), wide[1])
	}
	fixed := len([]rune(wide[0][:strings.Index(wide[0], "NOTES")])) - 2
	narrow := table(fixed + 4)
	if len(narrow) != 2*len(rs)+1 || strings.Contains(narrow[0], "NOTES") {
		t.Fatalf("narrow table: %d lines, heading %q", len(narrow), narrow[0])
	}
	for i, l := range narrow {
		if visibleLen(l) > fixed+4 {
			t.Errorf("line %d is %d columns, over %d: %q", i, visibleLen(l), fixed+4, l)
		}
	}
	if narrow[2] != "      notes: port-reuse, abortive-close" {
		t.Errorf("notes line %q", narrow[2])
	}
}

// TestConnTablePicksEveryKind checks the bounded table: connections with
// findings only, every kind represented, and the rest counted.
func TestConnTablePicksEveryKind(t *testing.T) {
	rs := hostRecords(rand.New(rand.NewPCG(7, 8)), 1000)
	kinds := []tracker.AnomalyKind{tracker.AnomPortReuse, tracker.AnomAbortiveClose, tracker.AnomSYNUnanswered}
	for i := 0; i < 600; i++ {
		rs[i].Conn.Mark(kinds[0]) // the common kind comes first
	}
	rs[700].Conn.Mark(kinds[1])
	rs[990].Conn.Mark(kinds[2])
	var out bytes.Buffer
	bw := bufio.NewWriter(&out)
	writeConns(bw, &Result{Records: rs}, &Options{Top: 5})
	bw.Flush()
	s := out.String()
	for _, want := range []string{"Connections with findings:", rs[700].Conn.UID.String(), rs[990].Conn.UID.String(),
		"… and 597 more connections with findings", "… and 398 connections without findings (--all lists them)"} {
		if !strings.Contains(s, want) {
			t.Errorf("no %q in:\n%s", want, s)
		}
	}
	if n := strings.Count(s, "\n"); n != 2+1+5+2 {
		t.Errorf("%d lines:\n%s", n, s)
	}
}
