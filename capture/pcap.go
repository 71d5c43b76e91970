package capture

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Classic pcap magic numbers, as read big-endian from the first 4 bytes.
const (
	pcapMagicMicros        = 0xA1B2C3D4
	pcapMagicMicrosSwapped = 0xD4C3B2A1
	pcapMagicNanos         = 0xA1B23C4D
	pcapMagicNanosSwapped  = 0x4D3CB2A1
	pcapngMagic            = 0x0A0D0D0A
)

// pcapReader reads classic pcap records. It is hand-written rather than
// pcapgo.Reader so that a cut-off record, a corrupt record header and an
// I/O error can be told apart, and so that each record costs one buffered
// copy and no allocation (see the package benchmarks).
type pcapReader struct {
	r         *bufio.Reader
	bigEndian bool
	nanos     bool
	snaplen   uint32
	link      LinkType
	strict    bool
	hdr       [16]byte // its length is the record header's
	buf       []byte
	// off is the byte offset of the next record (of the record just read
	// while it is the current one: recOff).
	off, recOff int64
}

// newPcapReader reads the 24-byte global header from r.
func newPcapReader(r *bufio.Reader, strict bool) (*pcapReader, error) {
	var h [24]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, errors.New("pcap global header is truncated")
		}
		return nil, err
	}
	p := &pcapReader{r: r, strict: strict}
	switch binary.BigEndian.Uint32(h[0:4]) {
	case pcapMagicMicros:
		p.bigEndian = true
	case pcapMagicNanos:
		p.bigEndian, p.nanos = true, true
	case pcapMagicMicrosSwapped:
	case pcapMagicNanosSwapped:
		p.nanos = true
	default:
		return nil, fmt.Errorf("unknown pcap magic 0x%08x", binary.BigEndian.Uint32(h[0:4]))
	}
	if major := p.u16(h[4:6]); major != 2 {
		return nil, fmt.Errorf("unsupported pcap version %d.%d", major, p.u16(h[6:8]))
	}
	p.snaplen = p.u32(h[16:20])
	// The upper bits of the link type field hold FCS information.
	p.link = LinkType(p.u32(h[20:24]) & 0xFFFF)
	// p.buf is made only for a record longer than the read buffer.
	p.off = 24
	return p, nil
}

func (p *pcapReader) u16(b []byte) uint16 {
	if p.bigEndian {
		return binary.BigEndian.Uint16(b)
	}
	return binary.LittleEndian.Uint16(b)
}

func (p *pcapReader) u32(b []byte) uint32 {
	if p.bigEndian {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}

// next reads the next record into rec; rec.data stays valid until the next
// call. A record that fits the read buffer is not copied: rec.data is a view
// of the buffer.
func (p *pcapReader) next(rec *record) error {
	p.recOff = p.off
	hdr, err := p.r.Peek(len(p.hdr))
	if len(hdr) < len(p.hdr) {
		if len(hdr) == 0 && isEOF(err) {
			// The clean end, or a gzip stream that lacks its trailer
			// after whole records.
			return io.EOF
		}
		if isEOF(err) {
			return errTruncatedRecord
		}
		return err
	}
	sec := p.u32(hdr[0:4])
	frac := p.u32(hdr[4:8])
	capLen := p.u32(hdr[8:12])
	wireLen := p.u32(hdr[12:16])
	p.r.Discard(len(p.hdr))
	if capLen > maxRecordLen {
		return fmt.Errorf("record length %d exceeds %d", capLen, maxRecordLen)
	}
	if p.strict {
		if err := strictRecordCheck(capLen, wireLen, p.snaplen); err != nil {
			return err
		}
		if p.nanos && frac >= 1e9 || !p.nanos && frac >= 1e6 {
			return fmt.Errorf("timestamp fraction %d out of range", frac)
		}
	}
	data, err := p.r.Peek(int(capLen))
	switch {
	case err == nil:
		p.r.Discard(int(capLen))
	case err == bufio.ErrBufferFull: // longer than the buffer: copy it out
		if int(capLen) > cap(p.buf) {
			p.buf = make([]byte, capLen)
		}
		data = p.buf[:capLen]
		if _, err := io.ReadFull(p.r, data); err != nil {
			if isEOF(err) {
				return errTruncatedRecord
			}
			return err
		}
	case isEOF(err):
		p.r.Discard(len(data))
		return errTruncatedRecord
	default:
		return err
	}
	ns := int64(frac)
	if !p.nanos {
		ns *= 1000
	}
	rec.data, rec.ts, rec.wireLen, rec.link, rec.ifIndex = data, int64(sec)*1e9+ns, int(wireLen), p.link, 0
	p.off += int64(len(p.hdr)) + int64(capLen)
	return nil
}

// offset returns the byte offset of the record read last, or of the one
// that failed.
func (p *pcapReader) offset() int64 { return p.recOff }

// strictRecordCheck rejects, in strict mode, a record longer than the
// snapshot length or than the packet it claims to hold.
func strictRecordCheck(capLen, wireLen, snaplen uint32) error {
	if snaplen != 0 && capLen > snaplen {
		return fmt.Errorf("record length %d exceeds snapshot length %d", capLen, snaplen)
	}
	if capLen > wireLen {
		return fmt.Errorf("record length %d exceeds original length %d", capLen, wireLen)
	}
	return nil
}
