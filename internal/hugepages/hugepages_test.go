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

// TestChunks: chunks are zeroed, of the length asked, never overlap (a
// full chunk cannot grow into the next), and the spare part stays under
// an eighth of what was handed out, past the first few.
func TestChunks(t *testing.T) {
	var c Chunks[uint64]
	var got [][]uint64
	for i := 0; i < 300; i++ {
		ch := c.Next(1000)
		if len(ch) != 1000 || cap(ch) != 1000 {
			t.Fatalf("chunk %d: len %d cap %d, want 1000", i, len(ch), cap(ch))
		}
		for j := range ch {
			if ch[j] != 0 {
				t.Fatalf("chunk %d not zeroed at %d", i, j)
			}
			ch[j] = uint64(i)<<32 | uint64(j)
		}
		got = append(got, ch)
		if i >= 16 && len(c.spare) > (i+1)/8+1 {
			t.Errorf("after %d chunks %d spare", i+1, len(c.spare))
		}
	}
	for i, ch := range got {
		for j := range ch {
			if ch[j] != uint64(i)<<32|uint64(j) {
				t.Fatalf("chunk %d overwritten at %d", i, j)
			}
		}
	}
}
