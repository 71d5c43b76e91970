package pipeline

import (
	"slices"
	"unsafe"

	"github.com/wirestate/wirestate/tracker"
)

// Standard input is read once: there is no second read for the timelines.
// The first pass keeps instead, for each 4-tuple, a ring of its last
// segments, and the timelines are rebuilt by replaying the rings of the
// connections chosen through a fresh tracker. A connection with more
// segments than its ring holds is replayed from its last ringSize
// segments (picked up mid-stream, as a capture started late would show it);
// once ringBudget bytes are held, 4-tuples seen from then on get no ring
// and no timeline (counted).

// ringSize bounds the segments kept per 4-tuple.
const ringSize = 4096

// ringBudget bounds the bytes all rings hold together.
const ringBudget = 256 << 20

// segSize is the memory of one kept segment.
const segSize = int(unsafe.Sizeof(tracker.Segment{}))

// segRing is the last segments of one 4-tuple.
type segRing struct {
	segs []tracker.Segment
	next int // where the next segment goes once segs is full
}

// segRings keeps the rings of a pass; the reader goroutine alone uses it.
type segRings struct {
	rings map[tracker.FlowKey]*segRing
	bytes int
	cut   map[tracker.FlowKey]bool
}

func newSegRings() *segRings {
	return &segRings{rings: map[tracker.FlowKey]*segRing{}, cut: map[tracker.FlowKey]bool{}}
}

// add keeps a copy of seg in its 4-tuple's ring.
func (r *segRings) add(seg *tracker.Segment) {
	k, _ := tracker.MakeFlowKey(seg.Src, seg.Dst)
	ring := r.rings[k]
	if ring == nil {
		if r.bytes+segSize > ringBudget {
			return // no ring: replay counts the 4-tuple as missing
		}
		ring = &segRing{segs: make([]tracker.Segment, 0, 8)}
		r.rings[k] = ring
	}
	if len(ring.segs) < ringSize && r.bytes+segSize <= ringBudget {
		r.bytes += segSize
		ring.segs = append(ring.segs, *seg)
		return
	}
	// Full (or the budget is spent): the oldest segment gives way.
	r.cut[k] = true
	ring.segs[ring.next] = *seg
	ring.next = (ring.next + 1) % len(ring.segs)
}

// replay returns the kept segments of the 4-tuples in keys, in capture
// order, and how many of those 4-tuples lost their first segments or had
// no ring at all.
func (r *segRings) replay(keys map[tracker.FlowKey]bool) (segs []tracker.Segment, cut, missing int) {
	for k := range keys {
		ring := r.rings[k]
		if ring == nil {
			missing++
			continue
		}
		if r.cut[k] {
			cut++
		}
		segs = append(segs, ring.segs...)
	}
	slices.SortFunc(segs, func(a, b tracker.Segment) int {
		switch {
		case a.Frame < b.Frame:
			return -1
		case a.Frame > b.Frame:
			return 1
		}
		return 0
	})
	return segs, cut, missing
}
