package tracker

import (
	"testing"

	"github.com/wirestate/wirestate/tracker/seqnum"
)

func TestRTTTable(t *testing.T) {
	tb := newRTTTable(1) // one set of 8 ways
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
	for i := uint32(1); i <= 4; i++ {
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
	// Nine segments in an 8-way set: the oldest goes, counted.
	for i := uint32(1); i <= 9; i++ {
		tb.put(k(1000*i), uint64(i), 100, 7, false)
	}
	if tb.evicted != 1 || tb.has(k(1000)) || !tb.has(k(9000)) {
		t.Errorf("evicted %d, first held %v, last held %v: want the oldest evicted", tb.evicted, tb.has(k(1000)), tb.has(k(9000)))
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
	var l Loss
	l.gap(100, 300) // [100, 300) never seen
	if !l.fill(100, 200) || l.holeLo != 200 {
		t.Fatalf("fill from the bottom: hole [%d, %d)", l.holeLo, l.holeHi)
	}
	if !l.acked(0, 250, 400, false) || l.MissedBytes != 50 || l.AcksForUnseen != 1 {
		t.Fatalf("acked into the hole: %+v", l)
	}
	if l.acked(250, 400, 400, true) != true || l.MissedBytes != 100 || l.haveHole {
		t.Fatalf("acked past the hole: %+v", l)
	}
	if l.acked(400, 400, 400, true) {
		t.Fatal("an ACK of data seen counted as capture loss")
	}
	l.spurious(500)
	l.dsack(450) // the same duplicate, reported by D-SACK
	l.dsack(600) // another one
	if l.Spurious != 2 {
		t.Errorf("spurious %d, want 2", l.Spurious)
	}
}
