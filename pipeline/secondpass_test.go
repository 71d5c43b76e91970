package pipeline

import (
	"testing"

	"github.com/wirestate/wirestate/tracker"
)

// TestReadUntil checks how far the second pass reads for each kind of
// connection end.
func TestReadUntil(t *testing.T) {
	const twoMSL, inputLast = 60, 1000
	conn := func(last int64, flags uint16, states [2]tracker.State, stale bool) tracker.Conn {
		c := tracker.Conn{Last: last, Flags: flags}
		c.Peers[0].State, c.Peers[1].State = states[0], states[1]
		if stale {
			c.Mark(tracker.AnomStaleSegment)
		}
		return c
	}
	closed := [2]tracker.State{tracker.Closed, tracker.Closed}
	timeWait := [2]tracker.State{tracker.Closed, tracker.TimeWait}
	re, late := tracker.ConnReincarnated, tracker.ConnLateSegments
	for _, tc := range []struct {
		name   string
		conn   tracker.Conn
		reason tracker.EndReason
		want   int64
	}{
		{"ordinary", conn(100, 0, timeWait, false), tracker.EndCaptureEnd, 101},
		{"stale segment", conn(100, 0, closed, true), tracker.EndClosed, 161},
		{"replaced, closed", conn(100, re, closed, false), tracker.EndCaptureEnd, 101},
		{"replaced, timer ran out", conn(100, re, closed, false), tracker.EndClosed, 101},
		{"replaced in TIME_WAIT, emitted before its timer", conn(100, re, timeWait, false), tracker.EndCaptureEnd, 161},
		{"replaced while open", conn(100, re, [2]tracker.State{tracker.Established, tracker.Established}, false), tracker.EndSuperseded, 101},
		{"replaced, then sent segments", conn(100, re|late, closed, false), tracker.EndClosed, inputLast + 1},
		{"replaced, stale", conn(100, re|late, timeWait, true), tracker.EndCaptureEnd, inputLast + 1},
	} {
		r := tracker.Record{Conn: tc.conn, Reason: tc.reason}
		if got := readUntil(&r, twoMSL, inputLast); got != tc.want {
			t.Errorf("%s: read until %d, want %d", tc.name, got, tc.want)
		}
	}
}
