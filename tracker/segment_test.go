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
