package tracker

import (
	"fmt"
	"sort"
	"strings"
)

// This file holds wirestate's mapping onto Zeek's conn.log vocabulary: the
// Zeek configuration that changes Zeek's results (ZeekConfig), Zeek's two
// endpoint states, the likely-server-ports list that decides Zeek's
// originator, and the conn_state function. The per-connection bookkeeping
// is in history.go, the connection lifetime rules in zeek_lifetime.go.
// Line references are to Zeek as described in the zeek-conformance
// corpus's DEFINITIONS.md.

// ZeekConfig turns on Zeek's connection lifetime rules (Config.Zeek) and
// says how the Zeek being imitated was run. With it, connections end when
// Zeek's timers would end them (attempt 5 s, close delay 5 s, inactivity,
// the expire timer) and a new one starts where Zeek's IsReuse sees port
// reuse, so that records match conn.log rows one for one. Without it the
// tracker keeps its own lifetime rules and still reports Zeek's conn_state
// and history for each of its connections.
type ZeekConfig struct {
	// LikelyServerPorts is Zeek's likely_server_ports for TCP, which decides
	// whether a connection first seen without a pure SYN is flipped at
	// creation (TCP.cc WantConnection). Nil selects the set Zeek has with
	// all its base scripts loaded (ZeekServerPorts with no names); an
	// empty set is bare mode (zeek -b) with no protocol script loaded.
	LikelyServerPorts *PortSet
}

// likelyPorts returns the likely server ports cfg selects.
func (cfg *ZeekConfig) likelyPorts() *PortSet {
	if cfg == nil || cfg.LikelyServerPorts == nil {
		return &defaultZeekPorts
	}
	return cfg.LikelyServerPorts
}

// PortSet is a set of TCP ports.
type PortSet struct{ bits [1024]uint64 }

// Add puts port p in the set.
func (s *PortSet) Add(p uint16) { s.bits[p>>6] |= 1 << (p & 63) }

// Has reports whether port p is in the set.
func (s *PortSet) Has(p uint16) bool { return s.bits[p>>6]&(1<<(p&63)) != 0 }

// zeekAnalyzerPorts lists, per Zeek protocol script, the TCP ports it adds
// to likely_server_ports (its Analyzer::register_for_ports call, e.g.
// scripts/base/protocols/http/main.zeek "const ports"). UDP-only analyzers
// are left out: the tracker sees only TCP.
var zeekAnalyzerPorts = map[string][]uint16{
	"dce-rpc":    {135},
	"dnp3":       {20000},
	"dns":        {53},
	"finger":     {79},
	"ftp":        {21, 2811},
	"http":       {80, 81, 631, 1080, 3128, 8000, 8080, 8888},
	"imap":       {143},
	"irc":        {6666, 6667, 6668, 6669},
	"krb":        {88},
	"ldap":       {389, 3268},
	"modbus":     {502},
	"mqtt":       {1883},
	"mysql":      {1434, 3306},
	"pop3":       {110},
	"postgresql": {5432},
	"rdp":        {3389},
	"redis":      {6379},
	"smb":        {139, 445},
	"smtp":       {25, 587},
	"socks":      {1080},
	"ssh":        {22},
	"ssl":        {443, 563, 585, 614, 636, 989, 990, 992, 993, 995, 5223},
	"xmpp":       {5222, 5269},
}

// defaultZeekPorts is likely_server_ports with every base script loaded.
var defaultZeekPorts = func() PortSet {
	var s PortSet
	for _, ports := range zeekAnalyzerPorts {
		for _, p := range ports {
			s.Add(p)
		}
	}
	return s
}()

// ZeekAnalyzers returns the names ZeekServerPorts knows, sorted.
func ZeekAnalyzers() []string {
	names := make([]string, 0, len(zeekAnalyzerPorts))
	for n := range zeekAnalyzerPorts {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ZeekServerPorts returns likely_server_ports as Zeek has it after loading
// the protocol scripts named (base/protocols/NAME, for example "http" or
// "krb"); with no name it returns the set of a full (non-bare) Zeek. Names
// of scripts that register no TCP port (conn, dhcp, tunnels, ...) are
// accepted and add nothing; an unknown name is an error.
func ZeekServerPorts(names ...string) (*PortSet, error) {
	if len(names) == 0 {
		s := defaultZeekPorts
		return &s, nil
	}
	s := &PortSet{}
	for _, n := range names {
		n = strings.ToLower(strings.TrimSpace(n))
		if n == "" {
			continue
		}
		ports, ok := zeekAnalyzerPorts[n]
		if !ok {
			if zeekPortlessScripts[n] {
				continue
			}
			return nil, fmt.Errorf("unknown Zeek protocol script %q (known: %s)", n, strings.Join(ZeekAnalyzers(), ", "))
		}
		for _, p := range ports {
			s.Add(p)
		}
	}
	return s, nil
}

// zeekPortlessScripts are protocol scripts that register no TCP port.
var zeekPortlessScripts = map[string]bool{
	"conn": true, "dhcp": true, "dhcpv6": true, "ntp": true, "ntlm": true, "radius": true,
	"rfb": true, "sip": true, "snmp": true, "syslog": true, "quic": true, "tunnels": true,
	"gssapi": true, "openvpn": true, "nat-mapping": true, "none": true,
}

// zeekLongInactivityPorts are Conn::port_inactivity_timeouts
// (scripts/base/protocols/conn/inactivity.zeek L15-17): a connection
// established to one of them gets an hour of inactivity.
func zeekLongInactivityPort(p uint16) bool { return p == 21 || p == 22 || p == 23 || p == 513 }

// ZeekEndpointState is one of Zeek's TCP endpoint states (TCP_Endpoint.h,
// init-bare L1708-1714), the input of conn_state.
type ZeekEndpointState uint8

// Zeek's endpoint states, in Zeek's numbering.
const (
	ZeekInactive ZeekEndpointState = iota
	ZeekSynSent
	ZeekSynAckSent
	ZeekPartial
	ZeekEstablished
	ZeekClosed
	ZeekReset
)

var zeekStateNames = [...]string{
	"TCP_INACTIVE", "TCP_SYN_SENT", "TCP_SYN_ACK_SENT", "TCP_PARTIAL",
	"TCP_ESTABLISHED", "TCP_CLOSED", "TCP_RESET",
}

// String returns the state's Zeek script name, such as TCP_SYN_SENT.
func (s ZeekEndpointState) String() string {
	if int(s) < len(zeekStateNames) {
		return zeekStateNames[s]
	}
	return "TCP_INVALID"
}

// handshake reports whether s is one of the states before a connection is
// set up (TCP_Endpoint.cc is_handshake).
func (s ZeekEndpointState) handshake() bool {
	return s == ZeekInactive || s == ZeekSynSent || s == ZeekSynAckSent
}

// inactive is conn_state's o_inactive / r_inactive (main.zeek L189-190).
func (s ZeekEndpointState) inactive() bool { return s == ZeekInactive || s == ZeekPartial }

// ZeekOrig returns the side Zeek takes for the originator: the Resp side
// when Zeek flipped the connection (history holds a ^ for each flip).
func (c *Conn) ZeekOrig() Side { return Side(c.Hist.n>>hFlipShift) & 1 }

// ZeekStates returns the originator's and responder's Zeek endpoint
// states, in Zeek's orientation (see ZeekOrig).
func (c *Conn) ZeekStates() (orig, resp ZeekEndpointState) {
	o := c.ZeekOrig()
	return c.Hist.state(o), c.Hist.state(o.Other())
}

// ZeekState returns the connection's conn_state as Zeek's conn.log gives it
// (main.zeek conn_state, L184-241): S0, S1, SF, REJ, S2, S3, RSTO, RSTR,
// RSTOS0, RSTRH, SH, SHR or OTH, computed from Zeek's two endpoint states as
// the History bookkeeping reconstructs them.
func (c *Conn) ZeekState() string {
	o, r := c.ZeekStates()
	oi, ri := o.inactive(), r.inactive()
	switch {
	case r == ZeekReset:
		switch {
		case o == ZeekSynSent || o == ZeekSynAckSent ||
			(o == ZeekReset && c.zeekSizeZero(c.ZeekOrig()) && c.zeekSizeZero(c.ZeekOrig().Other())):
			return "REJ"
		case oi:
			return "RSTRH"
		}
		return "RSTR"
	case o == ZeekReset:
		if ri {
			if matchRSTOS0(c.Hist.String()) {
				return "RSTOS0"
			}
			return "OTH"
		}
		return "RSTO"
	case o == ZeekClosed && r == ZeekClosed:
		return "SF"
	case o == ZeekClosed:
		if ri {
			return "SH"
		}
		return "S2"
	case r == ZeekClosed:
		if oi {
			return "SHR"
		}
		return "S3"
	case o == ZeekSynSent && r == ZeekInactive:
		return "S0"
	case o == ZeekEstablished && r == ZeekEstablished:
		return "S1"
	}
	return "OTH"
}

// zeekSizeZero reports whether side s's Zeek endpoint size is zero.
func (c *Conn) zeekSizeZero(s Side) bool { return c.ZeekBytes(s) == 0 }

// ZeekBytes returns what Zeek logs as orig_bytes or resp_bytes for side s
// (TCP_Endpoint::Size): the sequence space from the first sequence number
// to the highest one sent or acknowledged, less the SYN and FIN. Unlike
// Peer.Bytes it counts data the capture missed. Sequence numbers are 32
// bits: past 4 GiB the count takes the smallest value not below the data
// seen.
func (c *Conn) ZeekBytes(s Side) uint64 {
	p, o := &c.Peers[s], &c.Peers[s.Other()]
	if !p.HaveSeq() {
		return 0
	}
	end := p.Next
	if o.HaveAck() && o.Ack.GreaterThan(end) {
		end = o.Ack
	}
	n := uint64(uint32(end) - uint32(p.ISN))
	if n > 0 {
		n-- // the SYN, or the octet before the first seen
	}
	if p.SawFIN() && n > 0 {
		n--
	}
	if p.Bytes > n {
		n += (p.Bytes - n + 1<<32 - 1) >> 32 << 32
	}
	return n
}

// ZeekMissedBytes returns what Zeek logs as missed_bytes: the data of both
// sides that was acknowledged but never seen, counted only for a side with
// a content gap in the history (G or g).
func (c *Conn) ZeekMissedBytes() uint64 {
	var n uint64
	for s := Orig; s <= Resp; s++ {
		if c.Hist.gaps(s) == 0 {
			continue
		}
		if z, b := c.ZeekBytes(s), c.Peers[s].Bytes; z > b {
			n += z - b
		}
	}
	return n
}

// ZeekDuration returns what Zeek logs as duration: like Last-Start, except
// that Zeek stops the clock once both sides have closed
// (TCPSessionAdapter::Process, TSA.cc L535-536), so the final ACK is left
// out.
func (c *Conn) ZeekDuration() int64 {
	h := &c.Hist
	if h.timerKind() == zTimerClose && h.didClose(Orig) && h.didClose(Resp) {
		return h.timerAt(c) - c.Start
	}
	return c.Last - c.Start
}

// matchRSTOS0 reports whether history h matches main.zeek's RSTOS0 pattern
// /\^?S[^HAFGIQ]*R.*/ exactly (Zeek's pattern == string is anchored).
func matchRSTOS0(h string) bool {
	h = strings.TrimPrefix(h, "^")
	if !strings.HasPrefix(h, "S") {
		return false
	}
	for i := 1; i < len(h); i++ {
		switch h[i] {
		case 'R':
			return true
		case 'H', 'A', 'F', 'G', 'I', 'Q':
			return false
		}
	}
	return false
}
