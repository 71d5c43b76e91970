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
	return heldBytes(segs, n)
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

// dataConnsBytes feeds n connections that complete their handshake and
// exchange a request and its ACK (each measured: a metrics block, RTT
// samples, segments in flight) and returns the heap bytes per held
// connection.
func dataConnsBytes(n int) float64 {
	segs := make([]Segment, 0, 4*n)
	for i := 0; i < n; i++ {
		a := Endpoint{Addr: AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), Port: uint16(30000 + i%30000)}
		b := Endpoint{Addr: AddrFrom4([4]byte{10, 255, 0, 1}), Port: 443}
		t := int64(1e18) + int64(i)*1000
		isn := seqnum.Value(i * 7919)
		segs = append(segs,
			Segment{Time: t, Frame: uint64(4*i + 1), Flags: FlagSYN, Seq: isn, Src: a, Dst: b, Window: 1000},
			Segment{Time: t + 100, Frame: uint64(4*i + 2), Flags: FlagSYN | FlagACK, Seq: 5000, Ack: isn + 1, Src: b, Dst: a, Window: 1000},
			Segment{Time: t + 200, Frame: uint64(4*i + 3), Flags: FlagACK | FlagPSH, Seq: isn + 1, Ack: 5001, PayloadLen: 100, Src: a, Dst: b, Window: 1000},
			Segment{Time: t + 300, Frame: uint64(4*i + 4), Flags: FlagACK, Seq: 5001, Ack: isn + 101, Src: b, Dst: a, Window: 1000})
	}
	return heldBytes(segs, n)
}

// TestMemoryPerDataConnection reports what a measured connection holds
// (docs/metrics.md): the connection, its 120-byte metrics block and the
// shard's RTT table (512 KiB, shared) amortised; it must stay under 512.
func TestMemoryPerDataConnection(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode: allocates 200k connections")
	}
	for _, n := range []int{70000, 200000} {
		if b := dataConnsBytes(n); b > 512 {
			t.Errorf("%d measured connections: %.0f bytes each, want under 512", n, b)
		} else {
			t.Logf("%d measured connections: %.0f bytes each", n, b)
		}
	}
}

// heldBytes feeds segs to an inline tracker and returns the heap bytes it
// holds afterwards per connection, for n connections.
func heldBytes(segs []Segment, n int) float64 {
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
