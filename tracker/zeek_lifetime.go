package tracker

// This file holds the Zeek mode's connection lifetime (Config.Zeek): the
// shard asks these functions, instead of its own TIME_WAIT and idle rules,
// whether a connection has ended before a packet, so that connections
// split where Zeek's timers and its port-reuse test split them
// (DEFINITIONS.md section 5). The timers themselves are kept per
// connection in History (history.go, zeekDue).

// zeekExpired reports whether Zeek would have removed c by time now.
func (sh *shard) zeekExpired(c *Conn, now int64) bool {
	_, due := c.Hist.zeekDue(c, now)
	return due
}

// zeekExpiryReason says why c leaves the table before a packet at now: the
// timer that removed it, or, when none did, port reuse (EndSuperseded).
func (sh *shard) zeekExpiryReason(c *Conn, now int64) EndReason {
	if r, due := c.Hist.zeekDue(c, now); due {
		return r
	}
	return EndSuperseded
}

// zeekReuse reports whether segment seg, which found c in the table, starts
// a new connection by Zeek's IsReuse test; Zeek then logs c and creates a
// new connection from seg.
func (sh *shard) zeekReuse(c *Conn, seg *Segment) bool { return c.Hist.isReuse(c, seg) }

// zeekBegin fixes Zeek's originator of the connection c that seg creates,
// with the configured likely server ports.
func (sh *shard) zeekBegin(c *Conn, seg *Segment) { c.Hist.begin(c, seg, sh.cfg.Zeek) }
