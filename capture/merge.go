package capture

import "container/heap"

// inputHeap orders the inputs that have a record waiting by the record's
// timestamp, ties going to the input named first; it is the merge of several
// files in time order, as tcpdump's rotated files need.
type inputHeap []*input

// Len implements heap.Interface.
func (h inputHeap) Len() int { return len(h) }

// Less implements heap.Interface.
func (h inputHeap) Less(i, j int) bool {
	if h[i].rec.ts != h[j].rec.ts {
		return h[i].rec.ts < h[j].rec.ts
	}
	return h[i].order < h[j].order
}

// Swap implements heap.Interface.
func (h inputHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIndex = i
	h[j].heapIndex = j
}

// Push implements heap.Interface.
func (h *inputHeap) Push(x any) {
	in := x.(*input)
	in.heapIndex = len(*h)
	*h = append(*h, in)
}

// Pop implements heap.Interface.
func (h *inputHeap) Pop() any {
	old := *h
	in := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	in.heapIndex = -1
	return in
}

// start reads every input's first record and builds the heap.
func (s *FileSource) start() error {
	s.started = true
	s.heap = make(inputHeap, 0, len(s.inputs))
	for _, in := range s.inputs {
		if err := s.advance(in); err != nil {
			return err
		}
		if !in.done {
			heap.Push(&s.heap, in)
		}
	}
	return nil
}

// nextRecord returns the input holding the earliest waiting record, or nil
// once every input is exhausted. The input returned by the previous call is
// advanced only now, so that its record stays valid in between.
func (s *FileSource) nextRecord() (*input, error) {
	if !s.started {
		if err := s.start(); err != nil {
			return nil, err
		}
	}
	if in := s.last; in != nil {
		s.last = nil
		if err := s.advance(in); err != nil {
			return nil, err
		}
		switch {
		case in.done:
			heap.Remove(&s.heap, in.heapIndex)
		case len(s.heap) > 1: // one input alone needs no reordering
			heap.Fix(&s.heap, in.heapIndex)
		}
	}
	if len(s.heap) == 0 {
		return nil, nil
	}
	s.last = s.heap[0]
	return s.last, nil
}
