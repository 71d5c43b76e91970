package communityid

import (
	"net/netip"
	"testing"
)

// The rows are the TCP, UDP and SCTP flows of the spec's baseline
// (community-id-spec/baseline/baseline_deflt.json and baseline_seed1.json),
// each in both directions.
var vectors = []struct {
	proto        uint8
	saddr, daddr string
	sport, dport uint16
	seed0, seed1 string
}{
	{6, "128.232.110.120", "66.35.250.204", 34855, 80, "1:LQU9qZlK+B5F3KDmev6m5PMibrg=", "1:3V71V58M3Ksw/yuFALMcW0LAHvc="},
	{6, "66.35.250.204", "128.232.110.120", 80, 34855, "1:LQU9qZlK+B5F3KDmev6m5PMibrg=", "1:3V71V58M3Ksw/yuFALMcW0LAHvc="},
	{6, "2001:470:e5bf:dead:4957:2174:e82c:4887", "2607:f8b0:400c:c03::1a", 63943, 25, "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=", "1:eJYTW6AOzFLlSUoESovMjnu7rMw="},
	{6, "2607:f8b0:400c:c03::1a", "2001:470:e5bf:dead:4957:2174:e82c:4887", 25, 63943, "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=", "1:eJYTW6AOzFLlSUoESovMjnu7rMw="},
	{17, "192.168.1.52", "8.8.8.8", 54585, 53, "1:d/FP5EW3wiY1vCndhwleRRKHowQ=", "1:Q9We8WO3piVF8yEQBNJF4uiSVrI="},
	{17, "8.8.8.8", "192.168.1.52", 53, 54585, "1:d/FP5EW3wiY1vCndhwleRRKHowQ=", "1:Q9We8WO3piVF8yEQBNJF4uiSVrI="},
	// Equal addresses: the ports decide the order.
	{132, "192.168.170.8", "192.168.170.56", 7, 7, "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs=", "1:5w3ZRjeKBzqT3zsaEECDGjUbYeg="},
	{132, "192.168.170.56", "192.168.170.8", 7, 7, "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs=", "1:5w3ZRjeKBzqT3zsaEECDGjUbYeg="},
	// ICMP as the spec maps it to ports (type 8, counter-type 0).
	{1, "192.168.0.89", "192.168.0.1", 8, 0, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=", "1:03g6IloqVBdcZlPyX8r0hgoE7kA="},
	{58, "fe80::200:86ff:fe05:80da", "fe80::260:97ff:fe07:69ea", 135, 136, "1:dGHyGvjMfljg6Bppwm3bg0LO8TY=", "1:kHa1FhMYIT6Ym2Vm2AOtoOARDzY="},
}

func TestBaseline(t *testing.T) {
	for _, v := range vectors {
		s, d := netip.MustParseAddr(v.saddr).AsSlice(), netip.MustParseAddr(v.daddr).AsSlice()
		for seed, want := range map[uint16]string{0: v.seed0, 1: v.seed1} {
			got := string(Append(nil, seed, v.proto, s, v.sport, d, v.dport))
			if got != want {
				t.Errorf("%d %s:%d -> %s:%d seed %d: got %s, want %s", v.proto, v.saddr, v.sport, v.daddr, v.dport, seed, got, want)
			}
			if len(got) != Len {
				t.Errorf("length %d, want %d", len(got), Len)
			}
		}
	}
}

func TestBadAddresses(t *testing.T) {
	for _, c := range []struct{ s, d []byte }{
		{make([]byte, 4), make([]byte, 16)},
		{make([]byte, 3), make([]byte, 3)},
		{nil, nil},
	} {
		if got := Append([]byte("x"), 0, ProtoTCP, c.s, 1, c.d, 2); string(got) != "x" {
			t.Errorf("%d/%d-byte addresses: got %q, want the buffer unchanged", len(c.s), len(c.d), got)
		}
	}
}

func TestAppendAllocatesNothing(t *testing.T) {
	s, d := []byte{10, 0, 0, 1}, []byte{10, 0, 0, 2}
	buf := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() { buf = Append(buf[:0], 0, ProtoTCP, s, 1234, d, 80) }); n != 0 {
		t.Errorf("Append allocates %.0f times per call", n)
	}
}

func BenchmarkAppend(b *testing.B) {
	s := netip.MustParseAddr("2001:db8::1").AsSlice()
	d := netip.MustParseAddr("2001:db8::2").AsSlice()
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf = Append(buf[:0], 0, ProtoTCP, s, 443, d, 50000)
	}
}
