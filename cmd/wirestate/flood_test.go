package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wirestate/wirestate/internal/flood"
)

// TestFloodsStayBounded runs the command on generated floods with a small
// --max-conns: the tracker must hold no more than the bound, count every
// eviction, and name the flood. (Speed and peak memory of the full-size
// floods are measured by bench/flood.sh, not here.) Past --fold-after
// members per victim, flood members are counted instead of listed; with
// --fold-after 0 every one is listed.
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
			for _, foldAfter := range []int{1000, 0} {
				code, out, errOut := runTimed(t, 2*time.Minute, "-r", path, "--format", "json", "--timeline", "none",
					"--max-conns", "5000", "--fold-after", strconv.Itoa(foldAfter))
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
					t.Errorf("--fold-after %d: no %s finding (findings %v)", foldAfter, c.want, findings)
				}
				// Records listed and folded add up to the connections, and
				// only about --fold-after members are listed (a share per
				// shard, rounded up).
				listed := strings.Count(out, `"type":"conn"`)
				folded := int(sum["folded"].(float64))
				if listed+folded != n {
					t.Errorf("--fold-after %d: %d listed + %d folded, want %d", foldAfter, listed, folded, n)
				}
				if foldAfter == 0 && folded != 0 {
					t.Errorf("--fold-after 0 folded %d records", folded)
				}
				if foldAfter > 0 && listed > foldAfter+64 {
					t.Errorf("--fold-after %d listed %d records", foldAfter, listed)
				}
				if foldAfter > 0 {
					floods := sum["folded_floods"].([]any)
					if len(floods) != 1 || floods[0].(map[string]any)["kind"] != c.want {
						t.Errorf("folded floods %v, want one %s", floods, c.want)
					}
				}
				if c.kind == flood.SYN {
					// The listener's half-open connections all count in the
					// per-host view, folded or not.
					hosts := sum["hosts"].([]any)
					victim := hosts[0].(map[string]any)
					if st := victim["states"].(map[string]any); st["SYN_RECEIVED"] != float64(n) {
						t.Errorf("--fold-after %d: listener %v shows %v, want SYN_RECEIVED %d", foldAfter, victim["host"], st, n)
					}
				}
			}
		})
	}
}
