package main

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/wirestate/wirestate/pcaps/manifest"
)

var (
	stateSet = set("CLOSED", "LISTEN", "SYN_SENT", "SYN_RECEIVED", "ESTABLISHED", "FIN_WAIT_1",
		"FIN_WAIT_2", "CLOSING", "TIME_WAIT", "CLOSE_WAIT", "LAST_ACK")
	kindSet = set("syn-unanswered", "connection-refused", "accept-queue-overflow-rst",
		"accept-queue-overflow-drop", "syn-flood", "synack-unanswered", "lost-final-ack",
		"close-wait-stuck", "half-open", "port-reuse", "stale-segment", "abortive-close",
		"zero-window", "keepalive", "middlebox-reset")
	failureKinds = map[string]string{ // scenario -> the kind it must name
		"lost-final-ack":                "lost-final-ack",
		"accept-queue-overflow-rst":     "accept-queue-overflow-rst",
		"accept-queue-overflow-drop":    "accept-queue-overflow-drop",
		"syn-unanswered":                "syn-unanswered",
		"syn-flood":                     "syn-flood",
		"close-wait-stuck":              "close-wait-stuck",
		"half-open":                     "half-open",
		"port-reuse":                    "port-reuse",
		"stale-segment":                 "stale-segment",
		"abortive-close-server":         "abortive-close",
		"zero-window":                   "zero-window",
		"refused":                       "connection-refused",
		"app-abort-after-request":       "abortive-close",
		"accept-queue-overflow-rst-v6":  "accept-queue-overflow-rst",
		"accept-queue-overflow-drop-v6": "accept-queue-overflow-drop",
		"middlebox-reset-client":        "middlebox-reset",
		"middlebox-reset-server":        "middlebox-reset",
		"middlebox-reset-v6":            "middlebox-reset",
	}
)

func set(s ...string) map[string]bool {
	m := map[string]bool{}
	for _, x := range s {
		m[x] = true
	}
	return m
}

// labConn is one connection (incarnation) as the checker splits a capture.
type labConn struct {
	orig, resp netip.AddrPort
	isn        uint32
	synSeen    bool
}

// connsOf splits a capture into connections in order of appearance: one per
// 4-tuple, and a new one for a SYN with a new ISN from the originator.
func connsOf(pkts []*packet) []*labConn {
	type key struct{ a, b netip.AddrPort }
	cur := map[key]*labConn{}
	var out []*labConn
	for _, p := range pkts {
		if p.tcp == nil {
			continue
		}
		k := key{p.src, p.dst}
		if p.dst.Addr().Less(p.src.Addr()) || (p.dst.Addr() == p.src.Addr() && p.dst.Port() < p.src.Port()) {
			k = key{p.dst, p.src}
		}
		c := cur[k]
		syn := p.has(fSYN) && !p.has(fACK)
		if c == nil || (syn && c.synSeen && p.src == c.orig && p.seq != c.isn) {
			c = &labConn{orig: p.src, resp: p.dst}
			if p.has(fSYN) && p.has(fACK) { // picked up at the SYN-ACK
				c.orig, c.resp = p.dst, p.src
			}
			cur[k] = c
			out = append(out, c)
		}
		if syn && !c.synSeen {
			c.synSeen, c.isn = true, p.seq
		}
	}
	return out
}

// matchConn returns the connection a manifest match selects.
func matchConn(conns []*labConn, m manifest.Match) (*labConn, error) {
	for _, h := range []string{m.OrigH, m.RespH} {
		if a, err := netip.ParseAddr(h); h != "" && (err != nil || a.String() != h) {
			return nil, fmt.Errorf("match: %q is not an address in canonical form", h)
		}
	}
	i, nth := 0, m.Nth
	for _, c := range conns {
		if m.Matches(c.orig.Addr().String(), c.orig.Port(), c.resp.Addr().String(), c.resp.Port()) {
			if i == nth {
				return c, nil
			}
			i++
		}
	}
	return nil, fmt.Errorf("match %v: only %d connections match", m, i)
}

// checkManifestEntry validates one manifest entry against its capture.
func checkManifestEntry(mc *manifest.Capture, c *capture, e *errf) {
	if mc.File != mc.Scenario+".pcap" {
		e.add("manifest: file %q is not scenario + .pcap", mc.File)
	}
	if len(strings.Fields(mc.Description)) < 10 {
		e.add("manifest: description too short")
	}
	if mc.Vantage != "client" && mc.Vantage != "server" {
		e.add("manifest: vantage %q", mc.Vantage)
	}
	if mc.Snaplen != c.info.snaplen {
		e.add("manifest: snaplen %d, capture %d", mc.Snaplen, c.info.snaplen)
	}
	want6 := mc.IP == "6"
	if mc.IP != "4" && mc.IP != "6" {
		e.add("manifest: ip %q", mc.IP)
	} else if n := c.count(func(p *packet) bool { return p.ip6 != want6 }); n > 0 {
		e.add("manifest: ip %s, but %d packets are not", mc.IP, n)
	}
	conns := connsOf(c.pkts)
	switch {
	case mc.ConnCount != nil && mc.ConnCountMin != nil:
		e.add("manifest: both conn_count and conn_count_min")
	case mc.ConnCount != nil:
		if *mc.ConnCount != len(conns) {
			e.add("manifest: conn_count %d, capture has %d", *mc.ConnCount, len(conns))
		}
	case mc.ConnCountMin != nil:
		if len(conns) < *mc.ConnCountMin {
			e.add("manifest: conn_count_min %d, capture has %d", *mc.ConnCountMin, len(conns))
		}
	default:
		e.add("manifest: no conn_count or conn_count_min")
	}
	if len(mc.Conns) == 0 {
		e.add("manifest: no conns")
	}
	final := false
	for i, mcn := range mc.Conns {
		if _, err := matchConn(conns, mcn.Match); err != nil {
			e.add("manifest: conns[%d]: %v", i, err)
		}
		for _, s := range []string{mcn.OrigState, mcn.RespState} {
			if s != "" && !stateSet[s] {
				e.add("manifest: conns[%d]: state %q", i, s)
			}
		}
		if mcn.OrigState != "" || mcn.RespState != "" {
			final = true
		}
		for _, t := range mcn.Transitions {
			side, st, ok := strings.Cut(t, ":")
			if !ok || (side != "orig" && side != "resp") || !stateSet[st] {
				e.add("manifest: conns[%d]: transition %q", i, t)
			}
		}
		for _, k := range append(append([]string{}, mcn.Anomalies...), mcn.ForbidAnomalies...) {
			if !kindSet[k] {
				e.add("manifest: conns[%d]: kind %q", i, k)
			}
		}
	}
	if !final {
		e.add("manifest: no conns entry with a final state")
	}
	for k, n := range mc.Anomalies {
		if !kindSet[k] || n < 1 {
			e.add("manifest: anomalies %q: %d", k, n)
		}
	}
	if k, ok := failureKinds[mc.Scenario]; ok && mc.Anomalies[k] < 1 {
		e.add("manifest: a failure capture must name %s", k)
	}
}
