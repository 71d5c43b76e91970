package capture

// SkipReason says why a packet produced no TCP segment. SkipNone means it
// did.
type SkipReason uint8

// The reasons a packet is skipped.
const (
	// SkipNone means the packet was a TCP segment and was decoded.
	SkipNone SkipReason = iota
	// SkipUnknownLink is a packet of a link type the decoder does not know.
	SkipUnknownLink
	// SkipNotIP is a frame that carries no IP packet (ARP, LLDP, STP,
	// PPP control, a non-IP MPLS payload ...).
	SkipNotIP
	// SkipUDP is a UDP datagram that is not a tunnel the decoder opens.
	SkipUDP
	// SkipICMP is an ICMP or ICMPv6 message.
	SkipICMP
	// SkipOtherIPProto is an IP packet of another protocol (GRE, ESP, SCTP,
	// an IPv6 "no next header" ...).
	SkipOtherIPProto
	// SkipFragment is an IP fragment other than the first fragment of a TCP
	// segment whose whole TCP header it holds.
	SkipFragment
	// SkipTruncated is a packet whose captured bytes end inside a link,
	// tunnel, IP or TCP header.
	SkipTruncated
	// SkipBadLinkHeader is a link-layer header that contradicts itself
	// (a PPPoE version other than 1, an impossible loopback family ...).
	SkipBadLinkHeader
	// SkipBadEncapsulation is a broken tunnel header (GTP-U extension
	// header of length zero or past the message) or a packet nested deeper
	// than the decoder follows.
	SkipBadEncapsulation
	// SkipBadIPHeader is an IP header that lies: wrong version, header
	// length under 20 bytes, total length shorter than the header,
	// malformed IPv4 options or IPv6 extension headers past the payload.
	SkipBadIPHeader
	// SkipBadTCPHeader is a TCP header that lies: data offset under 5, or
	// header longer than the IP packet leaves room for.
	SkipBadTCPHeader
	// SkipTruncatedRecord is a file record cut off by the end of the file.
	SkipTruncatedRecord

	// NumSkipReasons is the number of SkipReason values, for arrays of
	// counters indexed by reason.
	NumSkipReasons
)

var skipReasonNames = [NumSkipReasons]string{
	SkipNone:             "none",
	SkipUnknownLink:      "unknown-link",
	SkipNotIP:            "not-ip",
	SkipUDP:              "udp",
	SkipICMP:             "icmp",
	SkipOtherIPProto:     "other-ip-proto",
	SkipFragment:         "fragment",
	SkipTruncated:        "truncated",
	SkipBadLinkHeader:    "bad-link-header",
	SkipBadEncapsulation: "bad-encapsulation",
	SkipBadIPHeader:      "bad-ip-header",
	SkipBadTCPHeader:     "bad-tcp-header",
	SkipTruncatedRecord:  "truncated-record",
}

// String returns the reason's short kebab-case name, such as "not-ip".
func (r SkipReason) String() string {
	if r < NumSkipReasons {
		return skipReasonNames[r]
	}
	return "unknown-skip-reason"
}

// Malformed reports whether the reason means the packet or record could not
// be parsed, as opposed to being a well-formed packet that is not TCP.
// Strict reading stops at the first malformed packet; an unknown link type
// counts as malformed because nothing in the packet can be read.
func (r SkipReason) Malformed() bool {
	switch r {
	case SkipUnknownLink, SkipTruncated, SkipBadLinkHeader, SkipBadEncapsulation,
		SkipBadIPHeader, SkipBadTCPHeader, SkipTruncatedRecord:
		return true
	}
	return false
}

// skipError carries a SkipReason through gopacket's DecodingLayer API, whose
// DecodeFromBytes can only return an error. It is a one-byte value, so
// converting it to an error does not allocate.
type skipError SkipReason

// Error implements error.
func (e skipError) Error() string { return SkipReason(e).String() }
