package detect

import "github.com/wirestate/wirestate/tracker"

// Watch bits of the detectors that keep per-connection notes.
const (
	watchHandshake uint = iota
	watchLostFinalACK
	watchCloseWait
	watchHalfOpen
	watchFlow
)

// noteMap holds one detector's notes on connections. A watch bit on the
// connection says whether it has notes, so the packets of connections a
// detector does not track cost it no map lookup.
type noteMap[T any] struct {
	bit uint
	m   map[*tracker.Conn]*T
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

// put stores notes v for c.
func (n *noteMap[T]) put(c *tracker.Conn, v *T) {
	c.SetWatch(n.bit)
	n.m[c] = v
}

// del forgets c's notes.
func (n *noteMap[T]) del(c *tracker.Conn) {
	if c.Watching(n.bit) {
		c.ClearWatch(n.bit)
		delete(n.m, c)
	}
}
