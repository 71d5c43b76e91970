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
	client := func(i int) tracker.Addr { return tracker.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}) }
	type host struct {
		name string
		n    int
	}
	var want []host
	port, frame, total := uint16(1024), uint64(0), 0
	for i := 0; i < 200; i++ {
		for k := 0; k <= i%7; k++ {
			c := tt.Handshake()
			c.EndA = tracker.Endpoint{Addr: client(i), Port: port}
			port++
			c.Segs = nil
			c.Add("A", "S", 1000, 0, 0, 1e6).Add("B", "S.", 5000, 1001, 0, 1e6).Add("A", ".", 1001, 5001, 0, 1e6)
			for j := range c.Segs {
				frame++
				c.Segs[j].Frame = frame
				tr.Feed(&c.Segs[j])
			}
			total++
		}
		want = append(want, host{client(i).String(), 1 + i%7})
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
