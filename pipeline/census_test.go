package pipeline

import (
	"fmt"
	"sort"
	"testing"

	"github.com/wirestate/wirestate/tracker"
	tt "github.com/wirestate/wirestate/tracker/trackertest"
)

// TestCensus walks a tracker holding 794 established connections from 200
// clients (client i opens 1 + i%7) and checks the counts by side and the
// busiest hosts against a full sort of the expected counts: most
// endpoints first, equal counts by address as text.
func TestCensus(t *testing.T) {
	tr := tracker.New(tracker.Config{Inline: true})
	type host struct {
		name string
		n    int
	}
	total := clientHandshakes(tr, 200)
	var want []host
	for i := 0; i < 200; i++ {
		want = append(want, host{clientAddr(i).String(), 1 + i%7})
	}
	want = append(want, host{tt.B.Addr.String(), total})
	sort.Slice(want, func(i, j int) bool {
		if want[i].n != want[j].n {
			return want[i].n > want[j].n
		}
		return want[i].name < want[j].name
	})
	for _, top := range []int{0, 1, 5, 300} {
		c := takeCensus(tr, top)
		if c.conns != total || c.bySide[tracker.Orig][tracker.Established] != total || c.bySide[tracker.Resp][tracker.Established] != total {
			t.Fatalf("census: %d connections, %d and %d established, want %d", c.conns,
				c.bySide[tracker.Orig][tracker.Established], c.bySide[tracker.Resp][tracker.Established], total)
		}
		var got, exp []string
		for _, h := range c.hosts {
			got = append(got, fmt.Sprintf("%s:%d/%d", h.host, h.total, h.states[tracker.Established]))
		}
		for _, h := range want[:min(top, len(want))] {
			exp = append(exp, fmt.Sprintf("%s:%d/%d", h.name, h.n, h.n))
		}
		if fmt.Sprint(got) != fmt.Sprint(exp) {
			t.Errorf("top %d: hosts\n%v\nwant\n%v", top, got, exp)
		}
	}
	tr.Close()
}
