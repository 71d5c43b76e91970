package capture

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/gopacket/gopacket/pcapgo"
)

// pcapng block types the framer looks into.
const (
	ngBlockInterface     = 1
	ngBlockPacket        = 2
	ngBlockSimplePacket  = 3
	ngBlockStatistics    = 5
	ngBlockEnhanced      = 6
	ngBlockSectionHeader = 0x0A0D0D0A
	ngByteOrderMagic     = 0x1A2B3C4D
	// ngMaxBlockLen bounds every block; packet blocks are bounded more
	// tightly by maxRecordLen.
	ngMaxBlockLen = 16 << 20
)

// ngMinBlockLen returns the smallest valid length of a block of type typ:
// its header, fixed part and trailer.
func ngMinBlockLen(typ uint32) uint32 {
	switch typ {
	case ngBlockSectionHeader:
		return 28
	case ngBlockInterface:
		return 20
	case ngBlockSimplePacket:
		return 16
	case ngBlockStatistics:
		return 24
	case ngBlockPacket, ngBlockEnhanced:
		return 32
	}
	return 12
}

// ngFormatError is a corrupt pcapng block found by the framer.
type ngFormatError struct {
	offset int64
	msg    string
}

// Error implements error.
func (e *ngFormatError) Error() string {
	return fmt.Sprintf("%s (block at offset %d)", e.msg, e.offset)
}

// ngFramer sits between the file and pcapgo's NgReader and checks the block
// structure as the bytes stream through: every block length (a multiple of
// 4, at least its type's fixed part, under ngMaxBlockLen), that a packet
// block's captured length fits in it and under maxRecordLen, and that the
// trailing length repeats the leading one. pcapgo does not check these and
// would read across block boundaries. A problem stops the stream with an
// ngFormatError; a file that ends inside a block sets truncated.
type ngFramer struct {
	r         *bufio.Reader
	bigEndian bool
	offset    int64
	// remaining is the number of bytes of the current block not yet passed
	// on; blockLen is the current block's length and blockStart its offset.
	remaining  int64
	blockLen   uint32
	blockStart int64
	// ifaces counts the interfaces of the current section; snaplen0 is the
	// first one's snapshot length, which bounds simple packet blocks.
	ifaces    int
	snaplen0  uint32
	truncated bool
	err       error
}

func (f *ngFramer) u32(b []byte) uint32 {
	if f.bigEndian {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}

// Read passes on the bytes of the current block, checking each block's
// header when it starts and its trailer before it ends.
func (f *ngFramer) Read(p []byte) (int, error) {
	if f.err != nil {
		return 0, f.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if f.remaining == 0 {
		if err := f.startBlock(); err != nil {
			f.err = err
			return 0, err
		}
	}
	if f.remaining == 4 && !f.truncated {
		if err := f.checkTrailer(); err != nil {
			f.err = err
			return 0, err
		}
	}
	limit := f.remaining
	if limit > 4 && !f.truncated {
		limit -= 4 // stop before the trailer, to check it
	}
	n := min(int64(len(p)), limit)
	m, err := f.r.Read(p[:n])
	f.remaining -= int64(m)
	f.offset += int64(m)
	if isEOF(err) {
		f.truncated = true
		err = io.EOF
	}
	return m, err
}

// isEOF reports whether err is an end of input: io.EOF, or the
// io.ErrUnexpectedEOF a gzip stream cut short returns.
func isEOF(err error) bool { return err == io.EOF || err == io.ErrUnexpectedEOF }

// startBlock checks the header of the block starting at the current offset.
// At a clean end of file it returns io.EOF; when the file ends inside the
// header it lets the remaining bytes through and marks the file truncated.
func (f *ngFramer) startBlock() error {
	h, err := f.r.Peek(8)
	if len(h) == 0 && isEOF(err) {
		// Also a gzip stream that lacks its trailer: no block is cut.
		return io.EOF
	}
	if len(h) < 8 {
		return f.cutShort(len(h), err)
	}
	typ := f.u32(h[0:4])
	if typ == ngBlockSectionHeader {
		h, err = f.r.Peek(12)
		if len(h) < 12 {
			return f.cutShort(len(h), err)
		}
		switch {
		case binary.LittleEndian.Uint32(h[8:12]) == ngByteOrderMagic:
			f.bigEndian = false
		case binary.BigEndian.Uint32(h[8:12]) == ngByteOrderMagic:
			f.bigEndian = true
		default:
			return f.formatError("section header has a bad byte-order magic")
		}
		f.ifaces, f.snaplen0 = 0, 0
	}
	length := f.u32(h[4:8])
	if length%4 != 0 || length < ngMinBlockLen(typ) {
		return f.formatError(fmt.Sprintf("block type 0x%x has bad length %d", typ, length))
	}
	if length > ngMaxBlockLen {
		return f.formatError(fmt.Sprintf("block length %d exceeds %d", length, ngMaxBlockLen))
	}
	var capLen uint32
	var fixed uint32
	switch typ {
	case ngBlockEnhanced, ngBlockPacket:
		if h, err = f.r.Peek(28); len(h) < 28 {
			return f.cutShort(len(h), err)
		}
		capLen, fixed = f.u32(h[20:24]), 32
	case ngBlockSimplePacket:
		if h, err = f.r.Peek(12); len(h) < 12 {
			return f.cutShort(len(h), err)
		}
		capLen, fixed = f.u32(h[8:12]), 16
		if f.snaplen0 != 0 && capLen > f.snaplen0 {
			capLen = f.snaplen0
		}
	case ngBlockInterface:
		if h, err = f.r.Peek(16); len(h) < 16 {
			return f.cutShort(len(h), err)
		}
		if f.ifaces == 0 {
			f.snaplen0 = f.u32(h[12:16])
		}
		f.ifaces++
	}
	if fixed != 0 {
		if capLen > maxRecordLen {
			return f.formatError(fmt.Sprintf("record length %d exceeds %d", capLen, maxRecordLen))
		}
		if fixed+(capLen+3)&^3 > length {
			return f.formatError(fmt.Sprintf("record length %d overruns its block of length %d", capLen, length))
		}
	}
	f.remaining, f.blockLen, f.blockStart = int64(length), length, f.offset
	return nil
}

// cutShort handles a file that ends after n bytes of a block's fixed part.
func (f *ngFramer) cutShort(n int, err error) error {
	if err != nil && !isEOF(err) {
		return err
	}
	f.truncated = true
	f.remaining, f.blockStart = int64(n), f.offset
	if n == 0 {
		return io.EOF
	}
	return nil
}

// checkTrailer compares a block's trailing length with its leading one.
func (f *ngFramer) checkTrailer() error {
	h, err := f.r.Peek(4)
	if len(h) < 4 {
		if err != nil && !isEOF(err) {
			return err
		}
		f.truncated = true
		return nil
	}
	if l := f.u32(h); l != f.blockLen {
		return f.formatError(fmt.Sprintf("block trailer length %d differs from its header length %d", l, f.blockLen))
	}
	return nil
}

func (f *ngFramer) formatError(msg string) error {
	return &ngFormatError{offset: f.blockStart, msg: msg}
}

// pcapngReader reads pcapng packets with pcapgo's NgReader over an ngFramer.
// Each interface keeps its own link type, snapshot length and timestamp
// resolution; pcapgo applies if_tsresol and if_tsoffset.
type pcapngReader struct {
	framer *ngFramer
	ng     *pcapgo.NgReader
	strict bool
	// lastTS is the previous packet's time, used for simple packet blocks,
	// which have none.
	lastTS int64
}

func newPcapngReader(r *bufio.Reader, strict bool) (*pcapngReader, error) {
	f := &ngFramer{r: r}
	ng, err := pcapgo.NewNgReader(f, pcapgo.NgReaderOptions{WantMixedLinkType: true})
	if err != nil {
		return nil, ngError(f, err, "pcapng section header")
	}
	return &pcapngReader{framer: f, ng: ng, strict: strict}, nil
}

// offset returns the byte offset of the block read last, or of the one
// that failed.
func (r *pcapngReader) offset() int64 { return r.framer.blockStart }

// ngError turns an error from pcapgo into the one to report, preferring the
// framer's diagnosis. what names the part being read.
func ngError(f *ngFramer, err error, what string) error {
	var fe *ngFormatError
	if errors.As(f.err, &fe) {
		return fe
	}
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		if f.truncated {
			return errTruncatedRecord
		}
		if err == io.EOF {
			return io.EOF
		}
		return fmt.Errorf("%s overruns its block", what)
	}
	if f.err != nil && f.err != io.EOF {
		return f.err // a read error
	}
	return fmt.Errorf("%s: %v", what, err)
}

func (p *pcapngReader) next(rec *record) error {
	data, ci, err := p.ng.ZeroCopyReadPacketData()
	if err != nil {
		return ngError(p.framer, err, "pcapng block")
	}
	iface, err := p.ng.Interface(ci.InterfaceIndex)
	if err != nil {
		return err
	}
	if p.strict {
		if err := strictRecordCheck(uint32(ci.CaptureLength), uint32(ci.Length), iface.SnapLength); err != nil {
			return err
		}
	}
	ts := p.lastTS
	if !ci.Timestamp.IsZero() {
		ts = ci.Timestamp.UnixNano()
		if res := iface.TimestampResolution; res.Binary() && res.Exponent() < 30 {
			ts = exactBinaryTime(ts, res.Exponent())
		}
	}
	p.lastTS = ts
	*rec = record{
		data:    data,
		ts:      ts,
		wireLen: ci.Length,
		link:    LinkType(iface.LinkType),
		ifIndex: ci.InterfaceIndex,
	}
	return nil
}

// exactBinaryTime corrects pcapgo's conversion of a timestamp in units of
// 2^-exp seconds, which multiplies the fraction by the truncated 1e9/2^exp
// and so loses up to a microsecond: the units are recovered exactly and
// scaled again.
func exactBinaryTime(ts int64, exp uint8) int64 {
	sec, frac := ts/1e9, ts%1e9
	step := int64(1e9) >> exp // pcapgo's scale factor, 1e9 / 2^exp truncated
	units := frac / step
	return sec*1e9 + units*1e9>>exp
}
