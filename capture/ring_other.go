//go:build !linux

package capture

import (
	"errors"
	"io"

	"github.com/gopacket/gopacket"

	"github.com/wirestate/wirestate/tracker"
)

// DefaultEngine is the capture engine when LiveOptions.Engine is empty:
// libpcap, since AF_PACKET rings are Linux's.
const DefaultEngine = EngineLibpcap

// errNoRings is OpenRings' error outside Linux.
var errNoRings = errors.New("the afpacket capture engine needs Linux; use --capture-engine libpcap")

// RingSource is Linux's AF_PACKET source; elsewhere it cannot be opened.
type RingSource struct{}

// OpenRings fails: AF_PACKET is Linux's.
func OpenRings(o LiveOptions) ([]*RingSource, error) {
	return nil, &LiveError{Interface: o.Interface, Err: errNoRings}
}

// LinkType returns 0.
func (s *RingSource) LinkType() LinkType { return 0 }

// Snaplen returns 0.
func (s *RingSource) Snaplen() int { return 0 }

// Interface returns "".
func (s *RingSource) Interface() string { return "" }

// Next returns io.EOF.
func (s *RingSource) Next(seg *tracker.Segment) (SkipReason, error) { return SkipNone, io.EOF }

// CurrentPacket returns nothing.
func (s *RingSource) CurrentPacket() ([]byte, gopacket.CaptureInfo) {
	return nil, gopacket.CaptureInfo{}
}

// Stats returns no counts.
func (s *RingSource) Stats() Stats { return Stats{} }

// CaptureStats returns no counters.
func (s *RingSource) CaptureStats() (CaptureCounters, error) { return CaptureCounters{}, nil }

// Close does nothing.
func (s *RingSource) Close() error { return nil }
