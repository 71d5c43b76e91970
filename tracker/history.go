package tracker

// History is per-connection bookkeeping for Zeek's conn.log "history" and
// "conn_state" columns. It is kept beside wirestate's own RFC 793 states so
// that the Zeek view can be logged without a second pass.
type History struct {
	// Letters holds the history letters recorded so far, N of them.
	Letters [15]byte
	N       uint8
}

// String returns the history as Zeek logs it.
func (h *History) String() string { return string(h.Letters[:h.N]) }

// observe records the history letters segment seg from side s adds.
func (h *History) observe(c *Conn, seg *Segment, s Side) {}
