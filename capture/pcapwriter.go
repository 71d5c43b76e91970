package capture

import (
	"bufio"
	"fmt"
	"os"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// PcapWriter writes packets to a classic pcap file with nanosecond
// timestamps, optionally rotating to a new file when one grows past a size,
// as tcpdump -w FILE -C SIZE does: the files are FILE, FILE1, FILE2 ... It
// is not safe for concurrent use.
type PcapWriter struct {
	base     string
	maxBytes int64
	link     LinkType
	snaplen  uint32

	f     *os.File
	bw    *bufio.Writer
	w     *pcapgo.Writer
	size  int64
	files []string
	// Packets counts the packets written, over all files.
	Packets uint64
}

// CreatePcap creates name (truncating it) for packets of the given link
// type and snapshot length. maxBytes, when positive, starts a new file
// (name1, name2, ...) before a packet would take the current one past it.
func CreatePcap(name string, link LinkType, snaplen int, maxBytes int64) (*PcapWriter, error) {
	if snaplen <= 0 {
		snaplen = maxRecordLen
	}
	w := &PcapWriter{base: name, maxBytes: maxBytes, link: link, snaplen: uint32(snaplen)}
	if err := w.open(name); err != nil {
		return nil, err
	}
	return w, nil
}

// open starts the file name and writes its header.
func (w *PcapWriter) open(name string) error {
	f, err := os.Create(name)
	if err != nil {
		return unwrapPathError(err)
	}
	w.f = f
	w.bw = bufio.NewWriterSize(f, 256<<10)
	w.w = pcapgo.NewWriterNanos(w.bw)
	if err := w.w.WriteFileHeader(w.snaplen, layers.LinkType(w.link)); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", name, err)
	}
	w.size = 24
	w.files = append(w.files, name)
	return nil
}

// rotate closes the current file and opens the next.
func (w *PcapWriter) rotate() error {
	if err := w.closeFile(); err != nil {
		return err
	}
	return w.open(fmt.Sprintf("%s%d", w.base, len(w.files)))
}

// WritePacket appends one packet: its capture time in Unix nanoseconds, its
// length on the wire and its captured bytes (copied).
func (w *PcapWriter) WritePacket(ts int64, wireLen int, data []byte) error {
	if w.f == nil {
		return os.ErrClosed
	}
	if len(data) > int(w.snaplen) {
		data = data[:w.snaplen]
	}
	rec := int64(16 + len(data))
	if w.maxBytes > 0 && w.size > 24 && w.size+rec > w.maxBytes {
		if err := w.rotate(); err != nil {
			return err
		}
	}
	ci := gopacket.CaptureInfo{Timestamp: time.Unix(0, ts), CaptureLength: len(data), Length: max(wireLen, len(data))}
	if err := w.w.WritePacket(ci, data); err != nil {
		return err
	}
	w.size += rec
	w.Packets++
	return nil
}

// Flush writes buffered packets to the file.
func (w *PcapWriter) Flush() error {
	if w.bw == nil {
		return nil
	}
	return w.bw.Flush()
}

// Files lists the files written so far, in order.
func (w *PcapWriter) Files() []string { return append([]string(nil), w.files...) }

func (w *PcapWriter) closeFile() error {
	if w.f == nil {
		return nil
	}
	err := w.bw.Flush()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	w.f, w.bw, w.w = nil, nil, nil
	return err
}

// Close flushes and closes the current file.
func (w *PcapWriter) Close() error { return w.closeFile() }
