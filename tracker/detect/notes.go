package detect

import "github.com/wirestate/wirestate/tracker"

// Watch bits of the detectors that keep per-connection notes.
const (
	watchHandshake uint = iota
	watchLostFinalACK
	watchCloseWait
	watchHalfOpen
	watchFlow
	watchStale
)

// noteMap holds one detector's notes on connections. A watch bit on the
// connection says whether it has notes, so the packets of connections a
// detector does not track cost it no map lookup. Released notes are kept
// for reuse: most connections pass through a detector's notes (every
// handshake, every passive close), and reused notes cost no allocation
// and are warm in the cache.
type noteMap[T any] struct {
	bit  uint
	m    map[*tracker.Conn]*T
	free []*T
}

func newNotes[T any](bit uint) noteMap[T] {
	return noteMap[T]{bit: bit, m: map[*tracker.Conn]*T{}}
}

// get returns c's notes, or nil.
func (n *noteMap[T]) get(c *tracker.Conn) *T {
	if !c.Watching(n.bit) {
		return nil
	}
	return n.m[c]
}

// add returns new zeroed notes for c, which must have none.
func (n *noteMap[T]) add(c *tracker.Conn) *T {
	var v *T
	if k := len(n.free); k > 0 {
		v = n.free[k-1]
		n.free = n.free[:k-1]
		var zero T
		*v = zero
	} else {
		v = new(T)
	}
	c.SetWatch(n.bit)
	n.m[c] = v
	return v
}

// del forgets c's notes v (as get returned them). They stay readable
// until the detector next calls add, so a caller may release them first
// and then report from them.
func (n *noteMap[T]) del(c *tracker.Conn, v *T) {
	if !c.Watching(n.bit) {
		return // already forgotten: v must not be freed twice
	}
	c.ClearWatch(n.bit)
	delete(n.m, c)
	n.free = append(n.free, v)
}
