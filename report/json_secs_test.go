package report

import "testing"

func TestAppendSecs(t *testing.T) {
	for _, tc := range []struct {
		ns   int64
		want string
	}{
		{0, "0.000000"},
		{1, "0.000000"},
		{1500, "0.000001"},
		{1.5e9, "1.500000"},
		{1700000000123456789, "1700000000.123456"},
		{-2500000, "-0.002500"},
		{999999999, "0.999999"},
		{123456789, "0.123456"},
		{10000, "0.000010"},
		{1e9, "1.000000"},
	} {
		if got := string(appendSecs([]byte("x"), tc.ns)); got != "x"+tc.want {
			t.Errorf("appendSecs(%d) = %q, want %q", tc.ns, got, "x"+tc.want)
		}
	}
	buf := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() { buf = appendSecs(buf[:0], 1700000000123456789) }); n != 0 {
		t.Errorf("appendSecs allocates %v times per call", n)
	}
}
