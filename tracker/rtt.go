package tracker

import "github.com/wirestate/wirestate/tracker/seqnum"

// This file holds the round-trip-time arithmetic: the summary of samples
// (Summary) and the per-shard table of segments in flight (rttTable) that
// pairs a segment with the acknowledgement that ends exactly at its end,
// as Wireshark's tcp.analysis.ack_rtt does (docs/metrics.md).

// Summary sums the samples of one duration, in microseconds.
type Summary struct {
	// Min and Max are the smallest and largest sample, in microseconds.
	Min, Max uint32
	// N counts the samples.
	N uint32
	// Sum adds the samples, in microseconds.
	Sum uint64
}

// add adds one sample of us microseconds.
func (s *Summary) add(us uint32) {
	if s.N == 0 || us < s.Min {
		s.Min = us
	}
	if us > s.Max {
		s.Max = us
	}
	s.N++
	s.Sum += uint64(us)
}

// MinNS returns the smallest sample in nanoseconds, and false without
// samples.
func (s *Summary) MinNS() (int64, bool) { return int64(s.Min) * 1000, s.N > 0 }

// MaxNS returns the largest sample in nanoseconds, and false without
// samples.
func (s *Summary) MaxNS() (int64, bool) { return int64(s.Max) * 1000, s.N > 0 }

// AvgNS returns the mean sample in nanoseconds (rounded to the
// microsecond), and false without samples.
func (s *Summary) AvgNS() (int64, bool) {
	if s.N == 0 {
		return 0, false
	}
	return int64((s.Sum+uint64(s.N)/2)/uint64(s.N)) * 1000, true
}

// usMask keeps the 40 bits of microsecond times the table stores: they
// wrap after 12.7 days, far beyond any round trip.
const usMask = 1<<40 - 1

// usec returns packet time t (nanoseconds) as the table's 40-bit
// microsecond clock.
func usec(t int64) uint64 { return uint64(t/1000) & usMask }

// since returns the microseconds from table time from to table time to,
// saturated to 32 bits.
func since(from, to uint64) uint32 {
	d := (to - from) & usMask
	if d > 1<<32-1 {
		return 1<<32 - 1
	}
	return uint32(d)
}

// Bits of an rttEntry's val: the send time (40 bits of microseconds), an
// 8-bit tag of the connection's uid (so a reused slab slot never pairs
// with its previous connection's segments), the segment's length (15
// bits, 0 when longer, for the walk back over covered segments) and
// whether it is a SYN-ACK.
const (
	rttTagShift = 40
	rttLenShift = 48
	rttLenMax   = 1<<15 - 1
	rttSYNACK   = 1 << 63
)

// rttEntry is one segment in flight: key packs the connection's slab index
// plus one, the sending side and the sequence number just past the
// segment; zero is an empty way.
type rttEntry struct {
	key, val uint64
}

// rttWays is the table's associativity: a set of four 16-byte ways is one
// 64-byte cache line (the slice is page-aligned), so a put or take costs
// one cache miss at most.
const rttWays = 4

// rttTable is a shard's set-associative table of segments in flight,
// preallocated and bounded: a new segment takes an empty way of its set
// or else the oldest one (counted in evicted). An acknowledgement that
// ends exactly at a segment's end empties its way, and the ways of the
// segments it covered before it (see take).
type rttTable struct {
	e       []rttEntry
	setMask uint64
	evicted uint64
}

// rttSets is the number of sets per shard: 8192 sets of 4 ways, 32,768
// segments in flight in 512 KiB, small enough to stay in the L2 cache of
// most cores (at 2 MiB the table's misses cost a sixth of the run on the
// benchmark capture).
const rttSets = 1 << 13

// rttSetsFor returns the sets of a shard's table when it holds at most
// maxLive connections: a way for about eight segments in flight per
// connection, a power of two from 16 to rttSets, so that a tracker bound
// to a few connections (tests, the fuzzer) does not clear 512 KiB.
func rttSetsFor(maxLive int) int {
	sets := 16
	for sets < rttSets && sets*rttWays < maxLive*8 {
		sets <<= 1
	}
	return sets
}

// newRTTTable returns a table of sets sets (a power of two), allocated at
// its first put: a shard that never sees a SYN-ACK or data (the held-SYN
// benchmark) spends nothing on it.
func newRTTTable(sets int) rttTable {
	return rttTable{setMask: uint64(sets - 1)}
}

// rttKey returns the key of the segment of the connection at slab index
// idx, sent by side s, whose sequence space ends at end.
func rttKey(idx int, s Side, end seqnum.Value) uint64 {
	return uint64(idx+1)<<33 | uint64(s)<<32 | uint64(uint32(end))
}

// set returns the ways of key's set. The connection and direction pick a
// start; the end sequence number, in KiB, moves from there, so a
// connection's segments in flight sit in neighbouring cache lines, which
// stay warm while it sends (with a plain hash, every put and take was a
// cache miss: 125 ns each on the benchmark capture).
func (t *rttTable) set(key uint64) []rttEntry {
	i := ((key>>32)*0x9e3779b97f4a7c15>>40 + (key&0xffffffff)>>10) & t.setMask * rttWays
	return t.e[i : i+rttWays : i+rttWays]
}

// put records a segment in flight: key (see rttKey) sent at table time
// now, of length n, of the connection whose uid tag is tag.
func (t *rttTable) put(key uint64, now uint64, n uint32, tag uint8, synack bool) {
	if n > rttLenMax {
		n = 0
	}
	if t.e == nil {
		t.e = make([]rttEntry, (t.setMask+1)*rttWays)
	}
	v := now | uint64(tag)<<rttTagShift | uint64(n)<<rttLenShift
	if synack {
		v |= rttSYNACK
	}
	ways := t.set(key)
	for i := range ways {
		if w := &ways[i]; w.key == 0 || w.key == key {
			w.key, w.val = key, v
			return
		}
	}
	victim, oldest := 0, uint64(0)
	for i := range ways {
		if age := (now - ways[i].val) & usMask; age > oldest {
			victim, oldest = i, age
		}
	}
	t.evicted++
	ways[victim] = rttEntry{key, v}
}

// has reports whether the table holds a segment with key.
func (t *rttTable) has(key uint64) bool {
	if t.e == nil {
		return false
	}
	for _, w := range t.set(key) {
		if w.key == key {
			return true
		}
	}
	return false
}

// take removes the segment with key and uid tag tag, returning its entry
// value and whether it was there.
func (t *rttTable) take(key uint64, tag uint8) (uint64, bool) {
	if t.e == nil {
		return 0, false
	}
	ways := t.set(key)
	for i := range ways {
		if w := &ways[i]; w.key == key {
			v := w.val
			w.key = 0
			return v, uint8(v>>rttTagShift) == tag
		}
	}
	return 0, false
}

// clearCovered removes, after the acknowledgement of the segment ending at
// end with length n (an entry take returned), the segments before it that
// the same acknowledgement covered: back from end, while each segment
// found starts after from (the previous acknowledgement). A few steps at
// most: the rest age out.
func (t *rttTable) clearCovered(idx int, s Side, end seqnum.Value, n uint32, from seqnum.Value, tag uint8) {
	for step := 0; step < 4 && n != 0; step++ {
		end = end.Add(seqnum.Size(0) - seqnum.Size(n))
		if !end.GreaterThan(from) {
			return
		}
		v, ok := t.take(rttKey(idx, s, end), tag)
		if !ok {
			return
		}
		n = uint32(v>>rttLenShift) & rttLenMax
	}
}
