package seqnum

import "testing"

func TestCompareAcrossWrap(t *testing.T) {
	cases := []struct {
		name       string
		v, w       Value
		less, more bool
	}{
		{"equal", 10, 10, false, false},
		{"plain", 10, 20, true, false},
		{"plain reversed", 20, 10, false, true},
		{"across wrap", 0xfffffff0, 0x10, true, false},
		{"across wrap reversed", 0x10, 0xfffffff0, false, true},
		{"half space", 0, 0x7fffffff, true, false},
	}
	for _, c := range cases {
		if got := c.v.LessThan(c.w); got != c.less {
			t.Errorf("%s: %d.LessThan(%d) = %v, want %v", c.name, c.v, c.w, got, c.less)
		}
		if got := c.v.GreaterThan(c.w); got != c.more {
			t.Errorf("%s: %d.GreaterThan(%d) = %v, want %v", c.name, c.v, c.w, got, c.more)
		}
		if got := c.v.LessThanEq(c.w); got != (c.less || c.v == c.w) {
			t.Errorf("%s: LessThanEq = %v", c.name, got)
		}
		if got := c.v.GreaterThanEq(c.w); got != (c.more || c.v == c.w) {
			t.Errorf("%s: GreaterThanEq = %v", c.name, got)
		}
	}
}

func TestInWindowAcrossWrap(t *testing.T) {
	cases := []struct {
		v, first Value
		size     Size
		want     bool
	}{
		{5, 0, 10, true},
		{10, 0, 10, false},
		{0xffffffff, 0xfffffff0, 0x20, true},
		{0x0f, 0xfffffff0, 0x20, true},
		{0x10, 0xfffffff0, 0x20, false},
		{0xffffffef, 0xfffffff0, 0x20, false},
		{3, 3, 0, false},
	}
	for _, c := range cases {
		if got := c.v.InWindow(c.first, c.size); got != c.want {
			t.Errorf("%#x.InWindow(%#x, %d) = %v, want %v", c.v, c.first, c.size, got, c.want)
		}
	}
}

func TestArithmetic(t *testing.T) {
	v := Value(0xfffffffe)
	if got := v.Add(4); got != 2 {
		t.Fatalf("Add across wrap = %d, want 2", got)
	}
	if got := Value(2).Sub(v); got != 4 {
		t.Fatalf("Sub across wrap = %d, want 4", got)
	}
	if got := v.Size(2); got != 4 {
		t.Fatalf("Size across wrap = %d, want 4", got)
	}
	if got := Max(v, 2); got != 2 {
		t.Fatalf("Max across wrap = %d, want 2", got)
	}
	if got := Min(v, 2); got != v {
		t.Fatalf("Min across wrap = %d, want %d", got, v)
	}
}
