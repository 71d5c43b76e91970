package capture

import "github.com/wirestate/wirestate/tracker"

// DecoderOptions configures a Decoder.
type DecoderOptions struct {
	// ValidateChecksums makes the decoder verify the TCP checksum of every
	// segment captured whole and set Segment.BadChecksum when it is wrong.
	// Such segments are still returned.
	ValidateChecksums bool
}

// Decoder turns one captured packet into a tracker.Segment. It keeps
// preallocated parsing state, so decoding a common TCP packet allocates
// nothing; a Decoder must not be used by two goroutines at once.
type Decoder struct {
	validateChecksums bool
	// noFastPath sends every packet through the gopacket path; the tests
	// use it to compare the two.
	noFastPath bool
	fallback   *fallback
}

// NewDecoder returns a Decoder with its gopacket layers allocated.
func NewDecoder(opts DecoderOptions) *Decoder {
	return &Decoder{
		validateChecksums: opts.ValidateChecksums,
		fallback:          newFallback(opts.ValidateChecksums),
	}
}

// Decode parses data, a packet of link type link, and fills seg from its
// innermost TCP header: addresses, ports, sequence and acknowledgement
// numbers, flags, window, payload and IP lengths (from the IP header, never
// from the captured length), the IP TTL (hop limit) and IPv4 ID, and options. It returns SkipNone for a TCP
// segment, else the reason the packet has none, in which case seg holds no
// meaningful values. seg.Time and seg.Frame are left for the caller to set.
// data is not retained.
func (d *Decoder) Decode(link LinkType, data []byte, seg *tracker.Segment) SkipReason {
	*seg = tracker.Segment{Time: seg.Time, Frame: seg.Frame}
	if !d.noFastPath {
		var r SkipReason
		handled := false
		switch link {
		case LinkEthernet:
			r, handled = d.fastEthernet(data, seg)
		case LinkRaw, LinkRawDLT12, LinkRawDLT14:
			// Live capture on any, tun and the like: the IP header first.
			if len(data) > 0 {
				switch data[0] >> 4 {
				case 4:
					r, handled = d.fastIPv4(data, seg)
				case 6:
					r, handled = d.fastIPv6(data, seg)
				}
			}
		}
		if handled {
			return r
		}
		*seg = tracker.Segment{Time: seg.Time, Frame: seg.Frame}
	}
	return d.fallback.decode(link, data, seg)
}
