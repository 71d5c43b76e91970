package capture

// Format is a capture file format.
type Format uint8

// The capture file formats Open reads.
const (
	// FormatPcap is the classic libpcap format.
	FormatPcap Format = iota + 1
	// FormatPcapNG is the pcapng format.
	FormatPcapNG
)

// String returns "pcap" or "pcapng".
func (f Format) String() string {
	switch f {
	case FormatPcap:
		return "pcap"
	case FormatPcapNG:
		return "pcapng"
	}
	return "unknown"
}

// FileInfo describes one input file.
type FileInfo struct {
	// Name is the file's name as given or expanded; "stdin" for "-".
	Name string
	// Format is the format told by the file's magic number.
	Format Format
	// Gzip reports that the file was gzip-compressed.
	Gzip bool
	// BigEndian and Nanosecond describe a classic pcap file's magic number;
	// pcapng byte order and resolutions are per section and interface.
	BigEndian, Nanosecond bool
	// LinkTypes lists the link types of the file's packets, in order of
	// first appearance (for pcap, the one of the global header).
	LinkTypes []LinkType
	// Packets is the number of packet records read from the file.
	Packets uint64
	// Size is the file's size in bytes (0 for standard input), and
	// FileBytesRead how much of it was read so far (compressed bytes for
	// a gzipped file), for progress.
	Size, FileBytesRead int64
}

// Stats counts what a FileSource has read.
type Stats struct {
	// Packets is the number of packet records read, whatever became of
	// them: Packets = TCPSegments + Filtered + the sum of Skipped.
	Packets uint64
	// Filtered counts the records the BPF filter rejected (files), or the
	// packets an AF_PACKET ring received before its filter was attached.
	Filtered uint64
	// Damaged lists, outside strict mode, the files that ended early on a
	// cut-off or corrupt record: where, and why. Their packets before it
	// were read.
	Damaged []Error
	// NotCaptures lists the files of a directory given to -r that are not
	// captures, skipped.
	NotCaptures []string
	// TCPSegments is the number of packets returned as TCP segments.
	TCPSegments uint64
	// Bytes is the sum of the packets' original lengths on the wire.
	Bytes uint64
	// CapturedBytes is the sum of the packets' captured lengths.
	CapturedBytes uint64
	// Skipped counts the packets skipped, by reason.
	Skipped [NumSkipReasons]uint64
	// Files lists the inputs in the order given, directories and globs
	// expanded; packets with equal timestamps are merged in this order.
	Files []FileInfo
	// FirstTime and LastTime are the earliest and latest packet
	// timestamps, in Unix nanoseconds; both are 0 before the first packet.
	FirstTime, LastTime int64
	// BackwardsTimestamps counts packets, in merged order, whose timestamp
	// is earlier than the packet before them.
	BackwardsTimestamps uint64
}
