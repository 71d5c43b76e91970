package capture

import (
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// This file holds the gopacket path's UDP tunnel layers. Both are
// hand-written: gopacket's GTPv1U needs the whole message captured and
// allocates for extension headers, and it has no Teredo layer. A datagram on
// a tunnel port that is not a well-formed tunnel packet is skipped as UDP.

// gtpLayer decodes a GTP-U header (3GPP TS 29.281): the 8 mandatory bytes,
// the 4 optional ones when any of the E, S and PN flags is set, and the
// chain of extension headers. Only G-PDUs (message type 255) carry user
// packets; the payload is bounded by the message length.
type gtpLayer struct {
	layers.BaseLayer
	fb *fallback
	// end is where the message ends by its length field, from the header.
	end, hdrLen int
}

// CanDecode implements gopacket.DecodingLayer.
func (l *gtpLayer) CanDecode() gopacket.LayerClass { return layers.LayerTypeGTPv1U }

// DecodeFromBytes implements gopacket.DecodingLayer.
func (l *gtpLayer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	fb := l.fb
	if err := fb.enter(); err != nil {
		return err
	}
	short := skipError(fb.udpSkip())
	if fb.udpTruncated {
		short = skipError(SkipTruncated)
	}
	if len(data) < 8 {
		return short
	}
	flags := data[0]
	if flags>>5 != 1 || flags&0x10 == 0 || data[1] != 0xFF {
		return skipError(fb.udpSkip()) // not GTPv1 (GTP' or v2), or not a G-PDU
	}
	end := 8 + int(be16(data[2:4]))
	hdr := 8
	if flags&0x07 != 0 {
		hdr = 12
		if hdr > end {
			return skipError(SkipBadEncapsulation)
		}
		if len(data) < hdr {
			return skipError(SkipTruncated)
		}
		for next := data[11]; next != 0; {
			if hdr+1 > end {
				return skipError(SkipBadEncapsulation)
			}
			if len(data) < hdr+1 {
				return skipError(SkipTruncated)
			}
			n := int(data[hdr]) * 4
			if n == 0 || hdr+n > end {
				return skipError(SkipBadEncapsulation)
			}
			if len(data) < hdr+n {
				return skipError(SkipTruncated)
			}
			next = data[hdr+n-1]
			hdr += n
		}
	}
	if hdr > end {
		return skipError(SkipBadEncapsulation)
	}
	l.end, l.hdrLen = end, hdr
	l.BaseLayer = layers.BaseLayer{Contents: data[:hdr], Payload: data[hdr:min(end, len(data))]}
	return nil
}

// NextLayerType implements gopacket.DecodingLayer.
func (l *gtpLayer) NextLayerType() gopacket.LayerType {
	if len(l.Payload) == 0 && l.end == l.hdrLen {
		return l.fb.stopAt(SkipNotIP) // a G-PDU without a packet
	}
	return l.fb.ipVersionNext(l.Payload)
}

// teredoLayer decodes Teredo (RFC 4380): optional origin indication and
// authentication headers, then an IPv6 packet, as Zeek's Teredo analyzer
// reads it. The IPv6 payload length must account for the rest of the UDP
// datagram exactly, else the datagram is not Teredo.
type teredoLayer struct {
	layers.BaseLayer
	fb *fallback
}

// CanDecode implements gopacket.DecodingLayer.
func (l *teredoLayer) CanDecode() gopacket.LayerClass { return layerTypeTeredo }

// DecodeFromBytes implements gopacket.DecodingLayer.
func (l *teredoLayer) DecodeFromBytes(data []byte, df gopacket.DecodeFeedback) error {
	fb := l.fb
	if err := fb.enter(); err != nil {
		return err
	}
	notTeredo := skipError(fb.udpSkip())
	off := 0
	origin, auth := false, false
	for {
		if len(data)-off < 2 {
			return notTeredo
		}
		tag := be16(data[off : off+2])
		if tag>>12 == 6 {
			break
		}
		switch {
		case tag == 0 && !origin: // origin indication
			if len(data)-off < 8 {
				return notTeredo
			}
			off += 8
			origin = true
		case tag == 1 && !origin && !auth: // authentication
			if len(data)-off < 4 {
				return notTeredo
			}
			n := 4 + int(data[off+2]) + int(data[off+3]) + 8 + 1
			if len(data)-off < n {
				return notTeredo
			}
			off += n
			auth = true
		default:
			return notTeredo
		}
	}
	ip := data[off:]
	if len(ip) < 40 {
		if fb.udpTruncated {
			return skipError(SkipTruncated)
		}
		return notTeredo
	}
	if 40+int(be16(ip[4:6])) != fb.udpPayloadLen-off {
		return notTeredo
	}
	l.BaseLayer = layers.BaseLayer{Contents: data[:off], Payload: ip}
	return nil
}

// NextLayerType implements gopacket.DecodingLayer.
func (l *teredoLayer) NextLayerType() gopacket.LayerType {
	return l.fb.next(layers.LayerTypeIPv6, SkipTruncated)
}
