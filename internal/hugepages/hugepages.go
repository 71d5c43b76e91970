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
