package capture

import (
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// This file holds the gopacket path's link-layer and layer-2 encapsulation
// layers: gopacket's own where they suit, wrapped to check lengths and to
// choose the next layer; hand-written ones where gopacket has no
// DecodingLayer (FDDI, PPPoE, MPLS, FabricPath) or rejects real traffic
// (Linux SLL with a hardware address longer than 8 bytes, as IPoIB has).

// ethernetLayer is gopacket's Ethernet layer.
type ethernetLayer struct {
	layers.Ethernet
	fb *fallback
}

// DecodeFromBytes implements gopacket.DecodingLayer.
func (l *ethernetLayer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if err := l.fb.enter(); err != nil {
		return err
	}
	if len(data) < 14 {
		return skipError(SkipTruncated)
	}
	if err := l.Ethernet.DecodeFromBytes(data, df); err != nil {
		return skipError(SkipBadLinkHeader)
	}
	return nil
}

// NextLayerType implements gopacket.DecodingLayer.
func (l *ethernetLayer) NextLayerType() gopacket.LayerType {
	return l.fb.etherNext(be16(l.Contents[12:14]))
}

// dot1qLayer is gopacket's 802.1Q tag layer, also used for 802.1ad tags.
type dot1qLayer struct {
	layers.Dot1Q
	fb *fallback
}

// DecodeFromBytes implements gopacket.DecodingLayer.
func (l *dot1qLayer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if err := l.fb.enter(); err != nil {
		return err
	}
	if len(data) < 4 {
		return skipError(SkipTruncated)
	}
	if err := l.Dot1Q.DecodeFromBytes(data, df); err != nil {
		return skipError(SkipBadLinkHeader)
	}
	return nil
}

// NextLayerType implements gopacket.DecodingLayer.
func (l *dot1qLayer) NextLayerType() gopacket.LayerType {
	return l.fb.etherNext(uint16(l.Type))
}

// Linux cooked-header protocol values below the EtherType range.
const (
	sllProtocolLLC    = 0x0004
	arpHardwareNetlnk = 824
)

// sllNext returns the layer after a Linux cooked header of ARPHRD type
// hwType and protocol field protocol.
func (fb *fallback) sllNext(hwType, protocol uint16) gopacket.LayerType {
	if hwType == arpHardwareNetlnk {
		return fb.stopAt(SkipNotIP)
	}
	if protocol == sllProtocolLLC {
		return fb.next(layers.LayerTypeLLC, SkipTruncated)
	}
	if protocol < etherTypeMinValue {
		return fb.stopAt(SkipNotIP)
	}
	return fb.etherNext(protocol)
}

// sllLayer decodes the 16-byte Linux cooked header (LINKTYPE_LINUX_SLL).
type sllLayer struct {
	layers.BaseLayer
	fb               *fallback
	hwType, protocol uint16
}

// CanDecode implements gopacket.DecodingLayer.
func (l *sllLayer) CanDecode() gopacket.LayerClass { return layers.LayerTypeLinuxSLL }

// DecodeFromBytes implements gopacket.DecodingLayer.
func (l *sllLayer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if err := l.fb.enter(); err != nil {
		return err
	}
	if len(data) < 16 {
		return skipError(SkipTruncated)
	}
	l.hwType = be16(data[2:4])
	l.protocol = be16(data[14:16])
	l.BaseLayer = layers.BaseLayer{Contents: data[:16], Payload: data[16:]}
	return nil
}

// NextLayerType implements gopacket.DecodingLayer.
func (l *sllLayer) NextLayerType() gopacket.LayerType { return l.fb.sllNext(l.hwType, l.protocol) }

// sll2Layer decodes the 20-byte second Linux cooked header
// (LINKTYPE_LINUX_SLL2).
type sll2Layer struct {
	layers.BaseLayer
	fb               *fallback
	hwType, protocol uint16
}

// CanDecode implements gopacket.DecodingLayer.
func (l *sll2Layer) CanDecode() gopacket.LayerClass { return layers.LayerTypeLinuxSLL2 }

// DecodeFromBytes implements gopacket.DecodingLayer.
func (l *sll2Layer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if err := l.fb.enter(); err != nil {
		return err
	}
	if len(data) < 20 {
		return skipError(SkipTruncated)
	}
	l.protocol = be16(data[0:2])
	l.hwType = be16(data[8:10])
	l.BaseLayer = layers.BaseLayer{Contents: data[:20], Payload: data[20:]}
	return nil
}

// NextLayerType implements gopacket.DecodingLayer.
func (l *sll2Layer) NextLayerType() gopacket.LayerType { return l.fb.sllNext(l.hwType, l.protocol) }

// loopbackLayer is gopacket's BSD loopback layer (LINKTYPE_NULL and
// LINKTYPE_LOOP: it tells the two byte orders apart).
type loopbackLayer struct {
	layers.Loopback
	fb *fallback
}

// DecodeFromBytes implements gopacket.DecodingLayer.
func (l *loopbackLayer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if err := l.fb.enter(); err != nil {
		return err
	}
	if len(data) < 4 {
		return skipError(SkipTruncated)
	}
	if err := l.Loopback.DecodeFromBytes(data, df); err != nil {
		return skipError(SkipBadLinkHeader)
	}
	return nil
}

// NextLayerType implements gopacket.DecodingLayer.
func (l *loopbackLayer) NextLayerType() gopacket.LayerType {
	switch l.Family {
	case layers.ProtocolFamilyIPv4:
		return l.fb.next(layers.LayerTypeIPv4, SkipTruncated)
	case layers.ProtocolFamilyIPv6BSD, layers.ProtocolFamilyIPv6FreeBSD,
		layers.ProtocolFamilyIPv6Darwin, layers.ProtocolFamilyIPv6Linux:
		return l.fb.next(layers.LayerTypeIPv6, SkipTruncated)
	}
	return l.fb.stopAt(SkipNotIP)
}

// llcLayer is gopacket's 802.2 LLC layer; only SNAP is followed.
type llcLayer struct {
	layers.LLC
	fb *fallback
}

// DecodeFromBytes implements gopacket.DecodingLayer.
func (l *llcLayer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if err := l.fb.enter(); err != nil {
		return err
	}
	if err := l.LLC.DecodeFromBytes(data, df); err != nil {
		return skipError(SkipTruncated) // gopacket only fails on short headers
	}
	return nil
}

// NextLayerType implements gopacket.DecodingLayer.
func (l *llcLayer) NextLayerType() gopacket.LayerType {
	if l.DSAP == 0xAA && l.SSAP == 0xAA {
		return l.fb.next(layers.LayerTypeSNAP, SkipTruncated)
	}
	return l.fb.stopAt(SkipNotIP)
}

// snapLayer is gopacket's SNAP layer.
type snapLayer struct {
	layers.SNAP
	fb *fallback
}

// DecodeFromBytes implements gopacket.DecodingLayer.
func (l *snapLayer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if err := l.fb.enter(); err != nil {
		return err
	}
	if err := l.SNAP.DecodeFromBytes(data, df); err != nil {
		return skipError(SkipTruncated) // gopacket only fails on short headers
	}
	return nil
}

// NextLayerType implements gopacket.DecodingLayer.
func (l *snapLayer) NextLayerType() gopacket.LayerType { return l.fb.etherNext(uint16(l.Type)) }

// fddiLayer decodes the 13-byte FDDI MAC header; LLC frames go on to LLC.
type fddiLayer struct {
	layers.BaseLayer
	fb           *fallback
	frameControl uint8
}

// CanDecode implements gopacket.DecodingLayer.
func (l *fddiLayer) CanDecode() gopacket.LayerClass { return layers.LayerTypeFDDI }

// DecodeFromBytes implements gopacket.DecodingLayer.
func (l *fddiLayer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if err := l.fb.enter(); err != nil {
		return err
	}
	if len(data) < 13 {
		return skipError(SkipTruncated)
	}
	l.frameControl = data[0]
	l.BaseLayer = layers.BaseLayer{Contents: data[:13], Payload: data[13:]}
	return nil
}

// NextLayerType implements gopacket.DecodingLayer.
func (l *fddiLayer) NextLayerType() gopacket.LayerType {
	// Frame control CLFF ZZZZ: FF = 01 marks an LLC frame.
	if l.frameControl&0x30 == 0x10 {
		return l.fb.next(layers.LayerTypeLLC, SkipTruncated)
	}
	return l.fb.stopAt(SkipNotIP)
}

// fabricPathLayer skips the rest of a Cisco FabricPath header. The header
// is 16 bytes: outer destination and source MACs, EtherType 0x8903 (those
// 14 bytes decoded as Ethernet) and a 2-byte FTag/TTL field; the original
// Ethernet frame follows.
type fabricPathLayer struct {
	layers.BaseLayer
	fb *fallback
}

// CanDecode implements gopacket.DecodingLayer.
func (l *fabricPathLayer) CanDecode() gopacket.LayerClass { return layerTypeFabricPath }

// DecodeFromBytes implements gopacket.DecodingLayer.
func (l *fabricPathLayer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if err := l.fb.enter(); err != nil {
		return err
	}
	if len(data) < 2 {
		return skipError(SkipTruncated)
	}
	l.BaseLayer = layers.BaseLayer{Contents: data[:2], Payload: data[2:]}
	return nil
}

// NextLayerType implements gopacket.DecodingLayer.
func (l *fabricPathLayer) NextLayerType() gopacket.LayerType {
	return l.fb.next(layers.LayerTypeEthernet, SkipTruncated)
}

// PPP protocol numbers of IP.
const (
	pppProtocolIPv4 = 0x0021
	pppProtocolIPv6 = 0x0057
)

// pppoeLayer decodes a PPPoE session header and the PPP protocol field
// after it (RFC 2516, RFC 1661).
type pppoeLayer struct {
	layers.BaseLayer
	fb       *fallback
	protocol uint16
}

// CanDecode implements gopacket.DecodingLayer.
func (l *pppoeLayer) CanDecode() gopacket.LayerClass { return layers.LayerTypePPPoE }

// DecodeFromBytes implements gopacket.DecodingLayer.
func (l *pppoeLayer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if err := l.fb.enter(); err != nil {
		return err
	}
	if len(data) < 6 {
		return skipError(SkipTruncated)
	}
	if data[0] != 0x11 { // version 1, type 1
		return skipError(SkipBadLinkHeader)
	}
	l.protocol = 0
	if data[1] != 0 { // not session data
		l.BaseLayer = layers.BaseLayer{Contents: data[:6]}
		return nil
	}
	// The payload is not bounded by the PPPoE length: like Zeek, the
	// decoder trusts the IP header, and some access concentrators pad the
	// IP packet without updating the PPPoE length.
	length := int(be16(data[4:6]))
	body := data[6:]
	n := 2
	if length >= 1 && len(body) >= 1 && body[0]&1 == 1 {
		n = 1 // protocol field compression
	}
	if length < n {
		return skipError(SkipBadLinkHeader)
	}
	if len(body) < n {
		return skipError(SkipTruncated)
	}
	if n == 1 {
		l.protocol = uint16(body[0])
	} else {
		l.protocol = be16(body[:2])
	}
	l.BaseLayer = layers.BaseLayer{Contents: data[:6+n], Payload: body[n:]}
	return nil
}

// NextLayerType implements gopacket.DecodingLayer.
func (l *pppoeLayer) NextLayerType() gopacket.LayerType {
	switch l.protocol {
	case pppProtocolIPv4:
		return l.fb.next(layers.LayerTypeIPv4, SkipTruncated)
	case pppProtocolIPv6:
		return l.fb.next(layers.LayerTypeIPv6, SkipTruncated)
	}
	return l.fb.stopAt(SkipNotIP)
}

// mplsLayer decodes a whole MPLS label stack (RFC 3032); the payload's type
// is guessed from its IP version nibble, as routers and Zeek do.
type mplsLayer struct {
	layers.BaseLayer
	fb *fallback
}

// CanDecode implements gopacket.DecodingLayer.
func (l *mplsLayer) CanDecode() gopacket.LayerClass { return layers.LayerTypeMPLS }

// DecodeFromBytes implements gopacket.DecodingLayer.
func (l *mplsLayer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	if err := l.fb.enter(); err != nil {
		return err
	}
	off := 0
	for {
		if len(data) < off+4 {
			return skipError(SkipTruncated)
		}
		bottom := data[off+2]&1 == 1
		off += 4
		if bottom {
			break
		}
	}
	l.BaseLayer = layers.BaseLayer{Contents: data[:off], Payload: data[off:]}
	return nil
}

// NextLayerType implements gopacket.DecodingLayer.
func (l *mplsLayer) NextLayerType() gopacket.LayerType { return l.fb.ipVersionNext(l.Payload) }
