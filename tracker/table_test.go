package tracker

import (
	"hash/maphash"
	"testing"
)

// TestFlowHasher checks the properties the flow table and the shard choice
// rely on: both directions hash alike, typical traffic (one client, one
// server, sequential ephemeral ports; or many IPv6 clients) spreads evenly
// over shards and buckets, and another seed gives other hashes.
func TestFlowHasher(t *testing.T) {
	h := newFlowHasher(maphash.MakeSeed())
	srv4 := Endpoint{Addr: AddrFrom4([4]byte{10, 0, 0, 2}), Port: 443}
	srv6 := Endpoint{Addr: AddrFromSlice([]byte{0xfd, 0x88, 15: 2}), Port: 80}
	var pairs [][2]Endpoint
	for p := 1024; p < 1024+60000; p++ {
		pairs = append(pairs, [2]Endpoint{{Addr: AddrFrom4([4]byte{10, 0, 0, 1}), Port: uint16(p)}, srv4})
	}
	for i := range 60000 {
		a := AddrFromSlice([]byte{0xfd, 0x88, 14: byte(i >> 8), 15: byte(i)})
		pairs = append(pairs, [2]Endpoint{{Addr: a, Port: 40000}, srv6})
	}
	for _, tc := range []struct {
		name  string
		pairs [][2]Endpoint
	}{{"ipv4 ports", pairs[:60000]}, {"ipv6 clients", pairs[60000:]}} {
		const shards, buckets = 4, 1 << 16
		var perShard [shards]int
		perBucket := make([]int, buckets)
		tags := map[uint64]bool{}
		for _, p := range tc.pairs {
			x := h.pair(&p[0], &p[1])
			if y := h.pair(&p[1], &p[0]); x != y {
				t.Fatalf("%s: %v ↔ %v hashes %x one way, %x the other", tc.name, p[0], p[1], x, y)
			}
			perShard[((x>>32)*shards)>>32]++
			perBucket[x&(buckets-1)]++
			tags[x&0xffffffff] = true
		}
		n := len(tc.pairs)
		for i, c := range perShard {
			if c < n/shards*9/10 || c > n/shards*11/10 {
				t.Errorf("%s: shard %d has %d of %d flows, want about %d", tc.name, i, c, n, n/shards)
			}
		}
		most := 0
		for _, c := range perBucket {
			most = max(most, c)
		}
		if most > 12 { // about one flow a bucket: a dozen in one means clustering
			t.Errorf("%s: %d flows in one of %d buckets", tc.name, most, buckets)
		}
		if len(tags) < n-5 {
			t.Errorf("%s: %d flows share %d distinct 32-bit tags", tc.name, n, len(tags))
		}
	}
	other := newFlowHasher(maphash.MakeSeed())
	if p := pairs[0]; h.pair(&p[0], &p[1]) == other.pair(&p[0], &p[1]) {
		t.Error("two seeds give the same hash")
	}
}

func BenchmarkFlowHasher(b *testing.B) {
	h := newFlowHasher(maphash.MakeSeed())
	a := Endpoint{Addr: AddrFrom4([4]byte{10, 0, 0, 1}), Port: 40000}
	c := Endpoint{Addr: AddrFrom4([4]byte{10, 0, 0, 2}), Port: 443}
	var sink uint64
	for b.Loop() {
		a.Port++
		sink += h.pair(&a, &c)
	}
	_ = sink
}
