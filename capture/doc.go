// Package capture turns captured packets into tracker.Segment values.
//
// It has two halves. The Decoder parses one packet of a given link type and
// fills a Segment from its innermost TCP header, or names the reason the
// packet is skipped; it has a hand-written fast path for Ethernet, 802.1Q,
// IPv4, IPv6 and TCP, and falls back to gopacket's DecodingLayerParser, with
// layers allocated once, for the other link types and encapsulations. The
// FileSource reads pcap and pcapng files, optionally gzip-compressed, merges
// several of them in timestamp order and feeds each packet to a Decoder.
//
// Lengths always come from the IP header, so headers-only captures give the
// right payload lengths. Packets that cannot be used are counted by
// SkipReason, never returned as errors, unless FileOptions.Strict asks for
// the first malformed one to stop the read.
package capture
