package detect

import (
	"strings"
	"testing"
	"time"

	"github.com/wirestate/wirestate/tracker"
	tt "github.com/wirestate/wirestate/tracker/trackertest"
)

// TestTimeWaitPeak checks the TIME_WAIT sweep: connections the client
// closes first at the given seconds each leave it in TIME_WAIT for 2MSL
// (60 s); an end at the same moment as a start is counted first.
func TestTimeWaitPeak(t *testing.T) {
	for _, tc := range []struct {
		name   string
		closes []int64 // seconds
		peak   string
	}{
		{"one", []int64{0}, "at most 1 TIME_WAIT"},
		{"overlapping", []int64{0, 10, 20, 70}, "at most 3 TIME_WAIT"},
		{"end meets start", []int64{0, 60, 120}, "at most 1 TIME_WAIT"},
		{"unsorted", []int64{50, 5, 30, 31, 100, 32}, "at most 5 TIME_WAIT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var segs []tracker.Segment
			for i, sec := range tc.closes {
				c := tt.New()
				c.EndA.Port = uint16(40000 + i)
				c.Now = 1e18 + sec*1e9 - 4e6 // the client's FIN lands on the second
				c.Add("A", "S", 1000, 0, 0, 1e6).Add("B", "S.", 5000, 1001, 0, 1e6).Add("A", ".", 1001, 5001, 0, 1e6).
					Add("A", "F.", 1001, 5001, 0, 1e6).Add("B", ".", 5001, 1002, 0, 1).Add("B", "F.", 5001, 1002, 0, 1).Add("A", ".", 1002, 5002, 0, 1)
				segs = append(segs, c.Segs...)
			}
			sortSegs(segs)
			cfg := Config{MSL: 30 * time.Second}
			col := tt.Run(segs, tracker.Config{MSL: int64(30 * time.Second)})
			var got *tracker.Finding
			for _, f := range Aggregate(col.Recs, nil, nil, cfg) {
				if f.Kind == tracker.AnomTimeWaitLoad && f.Scope == tt.A.Addr.String() {
					got = &f
				}
			}
			if got == nil || got.Count != len(tc.closes) || !strings.Contains(got.Summary, tc.peak+" sockets") {
				t.Fatalf("want %d connections and %q, got %+v", len(tc.closes), tc.peak, got)
			}
		})
	}
}

// sortSegs orders segments by time, as a capture holds them, renumbering
// their frames.
func sortSegs(segs []tracker.Segment) {
	for i := 1; i < len(segs); i++ {
		for j := i; j > 0 && segs[j].Time < segs[j-1].Time; j-- {
			segs[j], segs[j-1] = segs[j-1], segs[j]
		}
	}
	for i := range segs {
		segs[i].Frame = uint64(i + 1)
	}
}
