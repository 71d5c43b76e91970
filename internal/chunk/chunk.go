// Package chunk stores values in fixed-size chunks: growing never moves
// what is stored, so adding costs no copy and pointers into it stay valid.
package chunk

import "github.com/wirestate/wirestate/internal/hugepages"

// Size is how many values one chunk holds.
const Size = 4096

// List stores values in chunks of Size. The zero value is empty and ready.
type List[T any] struct {
	// Chunks holds the values, Size to a chunk (the last may be shorter).
	Chunks [][]T
	// N counts the values.
	N int

	alloc hugepages.Chunks[T]
}

// Add appends a copy of *v.
func (c *List[T]) Add(v *T) {
	if c.N%Size == 0 {
		c.Chunks = append(c.Chunks, c.alloc.Next(Size)[:0])
	}
	last := &c.Chunks[len(c.Chunks)-1]
	*last = append(*last, *v)
	c.N++
}

// At returns the i-th value.
func (c *List[T]) At(i int) *T { return &c.Chunks[i/Size][i%Size] }

// AppendTo appends every value, in order, to out.
func (c *List[T]) AppendTo(out []T) []T {
	for _, ch := range c.Chunks {
		out = append(out, ch...)
	}
	return out
}

// Gather joins several lists into one slice, in order.
func Gather[T any](parts []List[T]) []T {
	n := 0
	for i := range parts {
		n += parts[i].N
	}
	out := make([]T, 0, n)
	for i := range parts {
		out = parts[i].AppendTo(out)
	}
	return out
}
