package detect

import (
	"fmt"

	"github.com/wirestate/wirestate/tracker"
)

// middlebox reports RSTs made by something in the path (a firewall's
// "reject with tcp reset", an IPS, a load balancer) in the name of an
// endpoint: a RST whose IP TTL (IPv6 hop limit) differs from the steady
// TTL of the claimed sender's other segments (the tracker marks it
// tracker.KindRSTTTLMismatch). Every packet of one endpoint crosses the
// same routers to the capture point, so arrives with the same TTL; a RST
// made nearer (or farther) shows its maker's distance instead. The IP ID
// is shown, not judged: Linux sends a RST for a connection it has no
// socket for with IP ID 0, exactly as nftables does, so it tells nothing
// apart (docs/middlebox-reset.md has the evidence and the rules).
//
// The finding marks the connection tracker.ConnMiddleboxReset, once per
// connection, and the half-open, accept-queue-overflow-rst, scan and
// abortive-close detectors leave such a RST alone: its claimed sender did
// not send it, so it says nothing about what that endpoint holds.
type middlebox struct {
	nop
	env *Env
}

func newMiddlebox(env *Env) Unit { return &middlebox{env: env} }

// injected reports whether a's segment is a RST the tracker found with a
// TTL its claimed sender's packets do not have.
func injected(a *tracker.Analysis) bool { return a.Kind&tracker.KindRSTTTLMismatch != 0 }

// initialTTL guesses the TTL a packet that arrived with ttl was sent with:
// the smallest of the common initial values (64 for Linux, BSD and macOS,
// 128 for Windows, 255 for routers and many network appliances) not below
// it.
func initialTTL(ttl uint8) uint8 {
	switch {
	case ttl <= 64:
		return 64
	case ttl <= 128:
		return 128
	}
	return 255
}

// hops is the number of routers a packet that arrived with ttl crossed, if
// it was sent with initialTTL(ttl).
func hops(ttl uint8) int { return int(initialTTL(ttl)) - int(ttl) }

// distance says in words how far from the capture point something is whose
// packets arrive with ttl.
func distance(ttl uint8) string {
	switch n := hops(ttl); n {
	case 0:
		return "with no router between it and the capture point"
	case 1:
		return "1 hop from the capture point"
	default:
		return fmt.Sprintf("%d hops from the capture point", n)
	}
}

func (u *middlebox) Packet(a *tracker.Analysis) {
	if !injected(a) {
		return
	}
	seg, c, s := a.Seg, a.Conn, a.From
	if c.MiddleboxReset() {
		return // one finding per connection
	}
	c.Flags |= tracker.ConnMiddleboxReset
	claimed := c.Endpoint(s)
	own := c.Peers[s].TTL
	ttl := "TTL"
	id := fmt.Sprintf(", IP ID %d", seg.IPID)
	if c.Flags&tracker.ConnIPv6 != 0 {
		ttl, id = "hop limit", ""
	}
	accepted := "the receiver accepts it: it is in window"
	if a.Kind&tracker.KindRSTInWindow == 0 {
		accepted = "it is out of window, so the receiver ignores it"
	}
	f := &tracker.Finding{
		Severity: tracker.AnomMiddleboxReset.DefaultSeverity(), Time: seg.Time,
		Summary: fmt.Sprintf("RST injected by something %s, not sent by %s (%s): %s %d vs %d on its other packets. "+
			"A firewall, IPS or load balancer in the path reset the connection to %s; %s",
			distance(seg.TTL), claimed, distance(own), ttl, seg.TTL, own, c.Endpoint(s^1), accepted),
		Evidence: []tracker.Evidence{
			ev(seg, "RST in the name of %s (%s) with %s %d%s: made %s (if sent with %s %d)",
				claimed, sideName(s), ttl, seg.TTL, id, distance(seg.TTL), ttl, initialTTL(seg.TTL)),
			ev(seg, "%s's other packets arrive with %s %d: it is %s (if it sends with %s %d)",
				claimed, ttl, own, distance(own), ttl, initialTTL(own)),
		},
		Hint: "A device between the endpoints forged this RST: an nftables/iptables rule with `reject with tcp reset`, an IPS " +
			"signature, a load balancer or proxy, or a stateful firewall that forgot the flow (idle timeout). Its hop distance above " +
			"says where to look (traceroute from the capture point); the device's log names the rule. " +
			"The claimed sender never saw this RST, so it may still hold the connection unless the device reset it too.",
	}
	u.env.Emit(c, tracker.AnomMiddleboxReset, f)
}
