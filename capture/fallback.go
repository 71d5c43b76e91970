package capture

import (
	"encoding/binary"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/wirestate/wirestate/tracker"
	"github.com/wirestate/wirestate/tracker/seqnum"
)

// maxLayers bounds how many layers the gopacket path decodes in one packet,
// so that nested tunnels or label stacks end in SkipBadEncapsulation rather
// than growing the list of decoded layers.
const maxLayers = 24

// Layer types for the encapsulations gopacket has none for. They are
// registered in gopacket's range for application layer types.
var (
	layerTypeFabricPath = gopacket.RegisterLayerType(1901, gopacket.LayerTypeMetadata{
		Name: "CiscoFabricPath", Decoder: gopacket.DecodeFunc(decodeUnsupported)})
	layerTypeTeredo = gopacket.RegisterLayerType(1902, gopacket.LayerTypeMetadata{
		Name: "Teredo", Decoder: gopacket.DecodeFunc(decodeUnsupported)})
)

// decodeUnsupported is the gopacket.Decoder of this package's layer types,
// which only implement the DecodingLayer API.
func decodeUnsupported(data []byte, p gopacket.PacketBuilder) error {
	return p.NextDecoder(gopacket.LayerTypePayload)
}

// ipState describes the innermost IP header decoded so far.
type ipState struct {
	v6       bool
	src, dst tracker.Addr
	// finalDst is the destination for the TCP checksum pseudo-header: the
	// last address of an IPv6 routing header, else dst.
	finalDst tracker.Addr
	// ipLen is the packet length by the header (Segment.IPLen).
	ipLen uint32
	// ttl is the IPv4 TTL or IPv6 hop limit, ipid the IPv4 ID
	// (Segment.TTL, Segment.IPID).
	ttl  uint8
	ipid uint16
	// end is the offset in the frame just past the packet, by its header.
	end           int
	firstFragment bool
}

// fallback is the gopacket path: one DecodingLayerParser per first layer,
// all sharing layers allocated once. The layers are wrappers that check
// lengths the way the fast path does, record the innermost IP header and TCP
// header in the fallback, and choose the next layer through the same
// classifyEtherType and classifyIPProto as the fast path.
type fallback struct {
	validateChecksums bool

	eth      ethernetLayer
	dot1q    dot1qLayer
	sll      sllLayer
	sll2     sll2Layer
	loopback loopbackLayer
	llc      llcLayer
	snap     snapLayer
	fddi     fddiLayer
	fabric   fabricPathLayer
	pppoe    pppoeLayer
	mpls     mplsLayer
	ip4      ipv4Layer
	ip6      ipv6Layer
	hopByHop ipv6ExtLayer
	routing  ipv6ExtLayer
	destOpts ipv6ExtLayer
	frag     ipv6FragLayer
	udp      udpLayer
	gtp      gtpLayer
	teredo   teredoLayer
	tcp      tcpLayer

	ethernetParser, sllParser, sll2Parser, loopbackParser, fddiParser,
	ipv4Parser, ipv6Parser *gopacket.DecodingLayerParser
	decoded []gopacket.LayerType

	// Per-packet state, reset by decode.
	frame []byte
	depth int
	// stop is the reason to report if decoding stops after the layer
	// decoded last: set by every NextLayerType.
	stop SkipReason
	ip   ipState
	// udpPayloadLen is the UDP payload length by the UDP header; udpTruncated
	// says the capture ends before it.
	udpPayloadLen int
	udpTruncated  bool
	// udpFragment says the UDP datagram is the first fragment of a larger
	// one; it is followed only into tunnels.
	udpFragment bool
	tcpDone     bool
	tcpLen      int
	tcpCaptured []byte
	// recovered is the last panic the parser turned into an error.
	recovered error
	// scratch holds a TCP header whose options the capture cut off, padded
	// with zeros, for gopacket's TCP layer, which needs the whole header.
	scratch [60]byte
}

func newFallback(validateChecksums bool) *fallback {
	fb := &fallback{validateChecksums: validateChecksums, decoded: make([]gopacket.LayerType, 0, maxLayers+1)}
	fb.eth.fb = fb
	fb.dot1q.fb = fb
	fb.sll.fb = fb
	fb.sll2.fb = fb
	fb.loopback.fb = fb
	fb.llc.fb = fb
	fb.snap.fb = fb
	fb.fddi.fb = fb
	fb.fabric.fb = fb
	fb.pppoe.fb = fb
	fb.mpls.fb = fb
	fb.ip4.fb = fb
	fb.ip6.fb = fb
	fb.hopByHop = ipv6ExtLayer{fb: fb, typ: layers.LayerTypeIPv6HopByHop}
	fb.routing = ipv6ExtLayer{fb: fb, typ: layers.LayerTypeIPv6Routing}
	fb.destOpts = ipv6ExtLayer{fb: fb, typ: layers.LayerTypeIPv6Destination}
	fb.frag.fb = fb
	fb.udp.fb = fb
	fb.gtp.fb = fb
	fb.teredo.fb = fb
	fb.tcp.fb = fb

	var dlc gopacket.DecodingLayerContainer = gopacket.DecodingLayerSparse(nil)
	for _, l := range []gopacket.DecodingLayer{
		&fb.eth, &fb.dot1q, &fb.sll, &fb.sll2, &fb.loopback, &fb.llc, &fb.snap,
		&fb.fddi, &fb.fabric, &fb.pppoe, &fb.mpls, &fb.ip4, &fb.ip6,
		&fb.hopByHop, &fb.routing, &fb.destOpts, &fb.frag, &fb.udp, &fb.gtp,
		&fb.teredo, &fb.tcp,
	} {
		dlc = dlc.Put(l)
	}
	newParser := func(first gopacket.LayerType) *gopacket.DecodingLayerParser {
		p := gopacket.NewDecodingLayerParser(first)
		p.IgnoreUnsupported = true
		p.SetDecodingLayerContainer(dlc)
		return p
	}
	fb.ethernetParser = newParser(layers.LayerTypeEthernet)
	fb.sllParser = newParser(layers.LayerTypeLinuxSLL)
	fb.sll2Parser = newParser(layers.LayerTypeLinuxSLL2)
	fb.loopbackParser = newParser(layers.LayerTypeLoopback)
	fb.fddiParser = newParser(layers.LayerTypeFDDI)
	fb.ipv4Parser = newParser(layers.LayerTypeIPv4)
	fb.ipv6Parser = newParser(layers.LayerTypeIPv6)
	return fb
}

// parserFor returns the parser for a packet of link type link, or nil and
// the reason to skip it.
func (fb *fallback) parserFor(link LinkType, data []byte) (*gopacket.DecodingLayerParser, SkipReason) {
	switch link {
	case LinkEthernet:
		return fb.ethernetParser, SkipNone
	case LinkLinuxSLL:
		return fb.sllParser, SkipNone
	case LinkLinuxSLL2:
		return fb.sll2Parser, SkipNone
	case LinkNull, LinkLoop:
		return fb.loopbackParser, SkipNone
	case LinkFDDI:
		return fb.fddiParser, SkipNone
	case LinkIPv4:
		return fb.ipv4Parser, SkipNone
	case LinkIPv6:
		return fb.ipv6Parser, SkipNone
	case LinkRaw, LinkRawDLT12, LinkRawDLT14:
		if len(data) == 0 {
			return nil, SkipTruncated
		}
		switch data[0] >> 4 {
		case 4:
			return fb.ipv4Parser, SkipNone
		case 6:
			return fb.ipv6Parser, SkipNone
		}
		return nil, SkipBadIPHeader
	}
	return nil, SkipUnknownLink
}

// decode decodes one packet with gopacket's DecodingLayerParser.
func (fb *fallback) decode(link LinkType, data []byte, seg *tracker.Segment) SkipReason {
	p, r := fb.parserFor(link, data)
	if p == nil {
		return r
	}
	fb.frame = data
	fb.depth = 0
	fb.stop = SkipTruncated
	fb.ip = ipState{}
	fb.udpTruncated = false
	fb.udpFragment = false
	fb.tcpDone = false
	if err := p.DecodeLayers(data, &fb.decoded); err != nil {
		if r, ok := err.(skipError); ok {
			return SkipReason(r)
		}
		// A layer panicked and the parser recovered; the tests check
		// that this never happens.
		fb.recovered = err
		return SkipBadEncapsulation
	}
	if !fb.tcpDone {
		return fb.stop
	}
	fb.fill(seg)
	return SkipNone
}

// fill copies the decoded TCP header into seg.
func (fb *fallback) fill(seg *tracker.Segment) {
	t := &fb.tcp.TCP
	seg.Src = tracker.Endpoint{Addr: fb.ip.src, Port: uint16(t.SrcPort)}
	seg.Dst = tracker.Endpoint{Addr: fb.ip.dst, Port: uint16(t.DstPort)}
	seg.Seq = seqnum.Value(t.Seq)
	seg.Ack = seqnum.Value(t.Ack)
	seg.Flags = tcpFlags(t)
	seg.Window = t.Window
	hdrLen := int(t.DataOffset) * 4
	seg.PayloadLen = uint32(fb.tcpLen - hdrLen)
	seg.IPLen = fb.ip.ipLen
	seg.TTL, seg.IPID = fb.ip.ttl, fb.ip.ipid
	// Options are read from gopacket's list, keeping only those wholly
	// captured: the header may have been padded from the scratch buffer.
	capturedOpts := min(hdrLen, len(fb.tcpCaptured)) - 20
	off := 0
	for i := range t.Options {
		o := &t.Options[i]
		if o.OptionType == layers.TCPOptionKindEndList {
			break
		}
		n := int(o.OptionLength)
		if o.OptionType == layers.TCPOptionKindNop {
			n = 1
		}
		if off+n > capturedOpts {
			break
		}
		if o.OptionType != layers.TCPOptionKindNop {
			setTCPOption(seg, uint8(o.OptionType), o.OptionData)
		}
		off += n
	}
	if fb.validateChecksums && !fb.ip.firstFragment && len(fb.tcpCaptured) == fb.tcpLen {
		seg.BadChecksum = !tcpChecksumOK(fb.ip.v6, &fb.ip.src, &fb.ip.finalDst, fb.tcpCaptured)
	}
}

// tcpFlags packs gopacket's flag booleans into the header's flag byte.
func tcpFlags(t *layers.TCP) uint8 {
	var f uint8
	for _, b := range [...]struct {
		set bool
		bit uint8
	}{{t.FIN, tracker.FlagFIN}, {t.SYN, tracker.FlagSYN}, {t.RST, tracker.FlagRST}, {t.PSH, tracker.FlagPSH},
		{t.ACK, tracker.FlagACK}, {t.URG, tracker.FlagURG}, {t.ECE, tracker.FlagECE}, {t.CWR, tracker.FlagCWR}} {
		if b.set {
			f |= b.bit
		}
	}
	return f
}

// offset returns where b starts in the frame being decoded. Every layer's
// payload is a reslice of the frame, so capacities tell the position.
func (fb *fallback) offset(b []byte) int { return cap(fb.frame) - cap(b) }

// enter counts one more layer and fails once the packet nests too deep.
func (fb *fallback) enter() error {
	fb.depth++
	if fb.depth > maxLayers {
		return skipError(SkipBadEncapsulation)
	}
	return nil
}

// next records why decoding would stop if the layer of type t cannot follow
// (its payload is empty), and returns t.
func (fb *fallback) next(t gopacket.LayerType, ifEmpty SkipReason) gopacket.LayerType {
	fb.stop = ifEmpty
	return t
}

// stopAt ends decoding with reason r.
func (fb *fallback) stopAt(r SkipReason) gopacket.LayerType {
	fb.stop = r
	return gopacket.LayerTypeZero
}

// etherNext returns the layer following EtherType t.
func (fb *fallback) etherNext(t uint16) gopacket.LayerType {
	switch classifyEtherType(t) {
	case etherIPv4:
		return fb.next(layers.LayerTypeIPv4, SkipTruncated)
	case etherIPv6:
		return fb.next(layers.LayerTypeIPv6, SkipTruncated)
	case etherVLAN:
		return fb.next(layers.LayerTypeDot1Q, SkipTruncated)
	case etherMPLS:
		return fb.next(layers.LayerTypeMPLS, SkipTruncated)
	case etherPPPoE:
		return fb.next(layers.LayerTypePPPoE, SkipTruncated)
	case etherFabricPath:
		return fb.next(layerTypeFabricPath, SkipTruncated)
	case etherLLC:
		return fb.next(layers.LayerTypeLLC, SkipTruncated)
	}
	return fb.stopAt(SkipNotIP)
}

// ipVersionNext returns the layer for an IP packet starting with payload,
// whose type is told by its version nibble (MPLS, GTP-U).
func (fb *fallback) ipVersionNext(payload []byte) gopacket.LayerType {
	if len(payload) == 0 {
		return fb.stopAt(SkipTruncated)
	}
	switch payload[0] >> 4 {
	case 4:
		return fb.next(layers.LayerTypeIPv4, SkipTruncated)
	case 6:
		return fb.next(layers.LayerTypeIPv6, SkipTruncated)
	}
	return fb.stopAt(SkipNotIP)
}

// extStop is the reason to skip when an IPv6 extension header of need bytes
// starting at payload does not fit: a lie if the IPv6 payload length leaves
// no room for it, else a short capture.
func (fb *fallback) extStop(payload []byte, need int) SkipReason {
	if fb.offset(payload)+need > fb.ip.end {
		return SkipBadIPHeader
	}
	return SkipTruncated
}

// ipNext returns the layer following an IP header (or IPv6 extension
// header) of class c whose payload, bounded by the IP length, is payload.
func (fb *fallback) ipNext(c ipClass, payload []byte) gopacket.LayerType {
	switch c {
	case ipTCP:
		fb.stop = SkipTruncated
		if len(payload) == 0 {
			fb.stop = tcpLengthCheck(fb.ip.end-fb.offset(payload), 0, 0, fb.ip.firstFragment)
		}
		return layers.LayerTypeTCP
	case ipUDP:
		return fb.next(layers.LayerTypeUDP, fb.udpSkip())
	case ipICMP:
		return fb.stopAt(SkipICMP)
	case ipInIPv4:
		return fb.next(layers.LayerTypeIPv4, SkipTruncated)
	case ipInIPv6:
		return fb.next(layers.LayerTypeIPv6, SkipTruncated)
	case ipHopByHop:
		return fb.next(layers.LayerTypeIPv6HopByHop, fb.extStop(payload, 2))
	case ipRouting:
		return fb.next(layers.LayerTypeIPv6Routing, fb.extStop(payload, 2))
	case ipFragment:
		return fb.next(layers.LayerTypeIPv6Fragment, fb.extStop(payload, 8))
	case ipDestOptions:
		return fb.next(layers.LayerTypeIPv6Destination, fb.extStop(payload, 2))
	}
	return fb.stopAt(SkipOtherIPProto)
}

// udpSkip is the reason to skip a UDP datagram that is not a tunnel: a
// fragment if it is the first fragment of a larger one.
func (fb *fallback) udpSkip() SkipReason {
	if fb.udpFragment {
		return SkipFragment
	}
	return SkipUDP
}

// be16 reads a big-endian uint16.
func be16(b []byte) uint16 { return binary.BigEndian.Uint16(b) }
