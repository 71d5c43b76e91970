// Package communityid computes Community ID v1 flow hashes, the flow
// identifier Zeek (community-id-logging), Suricata (eve "community_id"),
// Wireshark and Elastic write, so that wirestate's records join theirs by
// one string compare (https://github.com/corelight/community-id-spec).
//
// The hash is SHA-1 over the seed (2 bytes), both addresses (4 or 16 bytes
// each), the IP protocol (1 byte), a zero byte and both ports (2 bytes
// each), all big-endian, with the endpoints ordered so that the smaller
// (address, port) comes first; the ID is "1:" followed by the digest in
// standard base64. Computing one allocates nothing beyond the caller's
// buffer.
package communityid

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
)

// Protocol numbers of the transports with ports.
const (
	ProtoTCP  uint8 = 6
	ProtoUDP  uint8 = 17
	ProtoSCTP uint8 = 132
)

// Len is the length of a v1 ID's text: "1:" and 28 base64 characters.
const Len = 2 + 28

// Append appends the Community ID v1 of the flow between (srcIP, srcPort)
// and (dstIP, dstPort) over protocol proto, with the given seed, to dst and
// returns it. The addresses are 4 bytes (IPv4) or 16 bytes (IPv6), both of
// the same length; the ID is the same for either direction. Append
// returns dst unchanged if the address lengths are wrong.
func Append(dst []byte, seed uint16, proto uint8, srcIP []byte, srcPort uint16, dstIP []byte, dstPort uint16) []byte {
	n := len(srcIP)
	if n != len(dstIP) || n != 4 && n != 16 {
		return dst
	}
	// Order the endpoints: the smaller address first, the smaller port
	// when the addresses are equal.
	if c := bytes.Compare(srcIP, dstIP); c > 0 || c == 0 && srcPort > dstPort {
		srcIP, dstIP = dstIP, srcIP
		srcPort, dstPort = dstPort, srcPort
	}
	var in [2 + 16 + 16 + 4 + 4]byte
	binary.BigEndian.PutUint16(in[0:], seed)
	i := 2
	i += copy(in[i:], srcIP)
	i += copy(in[i:], dstIP)
	in[i], in[i+1] = proto, 0
	binary.BigEndian.PutUint16(in[i+2:], srcPort)
	binary.BigEndian.PutUint16(in[i+4:], dstPort)
	sum := sha1.Sum(in[:i+6])
	dst = append(dst, '1', ':')
	return base64.StdEncoding.AppendEncode(dst, sum[:])
}
