package tracker

import (
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/wirestate/wirestate/tracker/seqnum"
)

// collector is a Sink that keeps everything, for tests.
type collector struct {
	mu       sync.Mutex
	recs     []Record
	findings []Finding
}

func (c *collector) Conn(_ int, r *Record) {
	c.mu.Lock()
	c.recs = append(c.recs, *r)
	c.mu.Unlock()
}

func (c *collector) Finding(_ int, f *Finding) {
	c.mu.Lock()
	c.findings = append(c.findings, *f)
	c.mu.Unlock()
}

func (c *collector) sorted() []Record {
	sort.Slice(c.recs, func(i, j int) bool {
		if c.recs[i].Conn.Start != c.recs[j].Conn.Start {
			return c.recs[i].Conn.Start < c.recs[j].Conn.Start
		}
		return c.recs[i].Conn.UID < c.recs[j].Conn.UID
	})
	return c.recs
}

var (
	epA = Endpoint{Addr: AddrFrom4([4]byte{10, 0, 0, 1}), Port: 40000}
	epB = Endpoint{Addr: AddrFrom4([4]byte{10, 0, 0, 2}), Port: 80}
)

// convo builds a scripted conversation between epA (side "A") and epB.
type convo struct {
	segs  []Segment
	now   int64
	frame uint64
}

// add appends a segment from "A" or "B" with tcpdump-style flags (S, F, R,
// P, . for ACK), absolute seq and ack, and payload length, dt ns later.
func (c *convo) add(from string, flags string, seq, ack uint32, n uint32, dt int64) *convo {
	c.now += dt
	c.frame++
	s := Segment{Time: c.now, Frame: c.frame, Seq: seqnum.Value(seq), Ack: seqnum.Value(ack), PayloadLen: n, Window: 1000, IPLen: 52 + n}
	if from == "A" {
		s.Src, s.Dst = epA, epB
	} else {
		s.Src, s.Dst = epB, epA
	}
	for _, ch := range flags {
		switch ch {
		case 'S':
			s.Flags |= FlagSYN
		case 'F':
			s.Flags |= FlagFIN
		case 'R':
			s.Flags |= FlagRST
		case 'P':
			s.Flags |= FlagPSH
		case '.':
			s.Flags |= FlagACK
		}
	}
	c.segs = append(c.segs, s)
	return c
}

// run feeds the conversation to an inline tracker recording every
// connection, and returns the records in start order.
func run(t *testing.T, segs []Segment, cfg Config) []Record {
	t.Helper()
	col := &collector{}
	cfg.Sink = col
	cfg.Record = func(UID) bool { return true }
	if cfg.Shards == 0 {
		cfg.Inline = true
	}
	tr := New(cfg)
	for i := range segs {
		tr.Feed(&segs[i])
	}
	tr.Close()
	return col.sorted()
}

// transitionsString lists a record's transitions as "orig:STATE" items.
func transitionsString(r *Record) string {
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
