package capture

import (
	"encoding/binary"

	"github.com/wirestate/wirestate/tracker"
)

// sumBytes adds b to the one's-complement accumulator sum as a sequence of
// big-endian 16-bit words, padding an odd final byte with zero.
func sumBytes(sum uint64, b []byte) uint64 {
	for len(b) >= 8 {
		sum += uint64(binary.BigEndian.Uint32(b[0:4])) + uint64(binary.BigEndian.Uint32(b[4:8]))
		b = b[8:]
	}
	for len(b) >= 2 {
		sum += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint64(b[0]) << 8
	}
	return sum
}

// foldChecksum folds a one's-complement accumulator to 16 bits.
func foldChecksum(sum uint64) uint16 {
	for sum>>16 != 0 {
		sum = (sum & 0xffff) + (sum >> 16)
	}
	return uint16(sum)
}

// tcpChecksumOK reports whether segment, a whole TCP segment (header and
// payload), carries the right checksum for the IP pseudo-header of src and
// dst. IPv4 packets use the IPv4 pseudo-header (RFC 793), IPv6 packets the
// IPv6 one (RFC 8200 section 8.1), where dst is the final destination.
func tcpChecksumOK(v6 bool, src, dst *tracker.Addr, segment []byte) bool {
	var sum uint64
	if !v6 {
		sum = sumBytes(sum, src[12:16])
		sum = sumBytes(sum, dst[12:16])
	} else {
		sum = sumBytes(sum, src[:])
		sum = sumBytes(sum, dst[:])
	}
	sum += ipProtoTCP
	sum += uint64(len(segment))
	sum = sumBytes(sum, segment)
	return foldChecksum(sum) == 0xffff
}
