package hugepages

import "testing"

func TestSpan(t *testing.T) {
	const M = 1 << 20
	for _, tc := range []struct {
		addr, n, off, end uintptr
	}{
		{0, 2 * M, 0, 2 * M},                  // exactly one page
		{0, 2*M - 1, 0, 0},                    // not a whole page
		{4096, 4 * M, 2*M - 4096, 4*M - 4096}, // starts inside a page: one whole page
		{4096, 6 * M, 2*M - 4096, 6*M - 4096}, // two
		{2 * M, 5 * M, 0, 4 * M},              // aligned start, ragged end
		{1, 10, 0, 0},
		{3 * M, 0, 0, 0},
	} {
		off, end := span(tc.addr, tc.n)
		if off != tc.off || end != tc.end {
			t.Errorf("span(%#x, %#x) = %#x, %#x; want %#x, %#x", tc.addr, tc.n, off, end, tc.off, tc.end)
		}
		if end > off && ((tc.addr+off)%size != 0 || (end-off)%size != 0 || end > tc.n) {
			t.Errorf("span(%#x, %#x): [%#x, %#x) is not whole huge pages inside", tc.addr, tc.n, off, end)
		}
	}
}

// TestAdviseKeepsContents checks that advice on a fresh array (and on
// ones too small or empty) leaves it usable and zeroed.
func TestAdviseKeepsContents(t *testing.T) {
	for _, n := range []int{0, 1, 1 << 20, 9 << 20} {
		s := make([]uint64, n)
		Advise(s)
		for i := range s {
			if s[i] != 0 {
				t.Fatalf("element %d of %d is %d after advice", i, n, s[i])
			}
			s[i] = uint64(i)
		}
		for i := range s {
			if s[i] != uint64(i) {
				t.Fatalf("element %d of %d lost its value", i, n)
			}
		}
	}
	Advise([]byte(nil))
}
