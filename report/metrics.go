package report

import (
	"fmt"
	"strings"
	"time"

	"github.com/wirestate/wirestate/tracker"
)

// CaptureLoss sums the capture loss of a run's connections, as Zeek's
// capture_loss does from missed_bytes: data acknowledged by its receiver
// that the capture never saw.
type CaptureLoss struct {
	// AcksForUnseen counts the ACKs for data never seen.
	AcksForUnseen uint64
	// MissedBytes counts the data they covered.
	MissedBytes uint64
	// Bytes counts the payload bytes seen.
	Bytes uint64
}

// Percent returns the missed bytes as a percentage of the data
// acknowledged or seen.
func (l CaptureLoss) Percent() float64 {
	if l.MissedBytes == 0 {
		return 0
	}
	return 100 * float64(l.MissedBytes) / float64(l.MissedBytes+l.Bytes)
}

// CaptureLossOf sums the capture loss of records rs.
func CaptureLossOf(rs []tracker.Record) CaptureLoss {
	var l CaptureLoss
	for i := range rs {
		r := &rs[i]
		acks, missed := r.MetricsOrZero().CaptureLoss()
		l.AcksForUnseen += acks
		l.MissedBytes += missed
		l.Bytes += r.Conn.Peers[tracker.Orig].Bytes + r.Conn.Peers[tracker.Resp].Bytes
	}
	return l
}

// shortDur formats a duration in nanoseconds compactly: 840µs, 12.3ms, 1.2s.
func shortDur(ns int64) string {
	d := time.Duration(ns)
	switch {
	case d >= 10*time.Second:
		return fmt.Sprintf("%.0fs", d.Seconds())
	case d >= time.Second:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d >= 10*time.Millisecond:
		return fmt.Sprintf("%.0fms", float64(d)/1e6)
	case d >= time.Millisecond:
		return fmt.Sprintf("%.1fms", float64(d)/1e6)
	}
	return fmt.Sprintf("%dµs", d.Microseconds())
}

// statLine formats a summary as "min/avg/max (n)".
func statLine(s *tracker.Summary) string {
	lo, _ := s.MinNS()
	avg, _ := s.AvgNS()
	hi, _ := s.MaxNS()
	return fmt.Sprintf("%s/%s/%s (%d)", shortDur(lo), shortDur(avg), shortDur(hi), s.N)
}

// MetricsLines returns the concise lines the text connection view shows
// for r's latency and loss (at most two), none when there is nothing to
// show.
func MetricsLines(r *tracker.Record) []string {
	m := r.MetricsOrZero()
	var out []string
	var lat []string
	hs, hsOK := m.HandshakeRTT()
	if hsOK {
		rs, _ := m.HandshakeRTTResp()
		os, _ := m.HandshakeRTTOrig()
		lat = append(lat, fmt.Sprintf("handshake %s (server side %s, client side %s)", shortDur(hs), shortDur(rs), shortDur(os)))
	}
	// With a handshake, its two halves are each direction's first
	// sample: the summaries are shown once they hold more.
	if s := &m.RTT[tracker.Orig]; s.N > 1 || s.N == 1 && !hsOK {
		lat = append(lat, "rtt to server "+statLine(s))
	}
	if s := &m.RTT[tracker.Resp]; s.N > 1 || s.N == 1 && !hsOK {
		lat = append(lat, "rtt to client "+statLine(s))
	}
	if m.App.N > 0 {
		lat = append(lat, "app response "+statLine(&m.App))
	}
	if len(lat) > 0 {
		out = append(out, "latency: "+strings.Join(lat, "; "))
	}
	var loss []string
	for s := tracker.Orig; s <= tracker.Resp; s++ {
		l := &m.Loss[s]
		who := "client"
		if s == tracker.Resp {
			who = "server"
		}
		if l.RetransSegs > 0 || l.OutOfOrder > 0 || l.Spurious > 0 {
			loss = append(loss, fmt.Sprintf("%s retransmitted %d segments (%d B: %d lost beyond the capture point, %d before it, %d spurious), %d out of order",
				who, l.RetransSegs, l.RetransBytes, l.LostBeyond, l.LostBefore, l.Spurious, l.OutOfOrder))
		}
		if zw, ok := m.ZeroWindow(s); ok {
			loss = append(loss, fmt.Sprintf("%s zero window %s", who, shortDur(zw)))
		}
	}
	if acks, missed := m.CaptureLoss(); acks > 0 {
		loss = append(loss, fmt.Sprintf("capture loss: %d B acknowledged but not captured (%d ACKs)", missed, acks))
	}
	if len(loss) > 0 {
		out = append(out, "loss: "+strings.Join(loss, "; "))
	}
	return out
}

// EndedBy says who ended r's connection, for the timeline's heading:
// "closed by orig", "closed by resp, reset by resp", or "".
func EndedBy(r *tracker.Record) string {
	c := &r.Conn
	var end []string
	if s, ok := c.ClosedBy(); ok {
		end = append(end, "closed by "+s.String())
	}
	if by := c.ResetBy(); by != "" {
		end = append(end, "reset by "+by)
	}
	return strings.Join(end, ", ")
}
