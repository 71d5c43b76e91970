package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/wirestate/wirestate/pcaps/manifest"
)

// The lab's addresses.
var (
	cli4 = netip.MustParseAddr("10.77.0.1")
	srv4 = netip.MustParseAddr("10.77.0.2")
	cli6 = netip.MustParseAddr("fd77::1")
	srv6 = netip.MustParseAddr("fd77::2")
)

// capture is one recorded scenario, for the packet-level checks.
type capture struct {
	name string
	dir  string // where the capture was read from (for checks that compare captures)
	info *pcapInfo
	pkts []*packet
}

func (c *capture) fromCli(p *packet) bool { a := p.src.Addr(); return a == cli4 || a == cli6 }
func (c *capture) fromSrv(p *packet) bool { a := p.src.Addr(); return a == srv4 || a == srv6 }

// first returns the first packet at or after index i matching f.
func (c *capture) first(i int, f func(*packet) bool) (*packet, int) {
	for ; i < len(c.pkts); i++ {
		if f(c.pkts[i]) {
			return c.pkts[i], i
		}
	}
	return nil, -1
}

func (c *capture) count(f func(*packet) bool) int {
	n := 0
	for _, p := range c.pkts {
		if f(p) {
			n++
		}
	}
	return n
}

func and(fs ...func(*packet) bool) func(*packet) bool {
	return func(p *packet) bool {
		for _, f := range fs {
			if !f(p) {
				return false
			}
		}
		return true
	}
}

func flags(set uint8) func(*packet) bool { return func(p *packet) bool { return p.has(set) } }
func noFlags(clear uint8) func(*packet) bool {
	return func(p *packet) bool { return p.flags&clear == 0 }
}
func port(n uint16) func(*packet) bool {
	return func(p *packet) bool { return p.src.Port() == n || p.dst.Port() == n }
}
func data(p *packet) bool { return p.paylen > 0 }

// checks are the scenario-specific packet-level assertions: what the
// manifest claims, verified on the packets themselves.
var checks = map[string]func(*capture, *errf){
	"client-close":                  checkActiveCloser(true),
	"server-close":                  checkActiveCloser(false),
	"ipv6":                          checkAll(checkActiveCloser(true), checkIPv6),
	"syn-retransmit":                checkAll(checkActiveCloser(true), checkSynRetransmit),
	"snaplen96":                     checkAll(checkActiveCloser(true), checkSnaplen96),
	"keepalive":                     checkAll(checkActiveCloser(true), checkKeepalive),
	"midstream":                     checkAll(checkActiveCloser(true), checkMidstream),
	"simultaneous-close":            checkSimultaneous,
	"half-close":                    checkAll(checkActiveCloser(true), checkHalfClose),
	"linger0-abort":                 checkLinger0,
	"refused":                       checkRefused,
	"lost-final-ack":                checkAll(checkActiveCloser(true), checkLostFinalACK),
	"accept-queue-overflow-rst":     checkOverflowRST,
	"accept-queue-overflow-drop":    checkOverflowDrop,
	"syn-unanswered":                checkSynUnanswered,
	"syn-flood":                     checkSynFlood,
	"close-wait-stuck":              checkCloseWait,
	"half-open":                     checkHalfOpen,
	"port-reuse":                    checkPortReuse,
	"stale-segment":                 checkStale,
	"abortive-close-server":         checkAbortMany,
	"zero-window":                   checkAll(checkActiveCloser(true), checkZeroWindow),
	"app-abort-after-request":       checkAppAbort,
	"tw-reuse":                      checkTWReuse,
	"accept-queue-overflow-rst-v6":  checkAll(checkIPv6, checkOverflowRST),
	"accept-queue-overflow-drop-v6": checkAll(checkIPv6, checkOverflowDrop),
	"both-sides-client":             checkAll(checkActiveCloser(true), checkBothSides("both-sides-server")),
	"both-sides-server":             checkAll(checkActiveCloser(true), checkBothSides("both-sides-client")),
	"mixed":                         checkMixed,
	"middlebox-reset-client":        checkMiddlebox(false),
	"middlebox-reset-server":        checkMiddlebox(true),
	"middlebox-reset-v6":            checkAll(checkIPv6, checkMiddlebox(false)),
}

func checkAll(fs ...func(*capture, *errf)) func(*capture, *errf) {
	return func(c *capture, e *errf) {
		for _, f := range fs {
			f(c, e)
		}
	}
}

// checkCommon holds for every capture: TCP only, wire-sized segments
// (offloads off) and valid checksums.
func checkCommon(c *capture, e *errf) {
	if len(c.pkts) == 0 {
		e.add("no packets")
	}
	for _, p := range c.pkts {
		if p.tcp == nil {
			e.add("%d: not TCP over IP", p.n)
			continue
		}
		if p.origlen > 1514 {
			e.add("%s: frame of %d bytes: a GSO/TSO super-packet (offloads not off?)", p, p.origlen)
		}
		if !p.truncated && !p.csumOK {
			e.add("%s: bad TCP checksum (tx checksum offload not off?)", p)
		}
	}
}

// checkActiveCloser: the first FIN comes from the client (or the server),
// the other side's FIN follows and the active closer's final ACK is seen.
func checkActiveCloser(clientFirst bool) func(*capture, *errf) {
	return func(c *capture, e *errf) {
		active, passive := c.fromCli, c.fromSrv
		if !clientFirst {
			active, passive = c.fromSrv, c.fromCli
		}
		f1, i := c.first(0, flags(fFIN))
		if f1 == nil || !active(f1) {
			e.add("the first FIN must come from the %s", map[bool]string{true: "client", false: "server"}[clientFirst])
			return
		}
		f2, j := c.first(i, and(passive, flags(fFIN)))
		if f2 == nil {
			e.add("no FIN from the passive closer after %s", f1)
			return
		}
		if a, _ := c.first(j, and(active, flags(fACK), noFlags(fFIN|fRST|fSYN), func(p *packet) bool { return p.ack == f2.seq+f2.segLen() })); a == nil {
			e.add("no final ACK of %s", f2)
		}
	}
}

func checkIPv6(c *capture, e *errf) {
	if n := c.count(func(p *packet) bool { return !p.ip6 }); n > 0 {
		e.add("%d packets are not IPv6", n)
	}
}

func checkSynRetransmit(c *capture, e *errf) {
	s1, i := c.first(0, and(flags(fSYN), noFlags(fACK)))
	if s1 == nil {
		e.add("no SYN")
		return
	}
	s2, j := c.first(i+1, and(flags(fSYN), noFlags(fACK)))
	if s2 == nil || s2.seq != s1.seq || s2.src != s1.src {
		e.add("the first SYN %s is not retransmitted", s1)
		return
	}
	if sa, k := c.first(0, flags(fSYN|fACK)); sa == nil || k < j {
		e.add("the SYN-ACK must follow the retransmitted SYN")
	}
	if d := s2.ts.Sub(s1.ts); d < 900*time.Millisecond {
		e.add("SYN retransmitted after %v, want ~1 s", d)
	}
}

func checkSnaplen96(c *capture, e *errf) {
	if c.info.snaplen != 96 {
		e.add("snaplen %d, want 96", c.info.snaplen)
	}
	up, down := 0, 0
	for _, p := range c.pkts {
		if p.caplen > 96 {
			e.add("%s: %d bytes captured", p, p.caplen)
		}
		if c.fromCli(p) {
			up += p.paylen
		} else {
			down += p.paylen
		}
	}
	if up < 4096 || down < 8192 {
		e.add("payload %d up, %d down; want 4096 and 8192", up, down)
	}
	if c.count(func(p *packet) bool { return p.truncated }) == 0 {
		e.add("no truncated segment")
	}
}

// keepalive probes: SEG.SEQ = SND.NXT-1, no data, answered by an ACK.
func checkKeepalive(c *capture, e *errf) {
	var nxt uint32
	probes, answered := 0, 0
	for i, p := range c.pkts {
		if !c.fromCli(p) {
			continue
		}
		if p.paylen == 0 && !p.has(fSYN) && !p.has(fFIN) && nxt != 0 && p.seq == nxt-1 {
			probes++
			if r, _ := c.first(i+1, c.fromSrv); r != nil && r.has(fACK) && r.ack == nxt {
				answered++
			}
		}
		if end := p.seq + p.segLen(); end-nxt < 1<<31 || nxt == 0 {
			nxt = end
		}
	}
	if probes < 3 || answered < 3 {
		e.add("%d keepalive probes, %d answered; want at least 3", probes, answered)
	}
}

func checkMidstream(c *capture, e *errf) {
	if n := c.count(flags(fSYN)); n != 0 {
		e.add("%d SYNs in a capture that starts mid-stream", n)
	}
	if p := c.pkts[0]; !c.fromCli(p) || !data(p) {
		e.add("the first packet %s is not client data", p)
	}
}

// checkSimultaneous: each FIN is sent before its sender got the other FIN
// (its ACK does not cover it), the client's is first on the wire, and
// both are acknowledged after both were sent.
func checkSimultaneous(c *capture, e *errf) {
	fc, i := c.first(0, and(c.fromCli, flags(fFIN)))
	fs, j := c.first(0, and(c.fromSrv, flags(fFIN)))
	if fc == nil || fs == nil {
		e.add("want a FIN from each side")
		return
	}
	if i > j {
		e.add("the server's FIN %s is on the wire before the client's %s", fs, fc)
	}
	if fc.ack == fs.seq+1 {
		e.add("the client's FIN %s acknowledges the server's FIN", fc)
	}
	if fs.ack == fc.seq+1 {
		e.add("the server's FIN %s acknowledges the client's FIN", fs)
	}
	last := max(i, j)
	if a, _ := c.first(last+1, and(c.fromCli, flags(fACK), func(p *packet) bool { return p.ack == fs.seq+1 })); a == nil {
		e.add("the server's FIN is not acknowledged after both FINs")
	}
	if a, _ := c.first(last+1, and(c.fromSrv, flags(fACK), func(p *packet) bool { return p.ack == fc.seq+1 })); a == nil {
		e.add("the client's FIN is not acknowledged after both FINs")
	}
	if n := c.count(flags(fFIN)); n != 2 {
		e.add("%d FINs, want 2 (no retransmission)", n)
	}
}

func checkHalfClose(c *capture, e *errf) {
	_, i := c.first(0, and(c.fromCli, flags(fFIN)))
	_, j := c.first(0, and(c.fromSrv, flags(fFIN)))
	n := 0
	for k := i + 1; i >= 0 && k < j; k++ {
		if p := c.pkts[k]; c.fromSrv(p) && data(p) {
			n++
		}
	}
	if n < 2 {
		e.add("%d server data segments between the client's FIN and the server's, want >= 2", n)
	}
}

func checkLinger0(c *capture, e *errf) {
	r, i := c.first(0, and(c.fromCli, flags(fRST)))
	if r == nil {
		e.add("no RST from the client")
		return
	}
	if c.count(flags(fFIN)) != 0 {
		e.add("a FIN in an abortive close")
	}
	if _, j := c.first(0, and(c.fromSrv, data)); j < 0 || j > i {
		e.add("the RST does not follow the exchange")
	}
	if i != len(c.pkts)-1 {
		e.add("packets after the RST")
	}
}

func checkRefused(c *capture, e *errf) {
	ports := map[uint16]bool{}
	for i, p := range c.pkts {
		if !(c.fromCli(p) && p.has(fSYN)) {
			continue
		}
		r, _ := c.first(i+1, and(c.fromSrv, flags(fRST|fACK), func(q *packet) bool { return q.ack == p.seq+1 }))
		if r == nil {
			e.add("%s: not refused", p)
		}
		ports[p.src.Port()] = true
	}
	if len(ports) < 3 {
		e.add("%d attempts, want 3", len(ports))
	}
}

// checkLostFinalACK: the client's final ACK is seen, the server retransmits
// its FIN after it, and the client (in TIME_WAIT) acknowledges again.
func checkLostFinalACK(c *capture, e *errf) {
	fs, j := c.first(0, and(c.fromSrv, flags(fFIN)))
	if fs == nil {
		e.add("no server FIN")
		return
	}
	ackFIN := and(c.fromCli, flags(fACK), noFlags(fFIN), func(p *packet) bool { return p.ack == fs.seq+1 })
	a1, k := c.first(j+1, ackFIN)
	if a1 == nil {
		e.add("no final ACK")
		return
	}
	r, l := c.first(k+1, and(c.fromSrv, flags(fFIN), func(p *packet) bool { return p.seq == fs.seq }))
	if r == nil {
		e.add("the server does not retransmit its FIN after the final ACK %s", a1)
		return
	}
	if a2, _ := c.first(l+1, ackFIN); a2 == nil {
		e.add("the retransmitted FIN %s is not acknowledged", r)
	}
}

func synack(c *capture, p uint16) (*packet, int) {
	return c.first(0, and(c.fromSrv, port(p), flags(fSYN|fACK)))
}

// checkOverflowRST: 41002 completes the handshake and is reset by the
// server (RST, seq = the ACK's acknowledgement number); 41000 and 41001
// are not reset.
func checkOverflowRST(c *capture, e *errf) {
	sa, i := synack(c, 41002)
	if sa == nil {
		e.add("no SYN-ACK for 41002")
		return
	}
	a, j := c.first(i+1, and(c.fromCli, port(41002), flags(fACK), noFlags(fSYN|fRST), func(p *packet) bool { return p.ack == sa.seq+1 }))
	if a == nil {
		e.add("41002 does not complete the handshake")
		return
	}
	if r, _ := c.first(j+1, and(c.fromSrv, port(41002), flags(fRST), func(p *packet) bool { return p.seq == a.ack })); r == nil {
		e.add("no RST from the server on 41002 after %s", a)
	}
	for _, p := range []uint16{41000, 41001} {
		if n := c.count(and(port(p), flags(fRST))); n > 0 {
			e.add("%d RSTs on %d", n, p)
		}
		if sa, _ := synack(c, p); sa == nil {
			e.add("%d: no handshake", p)
		}
	}
}

// checkOverflowDrop: 41002's ACK is ignored: the server retransmits its
// SYN-ACK after it, the client's data is retransmitted, and the connection
// is eventually accepted and served.
func checkOverflowDrop(c *capture, e *errf) {
	sa, i := synack(c, 41002)
	if sa == nil {
		e.add("no SYN-ACK for 41002")
		return
	}
	_, j := c.first(i+1, and(c.fromCli, port(41002), flags(fACK), noFlags(fSYN|fRST)))
	if j < 0 {
		e.add("41002 does not complete the handshake")
		return
	}
	if r, _ := c.first(j+1, and(c.fromSrv, port(41002), flags(fSYN|fACK), func(p *packet) bool { return p.seq == sa.seq })); r == nil {
		e.add("no SYN-ACK retransmission on 41002 after the client's ACK")
	}
	d, k := c.first(j+1, and(c.fromCli, port(41002), data))
	if d == nil {
		e.add("no client data on 41002")
		return
	}
	if r, _ := c.first(k+1, and(c.fromCli, port(41002), data, func(p *packet) bool { return p.seq == d.seq })); r == nil {
		e.add("the client's data %s is not retransmitted", d)
	}
	if s, _ := c.first(k+1, and(c.fromSrv, port(41002), data)); s == nil {
		e.add("41002 is never served (accepted)")
	}
	if n := c.count(flags(fRST)); n > 0 {
		e.add("%d RSTs", n)
	}
}

func checkSynUnanswered(c *capture, e *errf) {
	if n := c.count(c.fromSrv); n > 0 {
		e.add("%d packets from the server", n)
	}
	s := c.pkts[0]
	if n := c.count(func(p *packet) bool { return p.has(fSYN) && p.seq == s.seq && p.src == s.src }); n < 3 {
		e.add("%d SYNs, want at least 3", n)
	}
	if n := c.count(func(p *packet) bool { return !p.has(fSYN) }); n > 0 {
		e.add("%d packets that are not SYNs", n)
	}
}

func checkSynFlood(c *capture, e *errf) {
	srcs := map[netip.Addr]bool{}
	type key struct {
		dst netip.AddrPort
		seq uint32
	}
	synacks := map[key]int{}
	for _, p := range c.pkts {
		switch {
		case c.fromSrv(p) && p.has(fSYN|fACK):
			synacks[key{p.dst, p.seq}]++
		case p.has(fSYN) && !p.has(fACK):
			srcs[p.src.Addr()] = true
		default:
			e.add("%s: neither a SYN nor a SYN-ACK", p)
		}
	}
	re := 0
	for _, n := range synacks {
		if n > 1 {
			re++
		}
	}
	if len(srcs) < 200 || len(synacks) < 200 || re < 200 {
		e.add("%d spoofed sources, %d SYN-ACKed, %d with retransmitted SYN-ACKs; want >= 200 each", len(srcs), len(synacks), re)
	}
}

func checkCloseWait(c *capture, e *errf) {
	f, i := c.first(0, and(c.fromCli, flags(fFIN)))
	if f == nil {
		e.add("no client FIN")
		return
	}
	if n := c.count(and(c.fromSrv, flags(fFIN|fRST))); n > 0 {
		e.add("the server sent a FIN or RST")
	}
	if d := c.pkts[len(c.pkts)-1].ts.Sub(f.ts); d < 7*time.Second {
		e.add("the capture ends %v after the client's FIN, want >= 7 s", d)
	}
	// The server's keepalive probes (SEG.SEQ = SND.NXT-1) from CLOSE_WAIT.
	probes := c.count(and(c.fromSrv, func(p *packet) bool { return p.paylen == 0 && p.ts.After(f.ts) && !p.has(fFIN) }))
	if probes < 4 {
		e.add("%d segments from the server after the FIN, want its ACK and >= 3 keepalive probes", probes)
	}
	if n := c.count(and(c.fromCli, func(p *packet) bool { return p.ts.After(f.ts) && (data(p) || p.has(fFIN)) })); n > 0 || i < 0 {
		e.add("the client sent data or a FIN after its FIN")
	}
}

// checkHalfOpen: the client's segment meets a RST without ACK whose
// sequence number is the segment's acknowledgement number.
func checkHalfOpen(c *capture, e *errf) {
	for i, p := range c.pkts {
		if !p.has(fRST) {
			continue
		}
		if !c.fromSrv(p) || p.has(fACK) {
			e.add("%s: want a RST without ACK from the server", p)
			continue
		}
		prev := c.pkts[i-1]
		if !c.fromCli(prev) || !data(prev) || prev.ack != p.seq {
			e.add("%s does not answer client data (%s) with seq = its ack", p, prev)
		}
		if n := c.count(and(c.fromSrv, flags(fFIN))); n > 0 {
			e.add("the server sent a FIN")
		}
		return
	}
	e.add("no RST")
}

// newSYNs returns the first SYN of each incarnation (a SYN with a new ISN).
func newSYNs(c *capture) []*packet {
	var out []*packet
	seen := map[uint32]bool{}
	for _, p := range c.pkts {
		if p.has(fSYN) && !p.has(fACK) && !seen[p.seq] {
			seen[p.seq] = true
			out = append(out, p)
		}
	}
	return out
}

func checkPortReuse(c *capture, e *errf) {
	s := newSYNs(c)
	if len(s) != 2 || s[0].src != s[1].src || s[0].dst != s[1].dst {
		e.add("want two SYNs with different ISNs on one 4-tuple, got %d", len(s))
		return
	}
	if n := c.count(flags(fFIN)); n != 4 {
		e.add("%d FINs, want 4 (two closed incarnations)", n)
	}
}

func checkStale(c *capture, e *errf) {
	s := newSYNs(c)
	if len(s) != 2 || s[0].src != s[1].src {
		e.add("want two incarnations on one 4-tuple, got %d SYNs", len(s))
		return
	}
	old := map[[2]uint32]bool{}
	found := false
	for _, p := range c.pkts {
		if p.ts.Before(s[1].ts) {
			if c.fromCli(p) && data(p) {
				old[[2]uint32{p.seq, p.ack}] = true
			}
			continue
		}
		if c.fromCli(p) && data(p) && old[[2]uint32{p.seq, p.ack}] {
			found = true
		}
	}
	if !found {
		e.add("no segment of the old incarnation during the new one")
	}
}

func checkAbortMany(c *capture, e *errf) {
	ports := map[uint16]bool{}
	for _, p := range c.pkts {
		if c.fromSrv(p) && p.has(fRST) {
			ports[p.dst.Port()] = true
		}
	}
	if len(ports) < 5 {
		e.add("%d connections reset by the server, want >= 5", len(ports))
	}
	if n := c.count(flags(fFIN)); n > 0 {
		e.add("%d FINs", n)
	}
}

// checkZeroWindow: the server advertises a zero window, the client probes
// it (SEG.SEQ = SND.UNA-1, no data) and the transfer resumes.
func checkZeroWindow(c *capture, e *errf) {
	z, i := c.first(0, and(c.fromSrv, flags(fACK), noFlags(fSYN|fFIN|fRST), func(p *packet) bool { return p.win == 0 }))
	if z == nil {
		e.add("no zero window from the server")
		return
	}
	probes := c.count(and(c.fromCli, func(p *packet) bool { return p.paylen == 0 && p.seq == z.ack-1 }))
	if probes < 2 {
		e.add("%d zero-window probes, want >= 2", probes)
	}
	if d, _ := c.first(i+1, and(c.fromCli, data, func(p *packet) bool { return p.seq-z.ack < 1<<31 })); d == nil {
		e.add("the transfer does not resume after the zero window")
	}
}

// checkAppAbort: the client's request is answered by a RST from the
// server whose ACK covers it, and the server sent nothing between its
// SYN-ACK and that RST (no ACK of the request, no data, no FIN): the shape
// that was mistaken for an accept-queue overflow.
func checkAppAbort(c *capture, e *errf) {
	d, i := c.first(0, and(c.fromCli, data))
	if d == nil {
		e.add("no request from the client")
		return
	}
	if d.paylen != requestBytes {
		e.add("%s: request of %d bytes, want %d", d, d.paylen, requestBytes)
	}
	sa, j := c.first(0, and(c.fromSrv, flags(fSYN|fACK)))
	r, k := c.first(0, and(c.fromSrv, flags(fRST)))
	switch {
	case sa == nil || r == nil:
		e.add("want a SYN-ACK and a RST from the server")
		return
	case !r.has(fACK) || r.ack != d.seq+uint32(d.paylen):
		e.add("%s: the RST does not acknowledge the request %s", r, d)
	case k < i:
		e.add("the RST %s comes before the request", r)
	}
	if n := c.count(and(c.fromSrv, func(p *packet) bool { return p.n > sa.n && p.n < r.n })); n > 0 || j > k {
		e.add("%d server segments between its SYN-ACK and its RST, want none", n)
	}
	if n := c.count(flags(fFIN)); n > 0 {
		e.add("%d FINs in an abort", n)
	}
}

// checkTWReuse: two incarnations on one 4-tuple with timestamps; the client
// closes the first one first and acknowledges the server's FIN (so it holds
// TIME_WAIT) before its new SYN, which comes within 2MSL; no RST.
func checkTWReuse(c *capture, e *errf) {
	s := newSYNs(c)
	if len(s) != 2 || s[0].src != s[1].src || s[0].dst != s[1].dst {
		e.add("want two SYNs with different ISNs on one 4-tuple, got %d", len(s))
		return
	}
	if s[0].src.Port() != twReusePort {
		e.add("%s: client port %d, want %d", s[0], s[0].src.Port(), twReusePort)
	}
	for _, p := range s {
		if !hasTimestamps(p) {
			e.add("%s: no timestamp option", p)
		}
	}
	fc, i := c.first(0, flags(fFIN))
	if fc == nil || !c.fromCli(fc) {
		e.add("the first FIN must come from the client")
		return
	}
	fs, j := c.first(i+1, and(c.fromSrv, flags(fFIN)))
	if fs == nil {
		e.add("no server FIN in the first incarnation")
		return
	}
	_, k := c.first(j+1, and(c.fromCli, flags(fACK), noFlags(fFIN|fSYN|fRST), func(p *packet) bool { return p.ack == fs.seq+1 }))
	if k < 0 || c.pkts[k].ts.After(s[1].ts) {
		e.add("the client does not acknowledge the server's FIN %s before its new SYN", fs)
	}
	if d := s[1].ts.Sub(s[0].ts); d > 60*time.Second {
		e.add("the new SYN comes %v after the first, not within 2MSL", d)
	}
	if n := c.count(flags(fRST)); n > 0 {
		e.add("%d RSTs", n)
	}
	if n := c.count(flags(fFIN)); n != 4 {
		e.add("%d FINs, want 4 (two closed incarnations)", n)
	}
}

// hasTimestamps reports whether a segment carries the TCP timestamp option.
func hasTimestamps(p *packet) bool {
	opts := p.tcp[20:min(len(p.tcp), int(p.tcp[12]>>4)*4)]
	for len(opts) > 0 {
		switch opts[0] {
		case 0:
			return false
		case 1:
			opts = opts[1:]
			continue
		case 8:
			return true
		}
		if len(opts) < 2 || opts[1] < 2 || int(opts[1]) > len(opts) {
			return false
		}
		opts = opts[opts[1]:]
	}
	return false
}

// checkBothSides: the capture taken at the other veth end of the same run
// holds the same segments (compared by addresses, flags, sequence and
// acknowledgement numbers and length), and each side's segments appear
// earlier in the capture taken on its own side.
func checkBothSides(other string) func(*capture, *errf) {
	return func(c *capture, e *errf) {
		info, err := readPcapInfo(filepath.Join(c.dir, other+".pcap"))
		if err != nil {
			e.add("the other vantage: %v", err)
			return
		}
		type key struct {
			src, dst netip.AddrPort
			flags    uint8
			seq, ack uint32
			n        int
		}
		seen := map[key][]time.Time{}
		for _, p := range info.pkts {
			k := key{p.src, p.dst, p.flags, p.seq, p.ack, p.paylen}
			seen[k] = append(seen[k], p.ts)
		}
		local := c.fromCli
		if strings.HasSuffix(c.name, "-server") {
			local = c.fromSrv
		}
		for _, p := range c.pkts {
			k := key{p.src, p.dst, p.flags, p.seq, p.ack, p.paylen}
			ts := seen[k]
			if len(ts) == 0 {
				e.add("%s is not in %s.pcap", p, other)
				continue
			}
			seen[k] = ts[1:]
			if local(p) && ts[0].Before(p.ts) {
				e.add("%s: seen at the far end (%v) before it left (%v)", p, ts[0], p.ts)
			}
		}
		if len(c.pkts) != len(info.pkts) {
			e.add("%d packets here, %d in %s.pcap", len(c.pkts), len(info.pkts), other)
		}
	}
}

func runCheck(args []string) error {
	fs := flag.NewFlagSet("check", flag.ExitOnError)
	dir := fs.String("dir", "pcaps", "directory with the captures")
	only := fs.String("only", "", "comma-separated scenarios (default: all)")
	manifestFile := fs.String("manifest", "", "also check this manifest against the captures")
	fs.Parse(args)
	var names []string
	if *only != "" {
		names = strings.Split(*only, ",")
	}
	return checkCaptures(os.Stdout, *dir, *manifestFile, names)
}

// sizeLimit is the largest a capture may be: 200 KiB, and 15 MiB for the
// thousands of connections of mixed.
func sizeLimit(name string) int64 {
	if name == "mixed" {
		return 15 << 20
	}
	return 200 << 10
}

// checkCaptures checks the captures of the named scenarios (all if none) in
// dir, and their manifest entries if manifestFile is set, printing one line
// per capture and a closing "N passed, N failed" line to w.
func checkCaptures(w io.Writer, dir, manifestFile string, names []string) error {
	if len(names) == 0 {
		names = scenarioNames()
	}
	var caps []string
	for _, n := range names {
		caps = append(caps, capturesOf(n)...)
	}
	names = caps
	sort.Strings(names)
	known := set(captureNames()...)
	entries := map[string]*manifest.Capture{}
	if manifestFile != "" {
		m, err := manifest.Load(manifestFile)
		if err != nil {
			return err
		}
		for i := range m.Captures {
			mc := &m.Captures[i]
			if !known[mc.Scenario] {
				return fmt.Errorf("manifest: unknown scenario %q", mc.Scenario)
			}
			if entries[mc.Scenario] != nil {
				return fmt.Errorf("manifest: %q twice", mc.Scenario)
			}
			entries[mc.Scenario] = mc
		}
		for _, n := range captureNames() {
			if entries[n] == nil {
				return fmt.Errorf("manifest: no entry for %q", n)
			}
		}
	}
	failed := 0
	for _, name := range names {
		f, ok := checks[name]
		if !ok {
			return fmt.Errorf("no check for %q", name)
		}
		file := filepath.Join(dir, name+".pcap")
		info, err := readPcapInfo(file)
		if err != nil {
			fmt.Fprintf(w, "FAIL %-28s %v\n", name, err)
			failed++
			continue
		}
		c := &capture{name: name, dir: dir, info: info, pkts: info.pkts}
		var e errf
		checkCommon(c, &e)
		if len(e) == 0 {
			f(c, &e)
		}
		if mc := entries[name]; mc != nil {
			checkManifestEntry(mc, c, &e)
		}
		if st, err := os.Stat(file); err == nil && st.Size() > sizeLimit(name) {
			e.add("%d bytes, want < %d KiB", st.Size(), sizeLimit(name)>>10)
		}
		if err := e.err(); err != nil {
			fmt.Fprintf(w, "FAIL %-28s %s\n", name, strings.ReplaceAll(err.Error(), "\n", "\n     "))
			failed++
			continue
		}
		fmt.Fprintf(w, "ok   %-28s %4d packets\n", name, len(c.pkts))
	}
	fmt.Fprintf(w, "%d passed, %d failed\n", len(names)-failed, failed)
	if failed > 0 {
		return fmt.Errorf("%d capture(s) do not show their scenario", failed)
	}
	return nil
}

// ttl returns the packet's IPv4 TTL or IPv6 hop limit.
func (p *packet) ttl() uint8 {
	if p.ip6 {
		return p.ipBytes[7]
	}
	return p.ipBytes[8]
}

// checkMiddlebox: one connection through the lab's router, whose packets
// each arrive with one TTL per sender (63 from the far end: one router),
// ended by a single RST that claims to come from the far end but arrives
// with the router's TTL (64: made by the router, right next to the
// capture point): a bare RST answering the near end's last segment, its
// data (seq = that segment's ack), with IPv4 ID 0. serverSide: recorded
// at the server, so the far end is the client.
func checkMiddlebox(serverSide bool) func(*capture, *errf) {
	return func(c *capture, e *errf) {
		far, near := c.fromSrv, c.fromCli
		if serverSide {
			far, near = c.fromCli, c.fromSrv
		}
		if n := c.count(flags(fRST)); n != 1 {
			e.add("%d RSTs, want 1", n)
			return
		}
		r, i := c.first(0, flags(fRST))
		if !far(r) || r.has(fACK) {
			e.add("%s: want a RST without ACK in the far end's name", r)
			return
		}
		if i == 0 || !near(c.pkts[i-1]) || !data(c.pkts[i-1]) || c.pkts[i-1].ack != r.seq {
			e.add("%s does not answer the near end's data with seq = its ack", r)
		}
		if r.ttl() != 64 {
			e.add("%s: TTL %d, want the router's 64", r, r.ttl())
		}
		if !r.ip6 && binary.BigEndian.Uint16(r.ipBytes[4:6]) != 0 {
			e.add("%s: IP ID %d, want 0 (nftables' reject)", r, binary.BigEndian.Uint16(r.ipBytes[4:6]))
		}
		others := 0
		for _, p := range c.pkts {
			if p == r {
				continue
			}
			want := uint8(64)
			if far(p) {
				want, others = 63, others+1
			}
			if p.ttl() != want {
				e.add("%s: TTL %d, want %d (one router between the ends)", p, p.ttl(), want)
			}
		}
		if others == 0 {
			e.add("no packet from the far end besides the RST")
		}
		if n := c.count(flags(fFIN)); n > 0 {
			e.add("%d FINs: the router's RSTs end the connection", n)
		}
	}
}
