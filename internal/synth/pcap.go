package synth

import (
	"bufio"
	"encoding/binary"
	"io"

	"github.com/gopacket/gopacket"
)

// Classic pcap constants.
const (
	pcapMagicMicros = 0xa1b2c3d4
	pcapMagicNanos  = 0xa1b23c4d
	linkTypeEther   = 1
)

// Write generates the traffic described by cfg and writes it to w as a
// classic little-endian pcap file with Ethernet link type, microsecond
// timestamps (nanosecond if cfg.Nanos is set) and cfg.Snaplen as the
// snapshot length. It returns what was generated; on error, the Stats
// cover the packets generated so far.
func Write(w io.Writer, cfg Config) (Stats, error) {
	n, err := cfg.normalize()
	if err != nil {
		return Stats{}, err
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	var hdr [24]byte
	magic := uint32(pcapMagicMicros)
	if n.Nanos {
		magic = pcapMagicNanos
	}
	binary.LittleEndian.PutUint32(hdr[0:], magic)
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], uint32(n.Snaplen))
	binary.LittleEndian.PutUint32(hdr[20:], linkTypeEther)
	if _, err := bw.Write(hdr[:]); err != nil {
		return Stats{}, err
	}
	var rec [16]byte
	st, err := segments(n, func(data []byte, ci gopacket.CaptureInfo) error {
		frac := ci.Timestamp.Nanosecond()
		if !n.Nanos {
			frac /= 1000
		}
		binary.LittleEndian.PutUint32(rec[0:], uint32(ci.Timestamp.Unix()))
		binary.LittleEndian.PutUint32(rec[4:], uint32(frac))
		binary.LittleEndian.PutUint32(rec[8:], uint32(ci.CaptureLength))
		binary.LittleEndian.PutUint32(rec[12:], uint32(ci.Length))
		if _, err := bw.Write(rec[:]); err != nil {
			return err
		}
		_, err := bw.Write(data)
		return err
	})
	if err != nil {
		return st, err
	}
	return st, bw.Flush()
}
