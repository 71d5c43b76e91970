package capture

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gopacket/gopacket"

	"github.com/wirestate/wirestate/tracker"
)

// readBufferSize is the buffer between each file and its reader.
const readBufferSize = 256 << 10

// FileOptions configures Open.
type FileOptions struct {
	// Strict makes the first malformed record or packet of any kind (cut
	// off, corrupt, longer than the snapshot length, undecodable, of an
	// unknown link type) a returned *Error instead of a counted skip.
	Strict bool
	// Decoder configures the packet decoder.
	Decoder DecoderOptions
	// Filter is a BPF filter expression (pcap-filter(7)) run on every
	// record before it is decoded, as tcpdump -r runs it: records it
	// rejects are counted (Stats.Filtered) and keep their frame numbers.
	Filter string
	// Count, when positive, ends the read after this many records passed
	// the filter (tcpdump's -c).
	Count uint64
	// Stdin is what "-" reads (default os.Stdin).
	Stdin io.Reader
}

// record is one packet record read from a file.
type record struct {
	// data is the captured bytes, valid until the input's next read.
	data    []byte
	ts      int64 // Unix nanoseconds
	wireLen int
	link    LinkType
	ifIndex int
}

// packetReader reads the records of one file. next returns io.EOF at the
// clean end, errTruncatedRecord when the file ends inside a record, and any
// other error for a corrupt file.
type packetReader interface {
	next(rec *record) error
	// offset is the byte offset of the record read last (or that failed)
	// in the uncompressed stream.
	offset() int64
}

// input is one opened file.
type input struct {
	name   string
	order  int
	info   *FileInfo
	closer io.Closer
	reader packetReader
	// rec is the record read last, waiting in the merge or just returned.
	rec       record
	done      bool
	heapIndex int
	lastLink  LinkType
}

// FileSource reads TCP segments from one or more capture files, merged in
// timestamp order. It is not safe for concurrent use.
type FileSource struct {
	opts    FileOptions
	decoder *Decoder
	inputs  []*input
	heap    inputHeap
	started bool
	// last is the input whose record Next used last.
	last  *input
	frame uint64
	stats Stats
	// lastTime is the timestamp of the packet before, in merged order.
	lastTime int64
	// err is sticky: once Next returned an error or io.EOF, it keeps
	// returning it.
	err error
	// filter, when set, selects the records decoded; accepted counts the
	// records it passed, for FileOptions.Count.
	filter   *offlineFilter
	accepted uint64
}

// Open opens capture files for reading. Each name may be a file, "-" for
// standard input, a directory (all regular files in it, sorted by name) or
// a glob pattern (its matches, sorted). Formats are told by magic number:
// pcap with microsecond or nanosecond timestamps in either byte order, or
// pcapng, each optionally gzip-compressed. Problems opening an input are
// returned as *Error.
func Open(names []string, opts FileOptions) (*FileSource, error) {
	paths, fromDir, err := expandInputs(names)
	if err != nil {
		return nil, err
	}
	s := newFileSource(opts)
	// Files never grows past its capacity: the inputs keep pointers into it.
	s.stats.Files = make([]FileInfo, 0, len(paths))
	for _, p := range paths {
		s.stats.Files = append(s.stats.Files, FileInfo{})
		in, err := openInput(p, opts, &s.stats.Files[len(s.stats.Files)-1])
		if err != nil && fromDir[p] && !opts.Strict {
			// A directory may hold other files (a README, an index):
			// they are skipped and counted, not an error.
			s.stats.Files = s.stats.Files[:len(s.stats.Files)-1]
			s.stats.NotCaptures = append(s.stats.NotCaptures, p)
			continue
		}
		if err != nil {
			s.Close()
			return nil, err
		}
		in.order = len(s.inputs)
		s.inputs = append(s.inputs, in)
	}
	if len(s.inputs) == 0 {
		return nil, &Error{File: names[0], Err: errors.New("no capture file among the files given")}
	}
	return s, nil
}

// newFileSource returns a FileSource with no input yet, its decoder and
// filter made from opts.
func newFileSource(opts FileOptions) *FileSource {
	s := &FileSource{opts: opts, decoder: NewDecoder(opts.Decoder)}
	if strings.TrimSpace(opts.Filter) != "" {
		s.filter = newOfflineFilter(opts.Filter)
	}
	return s
}

// expandInputs turns the names given to Open into a list of files, and
// says which came from listing a directory.
func expandInputs(names []string) ([]string, map[string]bool, error) {
	var out []string
	fromDir := map[string]bool{}
	stdin := false
	for _, n := range names {
		if n == "-" {
			if stdin {
				return nil, nil, &Error{File: "stdin", Err: errors.New("standard input named twice")}
			}
			stdin = true
			out = append(out, n)
			continue
		}
		fi, err := os.Stat(n)
		switch {
		case err == nil && fi.IsDir():
			files, err := regularFiles(n)
			if err != nil {
				return nil, nil, &Error{File: n, Err: err}
			}
			if len(files) == 0 {
				return nil, nil, &Error{File: n, Err: errors.New("directory holds no files")}
			}
			for _, f := range files {
				fromDir[f] = true
			}
			out = append(out, files...)
		case err == nil:
			out = append(out, n)
		case strings.ContainsAny(n, "*?["):
			matches, gerr := filepath.Glob(n)
			if gerr != nil {
				return nil, nil, &Error{File: n, Err: gerr}
			}
			slices.Sort(matches)
			var files []string
			for _, m := range matches {
				if st, err := os.Stat(m); err == nil && st.Mode().IsRegular() {
					files = append(files, m)
				}
			}
			if len(files) == 0 {
				return nil, nil, &Error{File: n, Err: errors.New("no file matches the pattern")}
			}
			out = append(out, files...)
		default:
			return nil, nil, &Error{File: n, Err: unwrapPathError(err)}
		}
	}
	if len(out) == 0 {
		return nil, nil, errors.New("capture: no input files")
	}
	return out, fromDir, nil
}

// regularFiles lists the regular files (or links to them) in dir, sorted.
func regularFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir) // sorted by name
	if err != nil {
		return nil, unwrapPathError(err)
	}
	var files []string
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			files = append(files, p)
		}
	}
	return files, nil
}

// unwrapPathError drops the *fs.PathError wrapper, whose path Error repeats.
func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// openInput opens one file and reads its header, filling info.
func openInput(name string, opts FileOptions, info *FileInfo) (*input, error) {
	strict := opts.Strict
	in := &input{name: name, info: info, heapIndex: -1}
	var src io.Reader
	if name == "-" {
		in.name = "stdin"
		src = os.Stdin
		if opts.Stdin != nil {
			src = opts.Stdin
		}
	} else {
		f, err := os.Open(name)
		if err != nil {
			return nil, &Error{File: name, Err: unwrapPathError(err)}
		}
		in.closer = f
		src = &countingReader{r: f, n: &info.FileBytesRead}
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			info.Size = st.Size()
		}
	}
	info.Name = in.name
	fail := func(err error) (*input, error) {
		if in.closer != nil {
			in.closer.Close()
		}
		return nil, &Error{File: in.name, Err: err}
	}
	br := bufio.NewReaderSize(src, readBufferSize)
	if m, _ := br.Peek(2); len(m) == 2 && m[0] == 0x1f && m[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return fail(fmt.Errorf("bad gzip header: %v", err))
		}
		info.Gzip = true
		br = bufio.NewReaderSize(gz, readBufferSize)
	}
	magic, err := br.Peek(4)
	if len(magic) < 4 {
		if err != nil && !isEOF(err) {
			return fail(err)
		}
		if len(magic) == 0 {
			return fail(errors.New("file is empty"))
		}
		return fail(errors.New("file is too short for a capture file header"))
	}
	switch m := binary.BigEndian.Uint32(magic); m {
	case pcapMagicMicros, pcapMagicMicrosSwapped, pcapMagicNanos, pcapMagicNanosSwapped:
		r, err := newPcapReader(br, strict)
		if err != nil {
			return fail(err)
		}
		info.Format, info.BigEndian, info.Nanosecond = FormatPcap, r.bigEndian, r.nanos
		info.LinkTypes = []LinkType{r.link}
		in.reader, in.lastLink = r, r.link
	case pcapngMagic:
		r, err := newPcapngReader(br, strict)
		if err != nil {
			return fail(err)
		}
		info.Format = FormatPcapNG
		in.reader, in.lastLink = r, ^LinkType(0)
	default:
		return fail(fmt.Errorf("unknown file format (magic %02x %02x %02x %02x)", magic[0], magic[1], magic[2], magic[3]))
	}
	return in, nil
}

// advance reads in's next record. A record cut off by the end of the file
// is counted as a skipped packet (an error in strict mode) and ends the
// input.
func (s *FileSource) advance(in *input) error {
	err := in.reader.next(&in.rec)
	switch err {
	case nil:
		in.info.Packets++
		if in.rec.link != in.lastLink {
			in.lastLink = in.rec.link
			if !slices.Contains(in.info.LinkTypes, in.rec.link) {
				in.info.LinkTypes = append(in.info.LinkTypes, in.rec.link)
			}
		}
		return nil
	case io.EOF:
		s.finish(in)
		return nil
	case errTruncatedRecord:
		in.info.Packets++
		s.frame++
		s.stats.Packets++
		s.stats.Skipped[SkipTruncatedRecord]++
		s.finish(in)
		e := &Error{File: in.name, Frame: in.info.Packets, Offset: in.reader.offset(), Err: err}
		if s.opts.Strict {
			return e
		}
		s.stats.Damaged = append(s.stats.Damaged, *e)
		return nil
	}
	s.finish(in)
	e := &Error{File: in.name, Frame: in.info.Packets + 1, Offset: in.reader.offset(), Err: err}
	if s.opts.Strict {
		return e
	}
	// A damaged file ends where the damage is; what came before is
	// analysed, and the other files go on.
	s.stats.Damaged = append(s.stats.Damaged, *e)
	return nil
}

// finish marks in exhausted and closes its file.
func (s *FileSource) finish(in *input) {
	in.done = true
	if in.closer != nil {
		in.closer.Close()
		in.closer = nil
	}
}

// Next fills seg with the next TCP segment, in timestamp order across the
// inputs, and returns nil; at the end it returns io.EOF. Packets that are
// not TCP segments are counted in Stats and skipped. seg.Frame is the
// packet's 1-based number in the merged stream, counting skipped packets,
// so for a single file it is tcpdump's and Wireshark's frame number;
// seg.Time is its timestamp in Unix nanoseconds. A corrupt file ends the
// read with an *Error.
func (s *FileSource) Next(seg *tracker.Segment) error {
	if s.err != nil {
		return s.err
	}
	for {
		in, err := s.nextRecord()
		if err != nil {
			s.err = err
			return err
		}
		if in == nil {
			s.err = io.EOF
			return io.EOF
		}
		rec := &in.rec
		if s.filter != nil {
			ok, err := s.filter.match(rec)
			if err != nil {
				s.err = &Error{File: in.name, Frame: in.info.Packets, Err: err}
				return s.err
			}
			if !ok {
				s.frame++
				s.count(rec)
				s.stats.Filtered++
				continue
			}
		}
		if s.opts.Count > 0 {
			if s.accepted == s.opts.Count {
				s.err = io.EOF
				return io.EOF
			}
			s.accepted++
		}
		s.frame++
		s.count(rec)
		seg.Time, seg.Frame = rec.ts, s.frame
		r := s.decoder.Decode(rec.link, rec.data, seg)
		if r == SkipNone {
			s.stats.TCPSegments++
			return nil
		}
		s.stats.Skipped[r]++
		if s.opts.Strict && r.Malformed() {
			s.err = &Error{File: in.name, Frame: in.info.Packets, Err: fmt.Errorf("malformed packet (%s)", r)}
			return s.err
		}
	}
}

// count adds a record to the statistics.
func (s *FileSource) count(rec *record) {
	st := &s.stats
	if st.Packets == 0 {
		st.FirstTime, st.LastTime = rec.ts, rec.ts
	} else {
		if rec.ts < s.lastTime {
			st.BackwardsTimestamps++
		}
		st.FirstTime = min(st.FirstTime, rec.ts)
		st.LastTime = max(st.LastTime, rec.ts)
	}
	s.lastTime = rec.ts
	st.Packets++
	st.Bytes += uint64(rec.wireLen)
	st.CapturedBytes += uint64(len(rec.data))
}

// CurrentPacket returns the packet Next used last: its captured bytes
// (valid until the next call to Next), capture information and link type.
// It returns nil data before the first packet and after the end.
func (s *FileSource) CurrentPacket() (data []byte, ci gopacket.CaptureInfo, link LinkType) {
	in := s.last
	if in == nil || s.err != nil {
		return nil, gopacket.CaptureInfo{}, 0
	}
	rec := &in.rec
	ci = gopacket.CaptureInfo{
		Timestamp:      time.Unix(0, rec.ts).UTC(),
		CaptureLength:  len(rec.data),
		Length:         rec.wireLen,
		InterfaceIndex: rec.ifIndex,
	}
	return rec.data, ci, rec.link
}

// Stats returns a copy of the counts so far.
func (s *FileSource) Stats() Stats {
	st := s.stats
	st.Files = make([]FileInfo, len(s.stats.Files))
	for i, f := range s.stats.Files {
		f.LinkTypes = slices.Clone(f.LinkTypes)
		st.Files[i] = f
	}
	return st
}

// Close closes the files still open. Reading after Close fails.
func (s *FileSource) Close() error {
	for _, in := range s.inputs {
		s.finish(in)
	}
	if s.err == nil {
		s.err = errors.New("capture: source closed")
	}
	return nil
}

// countingReader counts the bytes read from a file, for progress.
type countingReader struct {
	r io.Reader
	n *int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	*c.n += int64(n)
	return n, err
}

// Progress returns how many bytes of the input files were read so far,
// their total size (0 when unknown, as for standard input) and the packets
// read, without copying the statistics.
func (s *FileSource) Progress() (read, total int64, packets uint64) {
	for i := range s.stats.Files {
		f := &s.stats.Files[i]
		read += f.FileBytesRead
		total += f.Size
	}
	return read, total, s.stats.Packets
}

// Mark is a place in a capture file between two records, where a second
// FileSource can start reading (OpenAt): so that a file read once can be
// read again in parts, side by side.
type Mark struct {
	// File is the file's name.
	File string
	// Offset is the byte offset of the next record in the file.
	Offset int64
	// Frame is the frame number of the record before it (the last one
	// Next read); the next record is frame Frame+1.
	Frame uint64
	// Time is the timestamp of the record before it.
	Time int64
}

// Mark returns the place after the record Next read last, and whether
// the source can start there: a single classic pcap file, neither
// compressed nor standard input, read without --count.
func (s *FileSource) Mark() (Mark, bool) {
	if len(s.inputs) != 1 || s.opts.Count > 0 || s.last == nil || s.err != nil {
		return Mark{}, false
	}
	in := s.inputs[0]
	p, ok := in.reader.(*pcapReader)
	if !ok || in.info.Gzip || in.closer == nil {
		return Mark{}, false
	}
	return Mark{File: in.name, Offset: p.off, Frame: s.frame, Time: in.rec.ts}, true
}

// OpenAt opens the classic pcap file of m (which Mark returned for a
// read with the same options), as Open does, to read from m on: its
// packets are numbered as a read from the start numbers them. Its Stats
// count only what it reads.
func OpenAt(m Mark, opts FileOptions) (*FileSource, error) {
	name := m.File
	s := newFileSource(opts)
	s.stats.Files = make([]FileInfo, 1)
	info := &s.stats.Files[0]
	f, err := os.Open(name)
	if err != nil {
		return nil, &Error{File: name, Err: unwrapPathError(err)}
	}
	fail := func(err error) (*FileSource, error) {
		f.Close()
		return nil, &Error{File: name, Err: err}
	}
	var h [24]byte
	if _, err := io.ReadFull(f, h[:]); err != nil {
		return fail(errors.New("pcap global header is truncated"))
	}
	hr := bufio.NewReaderSize(bytes.NewReader(h[:]), 64)
	p, err := newPcapReader(hr, opts.Strict)
	if err != nil {
		return fail(err)
	}
	if m.Offset < int64(len(h)) {
		return fail(fmt.Errorf("mark at byte %d is inside the header", m.Offset))
	}
	if _, err := f.Seek(m.Offset, io.SeekStart); err != nil {
		return fail(err)
	}
	info.Name, info.Format, info.BigEndian, info.Nanosecond = name, FormatPcap, p.bigEndian, p.nanos
	info.LinkTypes = []LinkType{p.link}
	info.Packets = m.Frame // error messages number records as from the start
	p.r = bufio.NewReaderSize(&countingReader{r: f, n: &info.FileBytesRead}, readBufferSize)
	p.off = m.Offset
	s.frame = m.Frame
	s.inputs = []*input{{name: name, info: info, heapIndex: -1, closer: f, reader: p, lastLink: p.link}}
	return s, nil
}
