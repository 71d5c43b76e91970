package report

import (
	"testing"

	"github.com/wirestate/wirestate/tracker"
	"github.com/wirestate/wirestate/tracker/trackertest"
)

// TestAppendCommunityID checks the IPv4 and IPv6 forms (the spec's
// baseline rows, computed apart with Python's hashlib for the lab's
// addresses) and that appending allocates nothing.
func TestAppendCommunityID(t *testing.T) {
	v6 := func(last byte, port uint16) tracker.Endpoint {
		return tracker.Endpoint{Addr: tracker.AddrFromSlice([]byte{0xfd, 0x77, 15: last}), Port: port}
	}
	for _, c := range []struct {
		a, b tracker.Endpoint
		seed uint16
		want string
	}{
		{trackertest.A, trackertest.B, 0, "1:3k1SoWXs/FltHw2aBCgUTgbDQF4="},
		{trackertest.B, trackertest.A, 0, "1:3k1SoWXs/FltHw2aBCgUTgbDQF4="},
		{trackertest.A, trackertest.B, 7, "1:xbv65+8FdVJhpohL8vHRh5/+NJ8="},
		{v6(1, 40000), v6(2, 8080), 0, "1:6zyR7YQzdoDH/4TTl/H/LyeawY0="},
	} {
		if got := string(AppendCommunityID(nil, &c.a, &c.b, c.seed)); got != c.want {
			t.Errorf("%s %s seed %d: got %s, want %s", c.a, c.b, c.seed, got, c.want)
		}
	}
	buf := make([]byte, 0, 64)
	a, b := trackertest.A, trackertest.B
	if n := testing.AllocsPerRun(100, func() { buf = AppendCommunityID(buf[:0], &a, &b, 0) }); n != 0 {
		t.Errorf("AppendCommunityID allocates %.0f times", n)
	}
}

// BenchmarkConnJSON measures a conn record's JSON, and the Community ID
// alone, to give its share of the record's cost.
func BenchmarkConnJSON(b *testing.B) {
	col := trackertest.Run(trackertest.Handshake().Add("A", "F.", 1001, 5001, 0, 1e6).Segs, tracker.Config{})
	r := &col.Recs[0]
	opt := &Options{Sensor: "edge-1"}
	buf := make([]byte, 0, 4096)
	b.Run("record", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf = AppendConnJSON(buf[:0], r, opt)
		}
	})
	b.Run("community_id", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf = AppendCommunityID(buf[:0], &r.Conn.Orig, &r.Conn.Resp, 0)
		}
	})
}
