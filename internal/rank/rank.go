// Package rank picks the busiest items of a large set without sorting it.
package rank

import "slices"

// Busiest picks the n of total items with the highest load, the lowest
// (by less) among equal loads, without sorting them all: a threshold load
// is found by counting, and only the items tied at it are ranked, through
// a bounded heap. When n < 0 or n >= total it returns every item, in
// order.
func Busiest(total, n int, load func(int32) int, less func(i, j int32) bool) []int32 {
	if n < 0 || n >= total {
		all := make([]int32, total)
		for i := range all {
			all[i] = int32(i)
		}
		return all
	}
	if n == 0 {
		return nil
	}
	loads := make([]int32, total)
	byLoad := map[int32]int{}
	for i := range loads {
		loads[i] = int32(load(int32(i)))
		byLoad[loads[i]]++
	}
	levels := make([]int32, 0, len(byLoad))
	for l := range byLoad {
		levels = append(levels, l)
	}
	slices.Sort(levels)
	threshold, above := int32(0), 0 // items strictly above threshold
	for k := len(levels) - 1; k >= 0; k-- {
		threshold = levels[k]
		if above+byLoad[threshold] >= n {
			break
		}
		above += byLoad[threshold]
	}
	chosen := make([]int32, 0, n)
	need := n - above
	// heap is a max-heap (by less) of the lowest `need` tied items so far.
	heap := make([]int32, 0, need)
	down := func(i int) {
		for {
			c := 2*i + 1
			if c >= len(heap) {
				return
			}
			if c+1 < len(heap) && less(heap[c], heap[c+1]) {
				c++
			}
			if !less(heap[i], heap[c]) {
				return
			}
			heap[i], heap[c] = heap[c], heap[i]
			i = c
		}
	}
	for i := range loads {
		switch l := loads[i]; {
		case l > threshold:
			chosen = append(chosen, int32(i))
		case l == threshold && need > 0:
			if len(heap) < need {
				heap = append(heap, int32(i))
				for j := len(heap) - 1; j > 0 && less(heap[(j-1)/2], heap[j]); j = (j - 1) / 2 {
					heap[j], heap[(j-1)/2] = heap[(j-1)/2], heap[j]
				}
			} else if less(int32(i), heap[0]) {
				heap[0] = int32(i)
				down(0)
			}
		}
	}
	return append(chosen, heap...)
}
