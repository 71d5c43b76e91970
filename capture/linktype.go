package capture

import "strconv"

// LinkType is a pcap LINKTYPE_ value: the kind of header each packet of a
// capture starts with.
type LinkType uint32

// The link types the decoder reads.
const (
	// LinkNull is BSD loopback, a 4-byte address family in host byte order.
	LinkNull LinkType = 0
	// LinkEthernet is Ethernet II or 802.3, possibly 802.1Q-tagged.
	LinkEthernet LinkType = 1
	// LinkFDDI is FDDI with an 802.2 LLC/SNAP header.
	LinkFDDI LinkType = 10
	// LinkRawDLT12 is raw IP as some systems number DLT_RAW in files.
	LinkRawDLT12 LinkType = 12
	// LinkRawDLT14 is raw IP as OpenBSD numbers DLT_RAW in files.
	LinkRawDLT14 LinkType = 14
	// LinkRaw is raw IPv4 or IPv6, told apart by the version nibble.
	LinkRaw LinkType = 101
	// LinkLoop is OpenBSD loopback, a 4-byte address family in network
	// byte order.
	LinkLoop LinkType = 108
	// LinkLinuxSLL is the Linux "cooked" header of tcpdump -i any.
	LinkLinuxSLL LinkType = 113
	// LinkIPv4 is raw IPv4.
	LinkIPv4 LinkType = 228
	// LinkIPv6 is raw IPv6.
	LinkIPv6 LinkType = 229
	// LinkLinuxSLL2 is the second Linux "cooked" header of tcpdump -i any.
	LinkLinuxSLL2 LinkType = 276
)

var linkTypeNames = map[LinkType]string{
	LinkNull:      "NULL",
	LinkEthernet:  "EN10MB",
	LinkFDDI:      "FDDI",
	LinkRawDLT12:  "RAW",
	LinkRawDLT14:  "RAW",
	LinkRaw:       "RAW",
	LinkLoop:      "LOOP",
	LinkLinuxSLL:  "LINUX_SLL",
	LinkIPv4:      "IPV4",
	LinkIPv6:      "IPV6",
	LinkLinuxSLL2: "LINUX_SLL2",
}

// LinkTypeName returns the name tcpdump gives a link type ("EN10MB",
// "LINUX_SLL2" ...), or "LINKTYPE_n" for one the decoder does not know.
func LinkTypeName(l LinkType) string {
	if n, ok := linkTypeNames[l]; ok {
		return n
	}
	return "LINKTYPE_" + strconv.FormatUint(uint64(l), 10)
}

// String returns LinkTypeName(l).
func (l LinkType) String() string { return LinkTypeName(l) }

// Known reports whether the decoder can read packets of link type l.
func (l LinkType) Known() bool {
	_, ok := linkTypeNames[l]
	return ok
}
