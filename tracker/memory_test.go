package tracker_test

import (
	"runtime"
	"testing"

	. "github.com/wirestate/wirestate/tracker"
	"github.com/wirestate/wirestate/tracker/seqnum"
	tt "github.com/wirestate/wirestate/tracker/trackertest"
)

// heldConns feeds n handshakes' first SYNs (n connections held open) to an
// inline tracker and returns the heap bytes per held connection.
func heldConnsBytes(n int) float64 {
	segs := make([]Segment, n)
	for i := range segs {
		segs[i] = Segment{
			Time: int64(1e18) + int64(i)*1000, Frame: uint64(i + 1), Flags: FlagSYN, Seq: seqnum.Value(i * 7919),
			Src: Endpoint{Addr: AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), Port: uint16(30000 + i%30000)},
			Dst: Endpoint{Addr: AddrFrom4([4]byte{10, 255, 0, 1}), Port: 443},
		}
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	tr := New(Config{Inline: true, Sink: tt.Discard{}})
	for i := range segs {
		tr.Feed(&segs[i])
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(tr)
	runtime.KeepAlive(segs)
	return float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
}

// TestMemoryPerConnection holds the tracker to its budget: at most 288
// bytes of heap per held connection, flow table included, at sizes just
// below and above a table growth (about 250 with the first frame stored
// beside the uid).
func TestMemoryPerConnection(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode: allocates 100k connections")
	}
	for _, n := range []int{60000, 70000, 200000} {
		if b := heldConnsBytes(n); b > 288 {
			t.Errorf("%d connections: %.0f bytes each, budget 288", n, b)
		} else {
			t.Logf("%d connections: %.0f bytes each", n, b)
		}
	}
}

// BenchmarkMemoryPerConnection reports the heap bytes per held connection
// for a million connections, and the time to open them.
func BenchmarkMemoryPerConnection(b *testing.B) {
	for i := 0; i < b.N; i++ {
		b.ReportMetric(heldConnsBytes(1000000), "bytes/conn")
	}
}
