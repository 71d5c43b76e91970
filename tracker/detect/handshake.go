package detect

import (
	"fmt"
	"strings"
	"time"

	"github.com/wirestate/wirestate/tracker"
)

// maxAttempts bounds the SYN and SYN-ACK attempts remembered per connection.
const maxAttempts = 12

// attempt is one packet of a repeated SYN or SYN-ACK.
type attempt struct {
	t int64
	f uint64
}

// attempts remembers the packets of a repeated SYN or SYN-ACK: the first
// inline, the rest in storage allocated only when there is a second (most
// connections never retransmit, and a flood has a million of them).
type attempts struct {
	n     int
	first attempt
	rest  *[maxAttempts - 1]attempt
}

func (a *attempts) add(seg *tracker.Segment) {
	switch {
	case a.n == 0:
		a.first = attempt{seg.Time, seg.Frame}
	case a.n < maxAttempts:
		if a.rest == nil {
			a.rest = new([maxAttempts - 1]attempt)
		}
		a.rest[a.n-1] = attempt{seg.Time, seg.Frame}
	}
	a.n++
}

// at returns attempt i (0-based, below min(n, maxAttempts)).
func (a *attempts) at(i int) (int64, uint64) {
	if i == 0 {
		return a.first.t, a.first.f
	}
	return a.rest[i-1].t, a.rest[i-1].f
}

func (a *attempts) last() (int64, uint64) { return a.at(min(a.n, maxAttempts) - 1) }

// intervals formats the gaps between attempts, for example "1.0s, 1.0s, 2.0s".
func (a *attempts) intervals() string {
	var parts []string
	prev, _ := a.at(0)
	for i := 1; i < min(a.n, maxAttempts); i++ {
		t, _ := a.at(i)
		parts = append(parts, secs(t-prev))
		prev = t
	}
	return strings.Join(parts, ", ")
}

func (a *attempts) evidence(what string) []tracker.Evidence {
	k := min(a.n, maxAttempts)
	out := make([]tracker.Evidence, 0, k)
	t0, _ := a.at(0)
	for i := 0; i < k; i++ {
		t, f := a.at(i)
		w := what
		if i > 0 {
			w = fmt.Sprintf("%s, attempt %d, %s after the first", what, i+1, secs(t-t0))
		}
		out = append(out, tracker.Evidence{Time: t, Frame: f, What: w})
	}
	return out
}

// hsNotes is what the handshake unit remembers of one connection until its
// handshake is settled.
type hsNotes struct {
	syn, synack attempts
	// ack is the originator's first ACK of the SYN-ACK.
	ackTime  int64
	ackFrame uint64
	// dataFrame is the originator's first data segment.
	dataFrame uint64
	dataTime  int64
	// dropAfter counts SYN-ACKs retransmitted after the ACK was seen.
	dropAfter      int
	dropFirstFrame uint64
	dropFirstTime  int64
	origRetrans    int
	// synReported is set once syn-unanswered was reported (live mode
	// reports it while the client is still retrying).
	synReported bool
	// origAborted is set when the originator answered the SYN-ACK with a
	// RST or a FIN instead of completing the handshake: what follows is
	// no handshake (scan).
	origAborted bool
}

// handshake watches connection set-up: syn-unanswered, connection-refused,
// accept-queue-overflow-rst, accept-queue-overflow-drop and
// synack-unanswered.
type handshake struct {
	nop
	env   *Env
	notes noteMap[hsNotes]
}

func newHandshake(env *Env) Unit {
	return &handshake{env: env, notes: newNotes[hsNotes](watchHandshake)}
}

func (h *handshake) Packet(a *tracker.Analysis) {
	seg, c := a.Seg, a.Conn
	n := h.notes.get(c)
	if n == nil {
		if a.Kind&tracker.KindNewConn == 0 || seg.Flags&tracker.FlagSYN == 0 || a.Kind&tracker.KindPrevIncarnation != 0 {
			return
		}
		n = h.notes.add(c)
	}
	f := seg.Flags
	switch {
	case a.From == tracker.Orig && f&(tracker.FlagSYN|tracker.FlagACK|tracker.FlagRST) == tracker.FlagSYN:
		n.syn.add(seg)
		if h.env.Cfg.Live && n.synack.n == 0 && n.syn.n == 3 {
			// Live: the third attempt is evidence enough; report it
			// while it is happening rather than when it ends.
			h.synUnanswered(c, n, "still retrying as this is reported (live capture)", seg)
		}
	case a.From == tracker.Resp && f&(tracker.FlagSYN|tracker.FlagACK) == tracker.FlagSYN|tracker.FlagACK:
		if n.synack.n == 0 && n.syn.n > 1 {
			h.synUnanswered(c, n, fmt.Sprintf("answered late: SYN-ACK (frame %d) after %d attempts", seg.Frame, n.syn.n), seg)
		}
		n.synack.add(seg)
		if n.ackFrame != 0 && a.Kind&tracker.KindSYNACKRetransmission != 0 {
			// The originator's ACK was seen, yet the listener sends the
			// SYN-ACK again: it never took the ACK.
			if n.dropAfter == 0 {
				n.dropFirstFrame, n.dropFirstTime = seg.Frame, seg.Time
			}
			n.dropAfter++
		}
	case a.From == tracker.Orig && n.syn.n == 1 && n.synack.n > 0 && n.ackFrame == 0 && !n.origAborted && !injected(a) &&
		(f&tracker.FlagRST != 0 && f&tracker.FlagACK == 0 || f&(tracker.FlagFIN|tracker.FlagSYN) == tracker.FlagFIN):
		h.scan(c, n, seg)
	case a.From == tracker.Orig && n.synack.n > 0 && f&tracker.FlagRST == 0 && f&tracker.FlagSYN == 0:
		if n.ackFrame == 0 && !n.origAborted && f&tracker.FlagACK != 0 && seg.Ack.GreaterThan(c.Peers[tracker.Resp].ISN) {
			n.ackTime, n.ackFrame = seg.Time, seg.Frame
		}
		if seg.PayloadLen > 0 && n.dataFrame == 0 {
			n.dataFrame, n.dataTime = seg.Frame, seg.Time
		}
		if a.Kind&tracker.KindRetransmission != 0 {
			n.origRetrans++
		}
	case a.From == tracker.Resp && f&tracker.FlagRST != 0:
		if !injected(a) {
			// A middlebox's RST says nothing of the listener's queue.
			h.respRST(c, n, seg)
		}
		h.notes.del(c, n)
	case a.From == tracker.Resp && f&tracker.FlagSYN == 0:
		// The listener sent an ordinary segment: the handshake is over
		// and the connection was accepted.
		if n.dropAfter > 0 {
			h.acceptDrop(c, n, fmt.Sprintf("the listener finally took the connection (frame %d, %s after the handshake ACK)", seg.Frame, secs(seg.Time-n.ackTime)), seg)
		}
		h.notes.del(c, n)
	case a.From == tracker.Orig && f&tracker.FlagRST != 0:
		if n.syn.n > 1 && n.synack.n == 0 {
			h.synUnanswered(c, n, fmt.Sprintf("the client gave up and reset (frame %d)", seg.Frame), seg)
			n.syn = attempts{}
		}
		if n.dropAfter > 0 {
			h.acceptDrop(c, n, fmt.Sprintf("the client gave up and reset the connection (frame %d)", seg.Frame), seg)
			n.dropAfter = 0
		}
	}
}

// scan reports a handshake no real client makes (RFC 9293 3.5, 3.10.7.3):
// the originator of a single SYN answers the SYN-ACK with a bare RST (a
// client that retried its SYN and gave up is syn-unanswered's business), as the kernel of a
// host does for a SYN-ACK it has no socket for (the SYN came from a
// stateless scanner's raw socket, masscan or zmap, or was spoofed), or
// completes the handshake with a FIN, as crafted probes do. Later segments
// of the 4-tuple (a scanner's banner grab, the listener's RST to it) are
// then no handshake of their own.
func (h *handshake) scan(c *tracker.Conn, n *hsNotes, seg *tracker.Segment) {
	n.origAborted = true
	first, firstFrame := n.syn.first.t, n.syn.first.f
	what := "answered the SYN-ACK with a bare RST: its own host had no socket for the SYN (a stateless scanner, or a spoofed SYN)"
	if seg.Flags&tracker.FlagRST == 0 {
		what = "completed the handshake with a FIN: a crafted probe, not a client's connect()"
	}
	f := &tracker.Finding{
		Severity: tracker.AnomScan.DefaultSeverity(), Time: seg.Time,
		Summary: fmt.Sprintf("%s %s", c.Orig, what),
		Evidence: []tracker.Evidence{{Time: first, Frame: firstFrame, What: "SYN"},
			{Time: n.synack.first.t, Frame: n.synack.first.f, What: "SYN-ACK"}, ev(seg, "%s from the client", tracker.FlagString(seg.Flags))},
		Hint: "Background scanning of internet-facing services: nothing to fix on the server. Rate-limit or drop the sources " +
			"at the edge if they are many, and keep SYN cookies on (net.ipv4.tcp_syncookies=1).",
	}
	h.env.Emit(c, tracker.AnomScan, f)
}

// respRST handles a RST from the responder during the handshake phase.
func (h *handshake) respRST(c *tracker.Conn, n *hsNotes, seg *tracker.Segment) {
	resp := &c.Peers[tracker.Resp]
	switch {
	case n.synack.n == 0 && n.syn.n > 0:
		// RFC 793 3.4: a SYN to a port with no listener is answered by a
		// RST (Linux sends RST,ACK acknowledging the SYN).
		if n.syn.n > 1 {
			h.synUnanswered(c, n, fmt.Sprintf("refused: RST (frame %d)", seg.Frame), seg)
		}
		last, lastFrame := n.syn.last()
		f := &tracker.Finding{
			Severity: tracker.AnomConnectionRefused.DefaultSeverity(), Time: seg.Time,
			Summary: fmt.Sprintf("SYN to %s answered by RST %s later: nothing listens on that port, or a firewall rejects with a TCP reset", c.Resp, secs(seg.Time-last)),
			Evidence: []tracker.Evidence{
				{Time: last, Frame: lastFrame, What: "SYN"},
				ev(seg, "RST from %s", c.Resp),
			},
			Hint: "Check that the service is running and listening on that address and port (`ss -lnt` on the server); " +
				"if it is, look for an nftables/iptables rule with `reject with tcp reset` on the path.",
		}
		h.env.Emit(c, tracker.AnomConnectionRefused, f)
	case n.synack.n > 0 && n.ackFrame != 0 && !n.origAborted && resp.Bytes == 0 && resp.Pkts == uint32(n.synack.n)+1 &&
		!acksPeerData(c, tracker.Resp, seg) && seg.Time-n.ackTime <= overflowRSTDelay(n):
		// The listener answered the SYN, the client completed the
		// handshake, and the listener reset it at once without sending
		// or acknowledging anything: with tcp_abort_on_overflow=1 Linux
		// answers the ACK that finds the accept queue full with a bare
		// RST (no ACK bit, seq = the ACK's ack). A RST that acknowledges
		// client data comes from an established socket (an application
		// abort, see abort in close.go), and one long after the ACK
		// answers something else (a scanner's late data, a stray FIN).
		f := &tracker.Finding{
			Severity: tracker.AnomAcceptQueueOverflowRST.DefaultSeverity(), Time: seg.Time,
			Summary: fmt.Sprintf("%s reset the connection %s after the client's handshake ACK, before sending anything: its accept queue was full and tcp_abort_on_overflow=1", c.Resp, secs(seg.Time-n.ackTime)),
			Evidence: []tracker.Evidence{
				{Time: n.syn.first.t, Frame: n.syn.first.f, What: "SYN"},
				{Time: n.synack.first.t, Frame: n.synack.first.f, What: "SYN-ACK"},
				{Time: n.ackTime, Frame: n.ackFrame, What: "client's ACK completes the handshake; the client is ESTABLISHED"},
			},
			Hint: acceptQueueHint,
		}
		if n.syn.n == 0 {
			f.Evidence = f.Evidence[1:]
		}
		if n.dataFrame != 0 {
			f.Evidence = append(f.Evidence, tracker.Evidence{Time: n.dataTime, Frame: n.dataFrame, What: "client sends data it believes will be read"})
		}
		f.Evidence = append(f.Evidence, ev(seg, "RST from the listener"))
		h.env.Emit(c, tracker.AnomAcceptQueueOverflowRST, f)
	}
	if n.dropAfter > 0 {
		h.acceptDrop(c, n, fmt.Sprintf("the listener gave up and reset the connection (frame %d)", seg.Frame), seg)
	}
}

// overflowRSTWindow is the longest a listener's RST may follow, at the
// capture point, the client's ACK that completed the handshake and still be
// reported as accept-queue-overflow-rst. Linux sends that RST from the
// softirq that processes the ACK (tcp_check_req with tcp_abort_on_overflow=1),
// so near the listener it follows within microseconds; 10 ms leaves room for
// a loaded host. Captured near the client the RST also takes the path back:
// overflowRSTDelay adds the SYN to SYN-ACK time seen at the capture point.
const overflowRSTWindow = 10 * time.Millisecond

// overflowRSTDelay is how long after the handshake ACK a RST can be the
// kernel's answer to it: overflowRSTWindow plus the time from the last SYN
// to the first SYN-ACK at the capture point (about a round trip near the
// client, about nothing near the listener).
func overflowRSTDelay(n *hsNotes) int64 {
	d := int64(overflowRSTWindow)
	if n.syn.n > 0 {
		last, _ := n.syn.last()
		if rtt := n.synack.first.t - last; rtt > 0 {
			d += rtt
		}
	}
	return d
}

// acksPeerData reports whether seg, sent by side s, acknowledges anything
// the other side sent after its SYN (data or a FIN): only an endpoint that
// took the connection does, so such a RST is not a handshake-phase reset.
func acksPeerData(c *tracker.Conn, s tracker.Side, seg *tracker.Segment) bool {
	return seg.Flags&tracker.FlagACK != 0 && seg.Ack.GreaterThan(c.Peers[s^1].ISN.Add(1))
}

const acceptQueueHint = "The accept queue holds min(listen backlog, net.core.somaxconn) connections. " +
	"Compare Recv-Q with Send-Q of the listener in `ss -lnt`, and watch `nstat -az TcpExtListenOverflows TcpExtListenDrops`. " +
	"Raise net.core.somaxconn and the backlog the application passes to listen(), or make the application accept() faster."

// synUnanswered reports an originator that retransmitted its SYN, once per
// connection.
func (h *handshake) synUnanswered(c *tracker.Conn, n *hsNotes, ending string, at *tracker.Segment) {
	if n.synReported {
		return
	}
	n.synReported = true
	f := &tracker.Finding{
		Severity: tracker.AnomSYNUnanswered.DefaultSeverity(), Time: n.syn.first.t,
		Summary: fmt.Sprintf("%s sent its SYN %s with no SYN-ACK (intervals %s); %s",
			c.Orig, times(n.syn.n), n.syn.intervals(), ending),
		Evidence: n.syn.evidence("SYN"),
		Hint: "Unanswered SYNs mean the server is down or unreachable, a firewall drops them, or its SYN queue is full " +
			"(`nstat -az TcpExtListenDrops` on the server). Linux retries net.ipv4.tcp_syn_retries times (default 6, about 2 minutes; " +
			"the first net.ipv4.tcp_syn_linear_timeouts retries 1 s apart on recent kernels): lower it for faster failure.",
	}
	h.env.Emit(c, tracker.AnomSYNUnanswered, f)
}

// acceptDrop reports SYN-ACKs retransmitted after the handshake ACK.
func (h *handshake) acceptDrop(c *tracker.Conn, n *hsNotes, ending string, at *tracker.Segment) {
	f := &tracker.Finding{
		Severity: tracker.AnomAcceptQueueOverflowDrop.DefaultSeverity(), Time: n.dropFirstTime,
		Summary: fmt.Sprintf("%s retransmitted its SYN-ACK %s after the client's ACK was seen: its accept queue was full "+
			"(tcp_abort_on_overflow=0) and it dropped the ACK. The client believes it is ESTABLISHED while the server holds SYN_RECEIVED; "+
			"client data retransmitted %s; %s", c.Resp, times(n.dropAfter), times(n.origRetrans), ending),
		Evidence: []tracker.Evidence{
			{Time: n.synack.first.t, Frame: n.synack.first.f, What: "SYN-ACK"},
			{Time: n.ackTime, Frame: n.ackFrame, What: "client's ACK completes the handshake on the client's side"},
		},
		Hint: acceptQueueHint,
	}
	if n.dataFrame != 0 {
		f.Evidence = append(f.Evidence, tracker.Evidence{Time: n.dataTime, Frame: n.dataFrame, What: "client data the server does not acknowledge"})
	}
	f.Evidence = append(f.Evidence,
		tracker.Evidence{Time: n.dropFirstTime, Frame: n.dropFirstFrame, What: "SYN-ACK retransmitted after the ACK: the server is still in SYN_RECEIVED"},
		ev(at, "%s", ending))
	// Seen from the client's side, the ACK could also have been lost on
	// the way to the server. Near the server, the SYN-ACK follows the SYN
	// at once while the ACK takes a round trip.
	if n.syn.n > 0 && n.synack.first.t-n.syn.first.t > n.ackTime-n.synack.first.t {
		f.Uncertain = true
		f.Summary += " (captured near the client: the ACK may also have been lost between the capture point and the server)"
	}
	h.env.Emit(c, tracker.AnomAcceptQueueOverflowDrop, f)
}

func (h *handshake) Finish(c *tracker.Conn, reason tracker.EndReason) {
	n := h.notes.get(c)
	if n == nil {
		return
	}
	h.notes.del(c, n)
	end := &tracker.Segment{Time: h.env.Now}
	switch {
	case n.syn.n > 1 && n.synack.n == 0:
		last, _ := n.syn.last()
		gap := int64(0)
		if n.syn.n > 1 {
			k := min(n.syn.n, maxAttempts)
			t1, _ := n.syn.at(k - 1)
			t0, _ := n.syn.at(k - 2)
			gap = t1 - t0
		}
		ending := fmt.Sprintf("still waiting at the end of the capture (%s after the last attempt)", secs(h.env.Now-last))
		if reason == tracker.EndIdle || h.env.Now-last > 2*gap+3e9 {
			ending = fmt.Sprintf("no further attempt in the %s after the last: the client gave up (tcp_syn_retries exhausted, or the application timed out)", secs(h.env.Now-last))
		}
		h.synUnanswered(c, n, ending, end)
	case n.dropAfter > 0:
		h.acceptDrop(c, n, "the server never took the connection before the capture ended", end)
	}
}
