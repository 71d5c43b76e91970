package pipeline

import (
	"context"
	"io"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/wirestate/wirestate/capture"
	"github.com/wirestate/wirestate/tracker"
)

// A second pass (timelines of chosen connections) reads the whole file
// again for a few 4-tuples: reading and decoding are nearly all its cost,
// on one core. Where the file allows it (capture.Mark), the first pass
// notes places that cut it into parts of about equal size, and the second
// reads the parts side by side: the first in the tracker's goroutine, each
// other one in its own, which keeps only the segments of the chosen
// 4-tuples (and the packet times of the others, to move packet time on as
// a single read does) and hands them over in order.

// partReads counts the parts read side by side, for the tests.
var partReads atomic.Int64

// partsMinBytes is the smallest file read in parts; maxParts bounds the
// parts of a file.
const (
	partsMinBytes = 32 << 20
	maxParts      = 4
)

// partsFor returns how many parts a file of size bytes is read in: one
// per processor, when it is large enough to be worth it (a variable for
// the tests).
var partsFor = func(size int64) int {
	if size < partsMinBytes {
		return 1
	}
	return min(runtime.GOMAXPROCS(0), maxParts)
}

// marker notes, during a read of a file of size bytes, the places that
// cut it into parts of about equal size.
type marker struct {
	parts int
	size  int64
	marks []capture.Mark
	off   bool
}

// markEvery is how many segments the first pass reads between two looks
// for a mark, a power of two (a variable for the tests).
var markEvery = 64

// note takes a mark if src passed the next cut.
func (m *marker) note(src *capture.FileSource) {
	if m.off || len(m.marks) == m.parts-1 {
		return
	}
	mk, ok := src.Mark()
	if !ok {
		m.off, m.marks = true, nil
		return
	}
	if mk.Offset >= m.size*int64(len(m.marks)+1)/int64(m.parts) {
		m.marks = append(m.marks, mk)
	}
}

// flowSet is the set of 4-tuples a second pass reads. Most packets are of
// other 4-tuples: a bit per port, both ports of a packet set, turns most
// of them away before the map is looked up.
type flowSet struct {
	keys  map[tracker.FlowKey]bool
	ports [1 << 16 / 64]uint64
}

// newFlowSet returns the set of keys.
func newFlowSet(keys map[tracker.FlowKey]bool) *flowSet {
	s := &flowSet{keys: keys}
	for k := range keys {
		s.ports[k.Lo.Port>>6] |= 1 << (k.Lo.Port & 63)
		s.ports[k.Hi.Port>>6] |= 1 << (k.Hi.Port & 63)
	}
	return s
}

// has reports whether seg's 4-tuple is in the set.
func (s *flowSet) has(seg *tracker.Segment) bool {
	if s.ports[seg.Src.Port>>6]&(1<<(seg.Src.Port&63)) == 0 || s.ports[seg.Dst.Port>>6]&(1<<(seg.Dst.Port&63)) == 0 {
		return false
	}
	k, _ := tracker.MakeFlowKey(seg.Src, seg.Dst)
	return s.keys[k]
}

// partStep is one step of a part's read: move packet time to before (the
// latest time of the segments skipped since the step before; 0 for none),
// then, unless end or stop, feed seg. stop: the read passed the pass's
// until, at packet time at.
type partStep struct {
	seg       tracker.Segment
	before    int64
	at        int64
	end, stop bool
}

// partBatch hands over a part's steps; first is the time of the part's
// first segment (for a tracker not made yet).
type partBatch struct {
	steps []partStep
	first int64
	err   error
}

// partBatchLen is the steps of a batch: a part holds at most
// partBatches of them ahead of the tracker.
const (
	partBatchLen = 1024
	partBatches  = 16
)

// readPart reads the segments after mark from and up to frame to (0: to
// the end), for p.only, and sends them in batches on out until it is done
// or quit is closed.
func (p *pass) readPart(ctx context.Context, from capture.Mark, to uint64, out chan<- *partBatch, quit <-chan struct{}) {
	defer close(out)
	partReads.Add(1)
	send := func(b *partBatch) bool {
		select {
		case out <- b:
			return true
		case <-quit:
			return false
		}
	}
	src, err := capture.OpenAt(from, p.cfg.fileOptions())
	if err != nil {
		send(&partBatch{err: err})
		return
	}
	defer src.Close()
	b := &partBatch{steps: make([]partStep, 0, partBatchLen)}
	var seg tracker.Segment
	var before int64
	for n := 0; ; n++ {
		if n&0xffff == 0 && ctx.Err() != nil {
			return // the tracker's goroutine sees it too
		}
		err := src.Next(&seg)
		if err == io.EOF || err == nil && to != 0 && seg.Frame > to {
			break
		}
		if err != nil {
			b.err = err
			send(b)
			return
		}
		if b.first == 0 {
			b.first = seg.Time
		}
		if p.until != 0 && seg.Time > p.until {
			b.steps = append(b.steps, partStep{before: before, at: seg.Time, stop: true})
			send(b)
			return
		}
		if !p.only.has(&seg) {
			before = max(before, seg.Time)
			continue
		}
		b.steps = append(b.steps, partStep{seg: seg, before: before})
		before = 0
		if len(b.steps) == partBatchLen {
			if !send(b) {
				return
			}
			b = &partBatch{steps: make([]partStep, 0, partBatchLen), first: b.first}
		}
	}
	b.steps = append(b.steps, partStep{before: before, end: true})
	send(b)
}

// startParts starts reading the parts after the first (see readPart),
// one goroutine each, and returns their outputs in order, and stop, which
// ends them and waits for them. A part that starts after a packet later
// than p.until is not read: a single read stops before it.
func (p *pass) startParts(ctx context.Context) (outs []chan *partBatch, stop func()) {
	quit := make(chan struct{})
	var wg sync.WaitGroup
	for i, m := range p.parts {
		if p.until != 0 && m.Time > p.until {
			break
		}
		var to uint64
		if i+1 < len(p.parts) {
			to = p.parts[i+1].Frame
		}
		out := make(chan *partBatch, partBatches)
		outs = append(outs, out)
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.readPart(ctx, m, to, out, quit)
		}()
	}
	return outs, func() {
		close(quit)
		wg.Wait()
	}
}

// feedParts feeds the tracker (made by start, if still nil, at the first
// segment's time) the steps of the parts, in order, until the end or
// until a part passed p.until.
func (p *pass) feedParts(ctx context.Context, outs []chan *partBatch, tr **tracker.Tracker, start func(int64) error) error {
	for _, out := range outs {
		for b := range out {
			if b.err != nil {
				return b.err
			}
			if ctx.Err() != nil {
				return nil // interrupted: report what was read
			}
			if *tr == nil && b.first != 0 {
				if err := start(b.first); err != nil {
					return err
				}
			}
			for i := range b.steps {
				s := &b.steps[i]
				if s.before != 0 {
					(*tr).Advance(s.before)
				}
				switch {
				case s.stop:
					(*tr).Advance(max(s.at, p.settle))
					return nil
				case !s.end:
					(*tr).Feed(&s.seg)
				}
			}
		}
	}
	return nil
}
