package tracker

import (
	"encoding/binary"
	"math"
	"math/bits"
	"slices"
)

// Folded counts the members of one possible flood (half-open handshakes to
// one listener, or lone RSTs and ACKs to one endpoint) that were counted
// instead of kept as records. A report keeps the first members of each
// victim in full; past that, a flood of spoofed packets would otherwise
// make a record, a host and a line of output per packet.
type Folded struct {
	// Kind is the flood the members may form: AnomSYNFlood or
	// AnomRSTACKFlood.
	Kind AnomalyKind
	// Victim is the listener or endpoint the members went to.
	Victim Endpoint
	// Count is the number of members folded.
	Count int
	// Answered counts half-open members the victim answered with a SYN-ACK.
	Answered int
	// First and Last are the earliest and latest start times folded.
	First, Last int64
	// PerSecond counts members by start time, in whole seconds since the
	// epoch, so that the densest window can still be found.
	PerSecond map[int64]int32
	// VictimStates counts the victim's final state over the members, for
	// the per-host view.
	VictimStates [NumStates]int32
	// Sources estimates the distinct source addresses among the members.
	Sources Sketch
}

// Add folds the connection c, whose member end is the victim, into f.
func (f *Folded) Add(c *Conn, victim Side) {
	if f.Count == 0 || c.Start < f.First {
		f.First = c.Start
	}
	if f.Count == 0 || c.Start > f.Last {
		f.Last = c.Start
	}
	f.Count++
	if f.PerSecond == nil {
		f.PerSecond = map[int64]int32{}
	}
	f.PerSecond[c.Start/1e9]++
	f.VictimStates[c.Peers[victim].State]++
	if c.Peers[Resp].SawSYNACK() {
		f.Answered++
	}
	source := c.Endpoint(victim.Other()).Addr
	f.Sources.Add(&source)
}

// Merge adds o, folded for the same kind and victim elsewhere (another
// shard), into f.
func (f *Folded) Merge(o *Folded) {
	if o.Count == 0 {
		return
	}
	if f.Count == 0 || o.First < f.First {
		f.First = o.First
	}
	if f.Count == 0 || o.Last > f.Last {
		f.Last = o.Last
	}
	f.Count += o.Count
	f.Answered += o.Answered
	if f.PerSecond == nil {
		f.PerSecond = map[int64]int32{}
	}
	for s, n := range o.PerSecond {
		f.PerSecond[s] += n
	}
	for i, n := range o.VictimStates {
		f.VictimStates[i] += n
	}
	f.Sources.Merge(&o.Sources)
}

// Densest returns the most members whose start times fall within one
// window of the given whole seconds (at least 1), and the second it
// begins.
func (f *Folded) Densest(seconds int64) (count int, from int64) {
	secs := make([]int64, 0, len(f.PerSecond))
	for s := range f.PerSecond {
		secs = append(secs, s)
	}
	slices.Sort(secs)
	sum, lo := 0, 0
	for _, s := range secs {
		sum += int(f.PerSecond[s])
		for s-secs[lo] >= max(seconds, 1) {
			sum -= int(f.PerSecond[secs[lo]])
			lo++
		}
		if sum > count {
			count, from = sum, secs[lo]
		}
	}
	return count, from
}

// sketchRegisters is the number of HyperLogLog registers in a Sketch: a
// standard error of about 1.04/sqrt(1024), 3%.
const sketchRegisters = 1 << 10

// Sketch estimates how many distinct addresses were added to it in a fixed
// kilobyte (HyperLogLog, Flajolet et al. 2007).
type Sketch struct {
	reg [sketchRegisters]uint8
}

// Add adds one address.
func (s *Sketch) Add(a *Addr) {
	// A fixed mix of both halves (splitmix64's finaliser): the estimate
	// needs well-spread bits, not secrecy.
	h := binary.LittleEndian.Uint64(a[:8]) ^ bits.RotateLeft64(binary.LittleEndian.Uint64(a[8:]), 31)
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	i := h & (sketchRegisters - 1)
	rank := uint8(bits.LeadingZeros64(h>>10|1) - 9) // first 1-bit of the 54 bits left
	if rank > s.reg[i] {
		s.reg[i] = rank
	}
}

// Merge makes s the sketch of both sets.
func (s *Sketch) Merge(o *Sketch) {
	for i, r := range o.reg {
		if r > s.reg[i] {
			s.reg[i] = r
		}
	}
}

// Estimate returns the estimated number of distinct addresses added.
func (s *Sketch) Estimate() int {
	const m = float64(sketchRegisters)
	sum, zeros := 0.0, 0
	for _, r := range s.reg {
		sum += math.Ldexp(1, -int(r))
		if r == 0 {
			zeros++
		}
	}
	e := 0.7213 / (1 + 1.079/m) * m * m / sum
	if e <= 2.5*m && zeros > 0 {
		e = m * math.Log(m/float64(zeros)) // linear counting for small sets
	}
	return int(math.Round(e))
}
