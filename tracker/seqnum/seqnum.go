// Package seqnum implements TCP sequence-number arithmetic that is safe across
// the 2^32 wraparound (RFC 793 section 3.3, RFC 1982 serial-number arithmetic).
//
// Every comparison of sequence or acknowledgement numbers in wirestate goes
// through this package; comparing raw uint32 values is a bug near the wrap.
package seqnum

// Value is a TCP sequence or acknowledgement number.
type Value uint32

// Size is a distance in sequence space, such as a segment length or a window.
type Size uint32

// LessThan reports whether v comes before w in sequence space.
func (v Value) LessThan(w Value) bool { return int32(v-w) < 0 }

// LessThanEq reports whether v comes before w or equals it.
func (v Value) LessThanEq(w Value) bool { return v == w || v.LessThan(w) }

// GreaterThan reports whether v comes after w in sequence space.
func (v Value) GreaterThan(w Value) bool { return int32(v-w) > 0 }

// GreaterThanEq reports whether v comes after w or equals it.
func (v Value) GreaterThanEq(w Value) bool { return v == w || v.GreaterThan(w) }

// InRange reports whether v lies in the half-open interval [a, b).
func (v Value) InRange(a, b Value) bool { return v-a < b-a }

// InWindow reports whether v lies in the window [first, first+size).
func (v Value) InWindow(first Value, size Size) bool { return v.InRange(first, first.Add(size)) }

// Add returns v advanced by s.
func (v Value) Add(s Size) Value { return v + Value(s) }

// Sub returns the signed distance from w to v: positive when v is after w.
func (v Value) Sub(w Value) int32 { return int32(v - w) }

// Size returns the distance from v forward to w.
func (v Value) Size(w Value) Size { return Size(w - v) }

// Max returns whichever of v and w comes later in sequence space.
func Max(v, w Value) Value {
	if v.LessThan(w) {
		return w
	}
	return v
}

// Min returns whichever of v and w comes earlier in sequence space.
func Min(v, w Value) Value {
	if v.LessThan(w) {
		return v
	}
	return w
}
