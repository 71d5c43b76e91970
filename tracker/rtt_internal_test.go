package tracker

import (
	"testing"

	"github.com/wirestate/wirestate/tracker/seqnum"
)

func TestRTTTable(t *testing.T) {
	tb := newRTTTable(1) // one set of rttWays ways
	k := func(end uint32) uint64 { return rttKey(3, Orig, seqnum.Value(end)) }
	tb.put(k(100), 10, 100, 7, false)
	if _, ok := tb.take(k(100), 8); ok {
		t.Fatal("an entry of another uid tag was taken")
	}
	if tb.has(k(100)) {
		t.Fatal("a stale entry was kept after a lookup")
	}
	// Four segments back to back, acknowledged at once: the exact match
	// is taken and the walk clears the three it covered.
	for i := uint32(1); i <= rttWays; i++ {
		tb.put(k(100*i), uint64(i), 100, 7, false)
	}
	v, ok := tb.take(k(400), 7)
	if !ok || v&usMask != 4 {
		t.Fatalf("take: %x %v", v, ok)
	}
	tb.clearCovered(3, Orig, 400, uint32(v>>rttLenShift)&rttLenMax, 0, 7)
	for i := uint32(1); i <= 3; i++ {
		if tb.has(k(100 * i)) {
			t.Errorf("segment ending at %d still held after the walk", 100*i)
		}
	}
	// One segment more than the set holds: the oldest goes, counted.
	for i := uint32(1); i <= rttWays+1; i++ {
		tb.put(k(1000*i), uint64(i), 100, 7, false)
	}
	if last := k(1000 * (rttWays + 1)); tb.evicted != 1 || tb.has(k(1000)) || !tb.has(last) {
		t.Errorf("evicted %d, first held %v, last held %v: want the oldest evicted", tb.evicted, tb.has(k(1000)), tb.has(last))
	}
}

func TestSummaryAndSince(t *testing.T) {
	var s Summary
	if _, ok := s.AvgNS(); ok {
		t.Fatal("average without samples")
	}
	for _, v := range []uint32{30, 10, 20} {
		s.add(v)
	}
	lo, _ := s.MinNS()
	hi, _ := s.MaxNS()
	avg, _ := s.AvgNS()
	if lo != 10e3 || hi != 30e3 || avg != 20e3 || s.N != 3 {
		t.Errorf("summary %+v: min %d max %d avg %d", s, lo, hi, avg)
	}
	if d := since(usMask-5, 5); d != 11 {
		t.Errorf("since across the 40-bit wrap: %d, want 11", d)
	}
	if d := since(0, 1<<35); d != 1<<32-1 {
		t.Errorf("since saturates: %d", d)
	}
}

func TestLossHole(t *testing.T) {
	var c Loss
	var l lossState
	l.gap(100, 300) // [100, 300) never seen
	if !l.fill(100, 200) || l.holeLo != 200 {
		t.Fatalf("fill from the bottom: hole [%d, %d)", l.holeLo, l.holeHi)
	}
	if !l.acked(&c, 0, 250, 400, false) || c.MissedBytes != 50 || c.AcksForUnseen != 1 {
		t.Fatalf("acked into the hole: %+v", c)
	}
	if !l.acked(&c, 250, 400, 400, true) || c.MissedBytes != 100 || l.haveHole {
		t.Fatalf("acked past the hole: %+v %+v", c, l)
	}
	if l.acked(&c, 400, 400, 400, true) {
		t.Fatal("an ACK of data seen counted as capture loss")
	}
	l.spurious(&c, 500)
	l.dsack(&c, 450) // the same duplicate, reported by D-SACK
	l.dsack(&c, 600) // another one
	if c.Spurious != 2 {
		t.Errorf("spurious %d, want 2", c.Spurious)
	}
}

// TestRTTSetsFor: a shard bound to a few connections gets a small table,
// one bound to many the full one.
func TestRTTSetsFor(t *testing.T) {
	for _, tc := range []struct{ maxLive, want int }{
		{2, 16}, {3, 16}, {100, 256}, {4096, 8192}, {1 << 19, rttSets}, {1 << 30, rttSets},
	} {
		if got := rttSetsFor(tc.maxLive); got != tc.want {
			t.Errorf("rttSetsFor(%d) = %d, want %d", tc.maxLive, got, tc.want)
		}
	}
}
