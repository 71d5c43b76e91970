package capture

import (
	"encoding/binary"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/wirestate/wirestate/tracker"
)

// This file holds the gopacket path's IP, UDP and TCP layers: gopacket's
// own, wrapped to apply the same length rules as the fast path and to
// record the innermost IP header in the fallback.

// ipv4Layer is gopacket's IPv4 layer.
type ipv4Layer struct {
	layers.IPv4
	fb *fallback
}

// DecodeFromBytes implements gopacket.DecodingLayer.
func (l *ipv4Layer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	fb := l.fb
	if err := fb.enter(); err != nil {
		return err
	}
	if len(data) < 20 {
		return skipError(SkipTruncated)
	}
	if data[0]>>4 != 4 {
		return skipError(SkipBadIPHeader)
	}
	hdrLen := int(data[0]&0x0f) * 4
	if hdrLen < 20 {
		return skipError(SkipBadIPHeader)
	}
	total := int(be16(data[2:4]))
	if total == 0 {
		total = len(data) // TCP segmentation offload, as in fastIPv4
	}
	if total < hdrLen {
		return skipError(SkipBadIPHeader)
	}
	if len(data) < hdrLen {
		return skipError(SkipTruncated)
	}
	// What gopacket still rejects after these checks are malformed options.
	if err := l.IPv4.DecodeFromBytes(data, df); err != nil {
		return skipError(SkipBadIPHeader)
	}
	fb.ip = ipState{
		src:   tracker.AddrFromSlice(l.SrcIP),
		dst:   tracker.AddrFromSlice(l.DstIP),
		ipLen: uint32(total),
		ttl:   data[8],
		ipid:  be16(data[4:6]),
		end:   fb.offset(data) + total,
	}
	fb.ip.finalDst = fb.ip.dst
	return nil
}

// NextLayerType implements gopacket.DecodingLayer.
func (l *ipv4Layer) NextLayerType() gopacket.LayerType {
	fb := l.fb
	if l.FragOffset != 0 {
		return fb.stopAt(SkipFragment)
	}
	c := classifyIPProto(uint8(l.Protocol), false)
	if l.Flags&layers.IPv4MoreFragments != 0 && !fb.firstFragment(c) {
		return fb.stopAt(SkipFragment)
	}
	return fb.ipNext(c, l.Payload)
}

// ipv6Layer is gopacket's IPv6 layer, which also decodes a hop-by-hop
// header and jumbogram lengths.
type ipv6Layer struct {
	layers.IPv6
	fb *fallback
}

// DecodeFromBytes implements gopacket.DecodingLayer.
func (l *ipv6Layer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	fb := l.fb
	if err := fb.enter(); err != nil {
		return err
	}
	if len(data) < 40 {
		return skipError(SkipTruncated)
	}
	if data[0]>>4 != 6 {
		return skipError(SkipBadIPHeader)
	}
	payloadLen := int(be16(data[4:6]))
	if payloadLen == 0 && data[6] != ipProtoHopByHop {
		// No jumbogram option: TCP segmentation offload or Linux BIG TCP
		// on the sending host, or an empty packet such as a Teredo
		// bubble. gopacket rejects it; the captured bytes are the packet,
		// as for IPv4.
		l.decodeUnsizedHeader(data)
		payloadLen = len(data) - 40
	} else if err := l.IPv6.DecodeFromBytes(data, df); err != nil {
		// The hop-by-hop header, or the jumbogram option, is bad or cut.
		if payloadLen != 0 && 40+payloadLen > len(data) {
			return skipError(SkipTruncated)
		}
		return skipError(SkipBadIPHeader)
	}
	if payloadLen == 0 {
		payloadLen = int(jumboLength(l.HopByHop))
	}
	fb.ip = ipState{
		v6:    true,
		src:   tracker.Addr(data[8:24]),
		dst:   tracker.Addr(data[24:40]),
		ipLen: uint32(min(40+payloadLen, 1<<32-1)),
		ttl:   data[7],
		end:   fb.offset(data) + 40 + payloadLen,
	}
	fb.ip.finalDst = fb.ip.dst
	return nil
}

// decodeUnsizedHeader fills the layer from an IPv6 header whose payload
// length is zero, taking the rest of data as the payload.
func (l *ipv6Layer) decodeUnsizedHeader(data []byte) {
	l.IPv6 = layers.IPv6{
		BaseLayer:    layers.BaseLayer{Contents: data[:40], Payload: data[40:]},
		Version:      6,
		TrafficClass: uint8(be16(data[0:2]) >> 4),
		FlowLabel:    binary.BigEndian.Uint32(data[0:4]) & 0x000FFFFF,
		NextHeader:   layers.IPProtocol(data[6]),
		HopLimit:     data[7],
		SrcIP:        data[8:24],
		DstIP:        data[24:40],
	}
}

// jumboLength returns the payload length of a jumbogram option (RFC 2675)
// in hbh, or 0.
func jumboLength(hbh *layers.IPv6HopByHop) uint32 {
	if hbh == nil {
		return 0
	}
	for _, o := range hbh.Options {
		if o.OptionType == 0xC2 && len(o.OptionData) == 4 {
			return binary.BigEndian.Uint32(o.OptionData)
		}
	}
	return 0
}

// NextLayerType implements gopacket.DecodingLayer.
func (l *ipv6Layer) NextLayerType() gopacket.LayerType {
	next := l.NextHeader
	if l.HopByHop != nil {
		next = l.HopByHop.NextHeader
	}
	return l.fb.ipNext(classifyIPProto(uint8(next), true), l.Payload)
}

// ipv6ExtLayer is gopacket's extension-header skipper, one instance per
// header type so that the routing header can be told apart.
type ipv6ExtLayer struct {
	layers.IPv6ExtensionSkipper
	fb  *fallback
	typ gopacket.LayerType
}

// CanDecode implements gopacket.DecodingLayer.
func (l *ipv6ExtLayer) CanDecode() gopacket.LayerClass { return l.typ }

// DecodeFromBytes implements gopacket.DecodingLayer.
func (l *ipv6ExtLayer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	fb := l.fb
	if err := fb.enter(); err != nil {
		return err
	}
	if len(data) < 2 {
		return skipError(fb.extStop(data, 2))
	}
	if need := (int(data[1]) + 1) * 8; len(data) < need {
		return skipError(fb.extStop(data, need))
	}
	if err := l.IPv6ExtensionSkipper.DecodeFromBytes(data, df); err != nil {
		return skipError(SkipBadIPHeader)
	}
	if l.typ == layers.LayerTypeIPv6Routing {
		fb.routingHeader(l.Contents)
	}
	return nil
}

// NextLayerType implements gopacket.DecodingLayer.
func (l *ipv6ExtLayer) NextLayerType() gopacket.LayerType {
	return l.fb.ipNext(classifyIPProto(uint8(l.NextHeader), true), l.Payload)
}

// routingHeader notes the final destination named by an IPv6 routing header
// with segments left, for the checksum pseudo-header (RFC 8200 section 8.1).
func (fb *fallback) routingHeader(rh []byte) {
	if len(rh) < 8 || rh[3] == 0 {
		return
	}
	switch rh[2] {
	case 0: // source route: the last address is the final one
		if n := (len(rh) - 8) / 16; n > 0 {
			fb.ip.finalDst = tracker.Addr(rh[8+16*(n-1) : 8+16*n])
		}
	case 2, 4: // Mobile IPv6 home address; segment routing list, reversed
		if len(rh) >= 24 {
			fb.ip.finalDst = tracker.Addr(rh[8:24])
		}
	}
}

// firstFragment notes that the innermost IP packet is the first fragment of
// a packet of class c, and reports whether decoding goes on: for TCP (whose
// whole header must then be in the fragment) and for the tunnels (UDP and IP
// in IP), whose inner headers are in the first fragment; the inner packet
// then looks like a short capture, and its lengths still come from its own
// IP header.
func (fb *fallback) firstFragment(c ipClass) bool {
	switch c {
	case ipTCP:
		fb.ip.firstFragment = true
		return true
	case ipUDP:
		fb.udpFragment = true
		return true
	case ipInIPv4, ipInIPv6:
		return true
	}
	return false
}

// ipv6FragLayer is gopacket's IPv6 fragment header layer.
type ipv6FragLayer struct {
	layers.IPv6Fragment
	fb *fallback
}

// DecodeFromBytes implements gopacket.DecodingLayer.
func (l *ipv6FragLayer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if err := l.fb.enter(); err != nil {
		return err
	}
	if len(data) < 8 {
		return skipError(l.fb.extStop(data, 8))
	}
	if err := l.IPv6Fragment.DecodeFromBytes(data, df); err != nil {
		return skipError(SkipBadIPHeader)
	}
	return nil
}

// NextLayerType implements gopacket.DecodingLayer.
func (l *ipv6FragLayer) NextLayerType() gopacket.LayerType {
	fb := l.fb
	if l.FragmentOffset != 0 {
		return fb.stopAt(SkipFragment)
	}
	c := classifyIPProto(uint8(l.NextHeader), true)
	if l.MoreFragments && !fb.firstFragment(c) {
		return fb.stopAt(SkipFragment)
	}
	return fb.ipNext(c, l.Payload)
}

// udpLayer is gopacket's UDP layer; only tunnel ports are followed.
type udpLayer struct {
	layers.UDP
	fb *fallback
}

// DecodeFromBytes implements gopacket.DecodingLayer.
func (l *udpLayer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	fb := l.fb
	if err := fb.enter(); err != nil {
		return err
	}
	if len(data) < 8 {
		return skipError(fb.udpSkip())
	}
	if err := l.UDP.DecodeFromBytes(data, df); err != nil {
		return skipError(fb.udpSkip())
	}
	fb.udpPayloadLen = len(data) - 8
	if l.Length != 0 {
		fb.udpPayloadLen = int(l.Length) - 8
	}
	fb.udpTruncated = fb.udpPayloadLen > len(l.Payload)
	return nil
}

// NextLayerType implements gopacket.DecodingLayer.
func (l *udpLayer) NextLayerType() gopacket.LayerType {
	fb := l.fb
	ifEmpty := fb.udpSkip()
	if fb.udpTruncated {
		ifEmpty = SkipTruncated
	}
	switch {
	case l.SrcPort == udpPortGTPU || l.DstPort == udpPortGTPU:
		return fb.next(layers.LayerTypeGTPv1U, ifEmpty)
	case l.SrcPort == udpPortTeredo || l.DstPort == udpPortTeredo:
		return fb.next(layerTypeTeredo, ifEmpty)
	}
	return fb.stopAt(fb.udpSkip())
}

// tcpLayer is gopacket's TCP layer. A header whose options the capture cut
// off is copied, zero-padded, to the fallback's scratch buffer first, since
// gopacket rejects it; fill then ignores options past the captured bytes.
type tcpLayer struct {
	layers.TCP
	fb *fallback
}

// DecodeFromBytes implements gopacket.DecodingLayer.
func (l *tcpLayer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	fb := l.fb
	if err := fb.enter(); err != nil {
		return err
	}
	tcpLen := fb.ip.end - fb.offset(data)
	var dataOffset uint8
	if len(data) >= 20 {
		dataOffset = data[12] >> 4
	}
	if r := tcpLengthCheck(tcpLen, len(data), dataOffset, fb.ip.firstFragment); r != SkipNone {
		return skipError(r)
	}
	hdr := data
	if hdrLen := int(dataOffset) * 4; hdrLen > len(data) {
		n := copy(fb.scratch[:], data)
		clear(fb.scratch[n:hdrLen])
		hdr = fb.scratch[:hdrLen]
	}
	if err := l.TCP.DecodeFromBytes(hdr, df); err != nil {
		return skipError(SkipBadTCPHeader)
	}
	fb.tcpDone = true
	fb.tcpLen = tcpLen
	fb.tcpCaptured = data
	return nil
}

// NextLayerType implements gopacket.DecodingLayer.
func (l *tcpLayer) NextLayerType() gopacket.LayerType { return l.fb.stopAt(SkipNone) }
