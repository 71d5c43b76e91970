package tracker

import (
	"fmt"
	"testing"
)

func TestSketchEstimate(t *testing.T) {
	for _, n := range []int{0, 1, 10, 100, 1000, 20000, 1000000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			var s, half1, half2 Sketch
			for i := 0; i < n; i++ {
				a := AddrFrom4([4]byte{byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)})
				s.Add(&a)
				s.Add(&a) // duplicates do not count
				if i%2 == 0 {
					half1.Add(&a)
				} else {
					half2.Add(&a)
				}
			}
			got := s.Estimate()
			// Within 10% (three standard errors), and exact for tiny sets.
			if d := got - n; d*10 > n || -d*10 > n || (n <= 10 && d != 0) {
				t.Errorf("estimate %d for %d distinct addresses", got, n)
			}
			half1.Merge(&half2)
			if m := half1.Estimate(); m != got {
				t.Errorf("merged halves estimate %d, the whole %d", m, got)
			}
		})
	}
}

func TestFoldedDensest(t *testing.T) {
	var f, g Folded
	add := func(f *Folded, sec int64, n int) {
		for i := 0; i < n; i++ {
			c := Conn{Start: sec*1e9 + int64(i)}
			c.Orig.Addr[15] = byte(i)
			f.Add(&c, Resp)
		}
	}
	add(&f, 100, 5)
	add(&f, 103, 7)
	add(&g, 104, 4)
	add(&g, 120, 9)
	f.Merge(&g)
	if f.Count != 25 || f.First != 100e9 || f.Last != 120e9+8 {
		t.Fatalf("count %d, first %d, last %d", f.Count, f.First, f.Last)
	}
	for _, tc := range []struct {
		window int64
		count  int
		from   int64
	}{{1, 9, 120}, {2, 11, 103}, {5, 16, 100}, {30, 25, 100}} {
		if n, from := f.Densest(tc.window); n != tc.count || from != tc.from {
			t.Errorf("window %d s: %d from %d, want %d from %d", tc.window, n, from, tc.count, tc.from)
		}
	}
	if f.VictimStates[Closed] != 25 {
		t.Errorf("victim states %v", f.VictimStates)
	}
}
