// Package hugepages asks the kernel to back large, freshly allocated arrays
// with transparent huge pages. On machines where a page fault is expensive
// (virtual machines especially), first touching tens of megabytes of 4 KiB
// pages costs more than filling them: one 2 MiB fault replaces 512. It only
// advises; where the kernel or the platform says no, nothing changes.
package hugepages

import "unsafe"

// size is the huge page size advised for (x86-64 and arm64 with 4 KiB
// base pages).
const size = 2 << 20

// Advise advises huge pages for the whole 2 MiB pages inside s's backing
// array (up to its capacity). Call it right after allocating s, before
// touching it: pages already touched stay as they are.
func Advise[T any](s []T) {
	if cap(s) == 0 {
		return
	}
	n := uintptr(cap(s)) * unsafe.Sizeof(s[:1][0])
	b := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), n)
	if off, end := span(uintptr(unsafe.Pointer(unsafe.SliceData(b))), n); end > off {
		advise(b[off:end])
	}
}

// span returns the offsets, from addr, of the first and past the last
// whole huge page inside the n bytes at addr; off == end when there is
// none.
func span(addr, n uintptr) (off, end uintptr) {
	off = (size - addr%size) % size
	if off >= n {
		return 0, 0
	}
	end = off + (n-off)/size*size
	if end == off {
		return 0, 0
	}
	return off, end
}

// arenaBytes bounds the allocations Chunks carves chunks from: four huge
// pages, so that at least three whole ones fall inside the largest
// whatever its alignment.
const arenaBytes = 8 << 20

// Chunks hands out equal chunks of a growing store (a list of records),
// carved from larger allocations as the store grows: each one holds an
// eighth as many chunks as were handed out before (so at most a
// ninth of what is allocated lies unused), up to 8 MiB, and is advised to
// use huge pages. Small stores stay small; large ones take a page fault per
// 2 MiB instead of per 4 KiB. The zero value is ready; it is not safe for
// concurrent use.
type Chunks[T any] struct {
	spare [][]T
	made  int
}

// Next returns a new zeroed chunk of n elements (length n).
func (c *Chunks[T]) Next(n int) []T {
	if len(c.spare) == 0 {
		var zero T
		per := int(unsafe.Sizeof(zero)) * n
		k := max(c.made/8, 1)
		if per > 0 {
			k = max(min(k, arenaBytes/per), 1)
		}
		arena := make([]T, k*n)
		Advise(arena)
		for i := 0; i < k; i++ {
			c.spare = append(c.spare, arena[i*n:(i+1)*n:(i+1)*n])
		}
	}
	ch := c.spare[0]
	c.spare[0] = nil
	c.spare = c.spare[1:]
	c.made++
	return ch
}
