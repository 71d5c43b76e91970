// Package trackertest builds scripted TCP conversations and collects what a
// tracker emits, for tests of the tracker and its detectors.
package trackertest

import (
	"sort"
	"strings"
	"sync"

	"github.com/wirestate/wirestate/tracker"
	"github.com/wirestate/wirestate/tracker/seqnum"
)

// Default endpoints: "A" is the client, "B" the server.
var (
	A = tracker.Endpoint{Addr: tracker.AddrFrom4([4]byte{10, 0, 0, 1}), Port: 40000}
	B = tracker.Endpoint{Addr: tracker.AddrFrom4([4]byte{10, 0, 0, 2}), Port: 80}
)

// Convo is a scripted conversation between two endpoints.
type Convo struct {
	Segs  []tracker.Segment
	Now   int64
	Frame uint64
	// EndA and EndB are the endpoints named "A" and "B" (default A and B).
	EndA, EndB tracker.Endpoint
}

// New returns an empty conversation between A and B starting at time 1e18
// (a date in 2001).
func New() *Convo { return &Convo{Now: 1e18, EndA: A, EndB: B} }

// Add appends a segment from "A" or "B", dt nanoseconds after the previous
// one, with tcpdump-style flags (S, F, R, P, and . for ACK), absolute seq
// and ack numbers, and payload length n.
func (c *Convo) Add(from, flags string, seq, ack, n uint32, dt int64) *Convo {
	c.Now += dt
	c.Frame++
	s := tracker.Segment{Time: c.Now, Frame: c.Frame, Seq: seqnum.Value(seq), Ack: seqnum.Value(ack),
		PayloadLen: n, Window: 1000, IPLen: 52 + n}
	if from == "A" {
		s.Src, s.Dst = c.EndA, c.EndB
	} else {
		s.Src, s.Dst = c.EndB, c.EndA
	}
	s.Flags = Flags(flags)
	c.Segs = append(c.Segs, s)
	return c
}

// TTL sets the IP TTL and IP ID of the segment added last.
func (c *Convo) TTL(ttl uint8, id uint16) *Convo {
	s := &c.Segs[len(c.Segs)-1]
	s.TTL, s.IPID = ttl, id
	return c
}

// TTLs gives every segment so far without a TTL the TTL of its sender: a
// for "A", b for "B".
func (c *Convo) TTLs(a, b uint8) *Convo {
	for i := range c.Segs {
		s := &c.Segs[i]
		switch {
		case s.TTL != 0:
		case s.Src == c.EndA:
			s.TTL = a
		default:
			s.TTL = b
		}
	}
	return c
}

// Flags parses tcpdump-style flag letters.
func Flags(s string) uint8 {
	var f uint8
	for _, ch := range s {
		switch ch {
		case 'S':
			f |= tracker.FlagSYN
		case 'F':
			f |= tracker.FlagFIN
		case 'R':
			f |= tracker.FlagRST
		case 'P':
			f |= tracker.FlagPSH
		case '.':
			f |= tracker.FlagACK
		}
	}
	return f
}

// Handshake returns a conversation opened A→B with client ISN 1000 and
// server ISN 5000, 1 ms per packet.
func Handshake() *Convo {
	return New().Add("A", "S", 1000, 0, 0, 1e6).Add("B", "S.", 5000, 1001, 0, 1e6).Add("A", ".", 1001, 5001, 0, 1e6)
}

// Collector is a tracker.Sink keeping everything.
type Collector struct {
	mu       sync.Mutex
	Recs     []tracker.Record
	Findings []tracker.Finding
}

// Conn implements tracker.Sink.
func (c *Collector) Conn(_ int, r *tracker.Record) {
	c.mu.Lock()
	rc := *r
	rc.Metrics = tracker.CloneMetrics(r.Metrics)
	c.Recs = append(c.Recs, rc)
	c.mu.Unlock()
}

// Finding implements tracker.Sink.
func (c *Collector) Finding(_ int, f *tracker.Finding) {
	c.mu.Lock()
	c.Findings = append(c.Findings, *f)
	c.mu.Unlock()
}

// Sorted returns the records by start time, then uid.
func (c *Collector) Sorted() []tracker.Record {
	sort.Slice(c.Recs, func(i, j int) bool {
		if c.Recs[i].Conn.Start != c.Recs[j].Conn.Start {
			return c.Recs[i].Conn.Start < c.Recs[j].Conn.Start
		}
		return c.Recs[i].Conn.UID < c.Recs[j].Conn.UID
	})
	return c.Recs
}

// Run feeds segs to an inline tracker configured by cfg (its Sink replaced)
// and returns the collector.
func Run(segs []tracker.Segment, cfg tracker.Config) *Collector {
	col := &Collector{}
	cfg.Sink = col
	if cfg.Shards == 0 {
		cfg.Inline = true
	}
	tr := tracker.New(cfg)
	for i := range segs {
		tr.Feed(&segs[i])
	}
	tr.Close()
	col.Sorted()
	return col
}

// RunRecorded is Run with every connection recorded (cfg.Record set), so
// each record carries its timeline and transitions; it returns the records
// by start time, then uid.
func RunRecorded(segs []tracker.Segment, cfg tracker.Config) []tracker.Record {
	cfg.Record = func(tracker.UID) bool { return true }
	return Run(segs, cfg).Recs
}

// Transitions lists a record's transitions as "side:STATE" items separated
// by spaces, with "?" after an inferred state and "!" after a correction.
func Transitions(r *tracker.Record) string {
	var b []string
	for _, tr := range r.Transitions {
		item := tr.Side.String() + ":" + tr.To.String()
		if tr.Inferred {
			item += "?"
		}
		if tr.Correction {
			item += "!"
		}
		b = append(b, item)
	}
	return strings.Join(b, " ")
}

// Discard is a tracker.Sink that drops everything.
type Discard struct{}

// Conn implements tracker.Sink.
func (Discard) Conn(int, *tracker.Record) {}

// Finding implements tracker.Sink.
func (Discard) Finding(int, *tracker.Finding) {}
