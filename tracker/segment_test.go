package tracker

import (
	"net/netip"
	"testing"
)

// TestAddrFrom4 checks the IPv4-mapped form against net/netip's.
func TestAddrFrom4(t *testing.T) {
	for _, b := range [][4]byte{{0, 0, 0, 0}, {10, 0, 0, 1}, {192, 168, 255, 254}, {255, 255, 255, 255}, {1, 2, 3, 4}} {
		want := netip.AddrFrom16(netip.AddrFrom4(b).As16()).As16()
		if got := AddrFrom4(b); got != Addr(want) {
			t.Errorf("AddrFrom4(%v) = %x, want %x", b, got, want)
		}
	}
}

// TestAppendAnomalyNames checks the appended names against AnomalyNames,
// with and without something before them.
func TestAppendAnomalyNames(t *testing.T) {
	var c Conn
	if got := string(c.AppendAnomalyNames([]byte("x"), 1, ", ")); got != "x" {
		t.Errorf("no anomalies: %q", got)
	}
	c.Mark(AnomPortReuse)
	c.Mark(AnomStaleSegment)
	names := c.AnomalyNames()
	if len(names) != 2 {
		t.Fatalf("AnomalyNames = %v", names)
	}
	if got, want := string(c.AppendAnomalyNames([]byte("x"), 1, ", ")), "x"+names[0]+", "+names[1]; got != want {
		t.Errorf("after nothing new: %q, want %q", got, want)
	}
	if got, want := string(c.AppendAnomalyNames([]byte("x"), 0, ", ")), "x, "+names[0]+", "+names[1]; got != want {
		t.Errorf("after a note: %q, want %q", got, want)
	}
}
