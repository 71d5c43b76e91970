package capture

// EtherType values the decoder follows.
const (
	etherTypeIPv4       = 0x0800
	etherTypeIPv6       = 0x86DD
	etherTypeDot1Q      = 0x8100
	etherTypeQinQ       = 0x88A8
	etherTypeQinQOld    = 0x9100
	etherTypeMPLS       = 0x8847
	etherTypeMPLSMcast  = 0x8848
	etherTypePPPoE      = 0x8864
	etherTypeFabricPath = 0x8903
	// etherTypeMinValue is the smallest EtherType; smaller values in the
	// type field are 802.3 lengths, and an 802.2 LLC header follows.
	etherTypeMinValue = 0x0600
)

// etherClass groups EtherTypes by how the decoder goes on after them. Both
// the fast path and the gopacket path dispatch through classifyEtherType so
// that they follow the same encapsulations.
type etherClass uint8

const (
	etherNotIP etherClass = iota
	etherIPv4
	etherIPv6
	etherVLAN
	etherMPLS
	etherPPPoE
	etherFabricPath
	etherLLC
)

func classifyEtherType(t uint16) etherClass {
	switch t {
	case etherTypeIPv4:
		return etherIPv4
	case etherTypeIPv6:
		return etherIPv6
	case etherTypeDot1Q, etherTypeQinQ, etherTypeQinQOld:
		return etherVLAN
	case etherTypeMPLS, etherTypeMPLSMcast:
		return etherMPLS
	case etherTypePPPoE:
		return etherPPPoE
	case etherTypeFabricPath:
		return etherFabricPath
	}
	if t < etherTypeMinValue {
		return etherLLC
	}
	return etherNotIP
}

// IP protocol numbers the decoder follows.
const (
	ipProtoHopByHop    = 0
	ipProtoICMP        = 1
	ipProtoIPv4        = 4
	ipProtoTCP         = 6
	ipProtoUDP         = 17
	ipProtoIPv6        = 41
	ipProtoRouting     = 43
	ipProtoFragment    = 44
	ipProtoICMPv6      = 58
	ipProtoDestOptions = 60
)

// UDP ports of the tunnels the decoder opens.
const (
	udpPortGTPU   = 2152
	udpPortTeredo = 3544
)

// ipClass groups IP protocol numbers by how the decoder goes on after them;
// like etherClass it is shared by both decoding paths.
type ipClass uint8

const (
	ipOther ipClass = iota
	ipTCP
	ipUDP
	ipICMP
	ipInIPv4
	ipInIPv6
	ipHopByHop
	ipRouting
	ipFragment
	ipDestOptions
)

// classifyIPProto classifies the protocol (IPv4) or next header (IPv6) p.
// IPv6 extension header numbers are only extension headers inside IPv6.
func classifyIPProto(p uint8, v6 bool) ipClass {
	switch p {
	case ipProtoTCP:
		return ipTCP
	case ipProtoUDP:
		return ipUDP
	case ipProtoICMP, ipProtoICMPv6:
		return ipICMP
	case ipProtoIPv4:
		return ipInIPv4
	case ipProtoIPv6:
		return ipInIPv6
	}
	if v6 {
		switch p {
		case ipProtoHopByHop:
			return ipHopByHop
		case ipProtoRouting:
			return ipRouting
		case ipProtoFragment:
			return ipFragment
		case ipProtoDestOptions:
			return ipDestOptions
		}
	}
	return ipOther
}

// isTunnelPort reports whether a UDP port is one of a tunnel the decoder
// opens.
func isTunnelPort(p uint16) bool { return p == udpPortGTPU || p == udpPortTeredo }
