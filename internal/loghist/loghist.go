// Package loghist keeps a distribution of durations in log-linear buckets,
// so that percentiles of many samples cost a fixed few kilobytes, merge
// across workers by adding counts, and come out within 0.8% of the exact
// value (exact below 64 µs).
package loghist

import (
	"math"
	"math/bits"
)

// subBits is the number of bits of a value kept exactly: each power of two
// is split into 1<<subBits buckets, so a bucket is at most 1/64 of its
// lower bound wide and its midpoint within 1/128 of any value in it.
const subBits = 6

const (
	sub = 1 << subBits
	// maxMicros is the largest value a Hist tells apart (about 71
	// minutes); larger ones count in the last bucket.
	maxMicros = 1<<32 - 1
	nBuckets  = sub + (32-subBits)*sub
)

// Hist is a histogram of durations with microsecond resolution. The zero
// value is empty and ready; it allocates its buckets at the first Add.
type Hist struct {
	counts   []uint32
	n        uint64
	sum      float64 // microseconds
	min, max uint32  // microseconds
}

// index returns the bucket of v microseconds.
func index(v uint32) int {
	if v < sub {
		return int(v)
	}
	e := bits.Len32(v) - subBits - 1 // v>>e is in [sub, 2*sub)
	return sub + e*sub + int(v>>e) - sub
}

// bounds returns the smallest and largest value of bucket i.
func bounds(i int) (lo, hi uint32) {
	if i < sub {
		return uint32(i), uint32(i)
	}
	e := (i - sub) / sub
	m := uint32((i-sub)%sub + sub)
	lo = m << e
	return lo, lo + (1<<e - 1)
}

// micros converts nanoseconds to whole microseconds, rounded, within the
// range a Hist keeps; negative values count as zero.
func micros(ns int64) uint32 {
	if ns <= 0 {
		return 0
	}
	us := (ns + 500) / 1000
	if us > maxMicros {
		return maxMicros
	}
	return uint32(us)
}

// Add counts one sample of ns nanoseconds.
func (h *Hist) Add(ns int64) {
	if h.counts == nil {
		h.counts = make([]uint32, nBuckets)
	}
	v := micros(ns)
	if c := &h.counts[index(v)]; *c < math.MaxUint32 {
		*c++
	}
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.n++
	h.sum += float64(v)
}

// Merge adds the samples of o to h.
func (h *Hist) Merge(o *Hist) {
	if o.n == 0 {
		return
	}
	if h.counts == nil {
		h.counts = make([]uint32, nBuckets)
	}
	for i, c := range o.counts {
		if s := uint64(h.counts[i]) + uint64(c); s > math.MaxUint32 {
			h.counts[i] = math.MaxUint32
		} else {
			h.counts[i] = uint32(s)
		}
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	h.n += o.n
	h.sum += o.sum
}

// Count returns the number of samples.
func (h *Hist) Count() uint64 { return h.n }

// Min and Max return the smallest and largest sample in nanoseconds
// (microsecond resolution); zero when empty.
func (h *Hist) Min() int64 { return int64(h.min) * 1000 }

// Max returns the largest sample in nanoseconds (see Min).
func (h *Hist) Max() int64 { return int64(h.max) * 1000 }

// Mean returns the mean sample in nanoseconds; zero when empty.
func (h *Hist) Mean() int64 {
	if h.n == 0 {
		return 0
	}
	return int64(h.sum / float64(h.n) * 1000)
}

// Quantile returns the q-quantile (0 < q <= 1) in nanoseconds by nearest
// rank: the smallest sample at or below which at least q of the samples
// lie, as the midpoint of its bucket kept within the observed minimum and
// maximum. It returns zero when h is empty.
func (h *Hist) Quantile(q float64) int64 {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	if rank < 1 {
		rank = 1
	}
	if rank >= h.n {
		return h.Max()
	}
	var seen uint64
	for i, c := range h.counts {
		seen += uint64(c)
		if seen >= rank {
			lo, hi := bounds(i)
			mid := lo + (hi-lo)/2
			mid = max(mid, h.min)
			mid = min(mid, h.max)
			return int64(mid) * 1000
		}
	}
	return h.Max()
}
