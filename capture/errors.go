package capture

import (
	"errors"
	"fmt"
)

// Error is a fatal problem reading a capture file: the file cannot be
// opened, its format is unknown, or a header in it is corrupt (or, in strict
// mode, any packet is malformed). Reading stops at an Error.
type Error struct {
	// File is the input's name as given (or as a directory or glob
	// expanded it); "stdin" for "-".
	File string
	// Frame is the 1-based number, within File, of the packet at which the
	// problem was found; 0 for problems before the first packet.
	Frame uint64
	// Offset is the byte offset in the file (after decompression) of the
	// record or block at fault, when known.
	Offset int64
	// Err describes the problem.
	Err error
}

// Error formats the error as "FILE: packet N: problem", or "FILE: problem"
// when no packet is involved.
func (e *Error) Error() string {
	if e.Frame == 0 {
		return fmt.Sprintf("%s: %v", e.File, e.Err)
	}
	if e.Offset > 0 {
		return fmt.Sprintf("%s: packet %d (byte %d): %v", e.File, e.Frame, e.Offset, e.Err)
	}
	return fmt.Sprintf("%s: packet %d: %v", e.File, e.Frame, e.Err)
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// errTruncatedRecord is returned by a packet reader when the file ends inside
// a record; the record is counted as SkipTruncatedRecord and the input ends.
var errTruncatedRecord = errors.New("file ends inside a packet record")

// maxRecordLen is the longest packet record accepted: libpcap's
// MAXIMUM_SNAPLEN. Longer lengths mean a corrupt record header.
const maxRecordLen = 262144
