package report

import (
	"bufio"
	"bytes"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestParallelConnsMatchSequential checks that connection records formatted
// by the block formatters come out exactly as one at a time, in order.
func TestParallelConnsMatchSequential(t *testing.T) {
	for _, n := range []int{0, 10, 4*block - 1, 4 * block, 9*block + 7} {
		rs := hostRecords(rand.New(rand.NewPCG(uint64(n), 7)), n)
		var seq, par bytes.Buffer
		jw := NewJSONWriter(&seq, Options{})
		for i := range rs {
			if err := jw.Conn(&rs[i]); err != nil {
				t.Fatal(err)
			}
		}
		jw.Close()
		jw = NewJSONWriter(&par, Options{})
		if err := jw.conns(rs); err != nil {
			t.Fatal(err)
		}
		jw.Close()
		if got := bytes.Count(par.Bytes(), []byte("\n")); got != n {
			t.Errorf("%d records: %d lines", n, got)
		}
		if !bytes.Equal(seq.Bytes(), par.Bytes()) {
			t.Errorf("%d records: block formatting differs from one at a time", n)
		}
	}
}

type failingWriter struct{ n int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.n -= len(p); w.n < 0 {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

// TestParallelConnsStopOnWriteError checks that a failing output ends the
// write with its error (the formatters stop; the race detector and the
// test's end would show them stuck).
func TestParallelConnsStopOnWriteError(t *testing.T) {
	rs := hostRecords(rand.New(rand.NewPCG(1, 2)), 20*block)
	jw := NewJSONWriter(&failingWriter{n: 1 << 20}, Options{})
	if err := jw.conns(rs); err == nil || err.Error() != "disk full" {
		t.Fatalf("error %v, want disk full", err)
	}
}

// TestTextConnsInOrder checks the text table of many connections: one row
// per record, in the records' order, all columns aligned.
func TestTextConnsInOrder(t *testing.T) {
	rs := hostRecords(rand.New(rand.NewPCG(3, 4)), 9*block+5)
	var out bytes.Buffer
	bw := bufio.NewWriter(&out)
	writeConns(bw, &Result{Records: rs}, &Options{All: true})
	bw.Flush()
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != len(rs)+3 { // a blank line, "Connections:" and the header
		t.Fatalf("%d lines for %d records", len(lines), len(rs))
	}
	col := strings.Index(lines[2], "ORIG ")
	for i, l := range lines[3:] {
		if uid := rs[i].Conn.UID.String(); !strings.HasPrefix(l, "  "+uid+" ") {
			t.Fatalf("row %d is %q, want uid %s", i, l, uid)
		}
		if l[col-1] != ' ' || l[col] == ' ' {
			t.Fatalf("row %d: ORIG column not at %d: %q", i, col, l)
		}
	}
}
