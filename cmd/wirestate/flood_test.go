package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wirestate/wirestate/internal/flood"
)

// TestFloodsStayBounded runs the command on generated floods with a small
// --max-conns: the tracker must hold no more than the bound, count every
// eviction, and name the flood. (Speed and peak memory of the full-size
// floods are measured by bench/flood.sh, not here.)
func TestFloodsStayBounded(t *testing.T) {
	n := 100000
	if testing.Short() {
		n = 20000
	}
	cases := []struct {
		name string
		kind flood.Kind
		want string
	}{
		{"syn", flood.SYN, "syn-flood"},
		{"rst-ack", flood.RSTACK, "rst-ack-flood"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), c.name+".pcap")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := flood.Write(f, c.kind, n, 1); err != nil {
				t.Fatal(err)
			}
			f.Close()
			const bound = 5000
			code, out, errOut := runTimed(t, 2*time.Minute, "-r", path, "--format", "json", "--timeline", "none", "--max-conns", "5000")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			sum := summaryOf(t, out)
			if held := sum["max_held"].(float64); held > bound || held == 0 {
				t.Errorf("held %v connections at once, bound %d", held, bound)
			}
			if ev := sum["evicted"].(float64); ev < float64(n-bound) {
				t.Errorf("%v evictions counted for %d flood connections over a bound of %d", ev, n, bound)
			}
			if conns := sum["connections"].(float64); conns != float64(n) {
				t.Errorf("%v connections reported, want %d: none may be lost", conns, n)
			}
			findings, _ := sum["findings"].(map[string]any)
			if findings[c.want] == nil {
				t.Errorf("no %s finding (findings %v)", c.want, findings)
			}
		})
	}
}
