package capture

import (
	"encoding/binary"

	"github.com/wirestate/wirestate/tracker"
	"github.com/wirestate/wirestate/tracker/seqnum"
)

// tcpLengthCheck applies the length rules every TCP header must pass, given
// tcpLen, the length of the TCP segment according to the IP header, and
// captured, the number of its bytes in the capture. dataOffset is the data
// offset field, only read once captured covers the fixed header. A first
// fragment whose TCP header does not fit in the fragment is a fragment, not a
// broken header: the rest of it is in the next fragment.
func tcpLengthCheck(tcpLen, captured int, dataOffset uint8, firstFragment bool) SkipReason {
	if tcpLen < 20 {
		if firstFragment {
			return SkipFragment
		}
		return SkipBadTCPHeader
	}
	if captured < 20 {
		return SkipTruncated
	}
	hdrLen := int(dataOffset) * 4
	if hdrLen < 20 {
		return SkipBadTCPHeader
	}
	if hdrLen > tcpLen {
		if firstFragment {
			return SkipFragment
		}
		return SkipBadTCPHeader
	}
	return SkipNone
}

// TCP option kinds the decoder reads.
const (
	tcpOptEnd           = 0
	tcpOptNop           = 1
	tcpOptMSS           = 2
	tcpOptWScale        = 3
	tcpOptSACKPermitted = 4
	tcpOptSACK          = 5
	tcpOptTimestamp     = 8
)

// setTCPOption records one TCP option, given its kind and the value bytes
// after the kind and length bytes. Options of the wrong length are ignored,
// as a receiving host ignores them.
func setTCPOption(seg *tracker.Segment, kind uint8, value []byte) {
	switch kind {
	case tcpOptMSS:
		if len(value) == 2 {
			seg.Opts |= tracker.OptMSS
			seg.MSS = binary.BigEndian.Uint16(value)
		}
	case tcpOptWScale:
		if len(value) == 1 {
			seg.Opts |= tracker.OptWScale
			seg.WScale = value[0]
		}
	case tcpOptSACKPermitted:
		if len(value) == 0 {
			seg.Opts |= tracker.OptSACKPermitted
		}
	case tcpOptSACK:
		if len(value) >= 8 && len(value)%8 == 0 {
			seg.Opts |= tracker.OptSACK
			seg.SACKLeft = seqnum.Value(binary.BigEndian.Uint32(value[0:4]))
			seg.SACKRight = seqnum.Value(binary.BigEndian.Uint32(value[4:8]))
		}
	case tcpOptTimestamp:
		if len(value) == 8 {
			seg.Opts |= tracker.OptTimestamp
			seg.TSVal = binary.BigEndian.Uint32(value[0:4])
			seg.TSEcr = binary.BigEndian.Uint32(value[4:8])
		}
	}
}

// parseTCPOptions reads the option area opts, which holds only captured
// bytes. Parsing stops at an end-of-list option, at an option whose length
// byte is under 2, and at the first option that is not wholly captured or
// runs past the option area: a host stops reading options there too.
func parseTCPOptions(seg *tracker.Segment, opts []byte) {
	for i := 0; i < len(opts); {
		kind := opts[i]
		if kind == tcpOptEnd {
			return
		}
		if kind == tcpOptNop {
			i++
			continue
		}
		if i+1 >= len(opts) {
			return
		}
		n := int(opts[i+1])
		if n < 2 || i+n > len(opts) {
			return
		}
		setTCPOption(seg, kind, opts[i+2:i+n])
		i += n
	}
}
