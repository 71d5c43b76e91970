package report

import (
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
)

// TestAppendSeconds checks the integer formatting against the float
// formatting it replaces, on edge cases and on random durations.
func TestAppendSeconds(t *testing.T) {
	cases := []int64{0, 1, 499, 500, 501, 999, 1000, 1499, 1500, 1501, 999999499, 999999500, 999999501,
		1e9, 1e9 + 500, 2500, 3500, 12345678901, 1e15 - 1, 1e15, 1e15 + 500, 1 << 62, -1, -1500, -2e9}
	r := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		cases = append(cases, r.Int64N(1e12), r.Int64N(1e6)*1000+500, r.Int64N(2e15))
	}
	for _, ns := range cases {
		want := strconv.FormatFloat(float64(ns)/1e9, 'f', 6, 64)
		if got := string(appendSeconds([]byte("x"), ns)); got != "x"+want {
			t.Fatalf("appendSeconds(%d) = %q, want %q", ns, got, "x"+want)
		}
	}
	buf := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() { buf = appendSeconds(buf[:0], 12345678901) }); n != 0 {
		t.Errorf("appendSeconds allocates %v times per call", n)
	}
}

// TestStamper checks the cached formatting against time.Format, in UTC
// and in a zone with daylight saving time (whose clock jumps inside a
// cached second's neighbourhood), over sorted and unsorted times.
func TestStamper(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatalf("no time zone data: %v", err)
	}
	dst := time.Date(2026, 3, 8, 6, 59, 59, 999999999, time.UTC).UnixNano() // 01:59:59.999999999 EST, then 03:00 EDT
	cases := []int64{0, 1, 999, 1000, 1e9 - 1, 1e9, dst - 1, dst, dst + 1, dst + 2, dst + 1e9, -1, -1500, -1e9 - 1,
		1700000000123456789, 1700000000123456789, 1700000000999999999, 1700000001000000000, 253402300799999999999 / 1000}
	r := rand.New(rand.NewPCG(3, 4))
	ns := int64(1.7e18)
	for range 20000 {
		ns += r.Int64N(2e8) // sorted, several to a second
		cases = append(cases, ns, r.Int64N(1<<62))
	}
	for _, loc := range []*time.Location{time.UTC, ny} {
		s := stamper{local: loc != time.UTC}
		saved := time.Local
		time.Local = loc
		for _, ns := range cases {
			want := "-"
			if ns != 0 {
				want = time.Unix(0, ns).In(loc).Format(stampLayout)
			}
			if got := string(s.append([]byte("x"), ns)); got != "x"+want {
				time.Local = saved
				t.Fatalf("%s: stamper.append(%d) = %q, want %q", loc, ns, got, "x"+want)
			}
		}
		time.Local = saved
	}
	s := stamper{}
	buf := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() { buf = s.append(buf[:0], 1700000000123456789) }); n != 0 {
		t.Errorf("stamper.append allocates %v times per call in the same second", n)
	}
}
