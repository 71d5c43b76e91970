package loghist

import (
	"math/rand"
	"slices"
	"testing"
)

// TestBuckets checks that every value falls in a bucket whose bounds hold
// it, that buckets are contiguous, and that a bucket is at most 1/64 of its
// lower bound wide.
func TestBuckets(t *testing.T) {
	prevHi := int64(-1)
	for i := 0; i < nBuckets; i++ {
		lo, hi := bounds(i)
		if int64(lo) != prevHi+1 {
			t.Fatalf("bucket %d starts at %d, previous ended at %d", i, lo, prevHi)
		}
		if lo >= sub && hi-lo+1 > lo/sub {
			t.Fatalf("bucket %d [%d,%d] wider than 1/64 of its bound", i, lo, hi)
		}
		for _, v := range []uint32{lo, hi, lo + (hi-lo)/2} {
			if got := index(v); got != i {
				t.Fatalf("index(%d) = %d, want %d", v, got, i)
			}
		}
		prevHi = int64(hi)
	}
	if prevHi != maxMicros {
		t.Fatalf("last bucket ends at %d, want %d", prevHi, maxMicros)
	}
}

// TestQuantileAgainstSorted compares Quantile with the exact nearest-rank
// quantile of sorted samples: within 1% (and exact for small values).
func TestQuantileAgainstSorted(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for _, tc := range []struct {
		name string
		gen  func() int64
	}{
		{"lan", func() int64 { return int64(50e3 + r.ExpFloat64()*200e3) }},
		{"wan", func() int64 { return int64(20e6 + r.NormFloat64()*3e6) }},
		{"tiny", func() int64 { return int64(r.Intn(60)) * 1000 }},
		{"bimodal", func() int64 {
			if r.Intn(10) == 0 {
				return int64(1e9 + r.Intn(1e9))
			}
			return int64(100e3 + r.Intn(50e3))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h Hist
			var all []int64
			for i := 0; i < 20000; i++ {
				v := tc.gen()
				h.Add(v)
				all = append(all, int64(micros(v))*1000)
			}
			slices.Sort(all)
			for _, q := range []float64{0.01, 0.5, 0.9, 0.99, 1} {
				rank := int(float64(len(all))*q+0.999999) - 1
				want, got := all[rank], h.Quantile(q)
				diff := got - want
				if diff < 0 {
					diff = -diff
				}
				if diff > want/100 && diff > 1000 {
					t.Errorf("q%.2f = %d, exact %d", q, got, want)
				}
			}
			if h.Min() != all[0] || h.Max() != all[len(all)-1] || h.Count() != uint64(len(all)) {
				t.Errorf("min/max/count %d/%d/%d, want %d/%d/%d", h.Min(), h.Max(), h.Count(), all[0], all[len(all)-1], len(all))
			}
		})
	}
}

// TestMerge checks that merging two histograms equals adding all samples to
// one.
func TestMerge(t *testing.T) {
	var a, b, all Hist
	for i := int64(0); i < 1000; i++ {
		v := i * i * 997
		all.Add(v)
		if i%3 == 0 {
			a.Add(v)
		} else {
			b.Add(v)
		}
	}
	var empty Hist
	a.Merge(&empty)
	a.Merge(&b)
	for _, q := range []float64{0.1, 0.5, 0.99} {
		if a.Quantile(q) != all.Quantile(q) {
			t.Errorf("q%.2f merged %d, single %d", q, a.Quantile(q), all.Quantile(q))
		}
	}
	if a.Count() != all.Count() || a.Min() != all.Min() || a.Max() != all.Max() || a.Mean() != all.Mean() {
		t.Errorf("merged summary differs")
	}
}

// TestEdges covers the empty histogram, negative and huge values.
func TestEdges(t *testing.T) {
	var h Hist
	if h.Quantile(0.5) != 0 || h.Mean() != 0 || h.Count() != 0 {
		t.Fatal("empty histogram not zero")
	}
	h.Add(-5)
	h.Add(1 << 62)
	if h.Min() != 0 || h.Max() != int64(maxMicros)*1000 {
		t.Errorf("min %d max %d", h.Min(), h.Max())
	}
	if h.Quantile(0.5) != 0 || h.Quantile(1) != h.Max() {
		t.Errorf("quantiles %d %d", h.Quantile(0.5), h.Quantile(1))
	}
}

// TestAddAllocs: adding a sample allocates only the first time.
func TestAddAllocs(t *testing.T) {
	var h Hist
	h.Add(1)
	if n := testing.AllocsPerRun(100, func() { h.Add(123456) }); n != 0 {
		t.Errorf("Add allocates %.0f times", n)
	}
}
