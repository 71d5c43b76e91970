package pipeline

import (
	"cmp"
	"slices"

	"github.com/wirestate/wirestate/internal/chunk"
	"github.com/wirestate/wirestate/internal/hugepages"
	"github.com/wirestate/wirestate/internal/par"
	"github.com/wirestate/wirestate/report"
	"github.com/wirestate/wirestate/tracker"
)

// Collector is a tracker.Sink that keeps every record and finding, in
// storage of its own per shard so shards never contend. Records are held
// without their timelines, in pointer-free chunks: a flood brings a million
// of them, and storage the garbage collector need not scan, copied without
// write barriers, is what keeps that affordable.
type Collector struct {
	records  []shardRecords
	findings []chunk.List[tracker.Finding]
	// Keep, when set, decides whether a record is kept (default: all).
	Keep func(r *tracker.Record) bool
	// Fold, when set with FoldAfter, tells whether a connection could be
	// one member of a flood, which, and its victim's side (for example
	// detect.FloodMember). Past the first FoldAfter members per victim and
	// kind, such records are counted into a tracker.Folded instead of kept,
	// unless they carry a finding or a timeline.
	Fold      func(c *tracker.Conn) (kind tracker.AnomalyKind, victim tracker.Side, ok bool)
	FoldAfter int
	// Metrics keeps the latency and loss of every measured record; without
	// it only those of records that lost something (the text report's
	// capture-loss totals) or have a timeline (shown with it). The
	// per-listener latency is gathered either way (Latency).
	Metrics bool
	// SkipLatency leaves out the per-listener latency (Latency), for a
	// holder that gathers it over more records than it keeps.
	SkipLatency bool
}

// storedRecord is a record without its timeline.
type storedRecord struct {
	conn   tracker.Conn
	reason tracker.EndReason
	// met is the position plus one of the record's metrics in its
	// shard's mets, 0 if it had none (most records of a flood) or they
	// were not kept.
	met int32
}

// shardRecords holds one shard's records, and the timelines of the few
// that have one, by position.
type shardRecords struct {
	chunk.List[storedRecord]
	mets      chunk.List[tracker.Metrics]
	timelines map[int32]timeline
	folder    *folder
	latency   report.Latency
}

type timeline struct {
	entries     []tracker.TimelineEntry
	transitions []tracker.Transition
}

// NewCollector returns a Collector for a tracker with the given shard count.
func NewCollector(shards int) *Collector {
	return &Collector{records: make([]shardRecords, shards), findings: make([]chunk.List[tracker.Finding], shards)}
}

// Conn keeps a copy of r.
func (c *Collector) Conn(shard int, r *tracker.Record) {
	if c.Keep != nil && !c.Keep(r) {
		return
	}
	s := &c.records[shard]
	if c.Fold != nil && c.FoldAfter > 0 && r.Timeline == nil && r.Transitions == nil && !r.Conn.Anomalous() && c.fold(s, &r.Conn) {
		return
	}
	if r.Timeline != nil || r.Transitions != nil {
		if s.timelines == nil {
			s.timelines = map[int32]timeline{}
		}
		s.timelines[int32(s.N)] = timeline{r.Timeline, r.Transitions}
	}
	st := storedRecord{conn: r.Conn, reason: r.Reason}
	if m := r.Metrics; m != nil && (c.Metrics || m.Lossy() || r.Timeline != nil) {
		s.mets.Add(m)
		st.met = int32(s.mets.N)
	}
	s.Add(&st)
	if !c.SkipLatency {
		s.latency.Add(r)
	}
}

// Len returns the number of records kept.
func (c *Collector) Len() int {
	n := 0
	for i := range c.records {
		n += c.records[i].N
	}
	return n
}

// fold counts conn into its flood's tally, once its victim has had more
// than its share of FoldAfter members in this shard, and reports whether it
// did.
func (c *Collector) fold(s *shardRecords, conn *tracker.Conn) bool {
	if s.folder == nil {
		s.folder = &folder{member: c.Fold, limit: (c.FoldAfter + len(c.records) - 1) / len(c.records)}
	}
	return s.folder.add(conn)
}

// Folded returns the flood members counted instead of kept, per kind and
// victim, in a stable order.
func (c *Collector) Folded() []tracker.Folded {
	var fs []*folder
	for i := range c.records {
		if f := c.records[i].folder; f != nil {
			fs = append(fs, f)
		}
	}
	return mergeFolded(fs...)
}

// Finding keeps a copy of f.
func (c *Collector) Finding(shard int, f *tracker.Finding) {
	c.findings[shard].Add(f)
}

// recordKey places one stored record in the sorted output.
type recordKey struct {
	start int64
	uid   tracker.UID
	shard uint32
	pos   int32
}

// Records returns every kept record, sorted by start time, then uid, and
// releases the collector's copy. It sorts small keys, not records, and
// copies each record once.
func (c *Collector) Records() []tracker.Record {
	n := c.Len()
	keys := make([]recordKey, 0, n)
	for si := range c.records {
		s := &c.records[si]
		pos := int32(0)
		for _, ch := range s.Chunks {
			for i := range ch {
				keys = append(keys, recordKey{ch[i].conn.Start, ch[i].conn.UID, uint32(si), pos})
				pos++
			}
		}
	}
	keys = sortKeys(keys)
	out := make([]tracker.Record, n)
	hugepages.Advise(out)
	// Writing fresh memory is mostly page faults: two goroutines take
	// them on two cores.
	par.Halves(n, func(_, from, to int) {
		for i := from; i < to; i++ {
			k := &keys[i]
			s := &c.records[k.shard]
			st := s.At(int(k.pos))
			out[i].Conn = st.conn
			out[i].Reason = st.reason
			if st.met != 0 {
				out[i].Metrics = s.mets.At(int(st.met) - 1) // kept alive by the records
			}
			if tl, ok := s.timelines[k.pos]; ok {
				out[i].Timeline, out[i].Transitions = tl.entries, tl.transitions
			}
		}
	})
	for i := range c.records {
		c.records[i] = shardRecords{folder: c.records[i].folder, latency: c.records[i].latency}
	}
	return out
}

// Latency returns the per-listener latency figures of the kept records
// (folded flood members are not).
func (c *Collector) Latency() *report.Latency {
	l := &report.Latency{}
	for i := range c.records {
		l.Merge(&c.records[i].latency)
	}
	return l
}

// compareKeys orders record keys by start time, then uid.
func compareKeys(a, b recordKey) int {
	if a.start != b.start {
		return cmp.Compare(a.start, b.start)
	}
	return cmp.Compare(a.uid, b.uid)
}

// sortKeys sorts keys, its two halves on two goroutines, and returns them
// merged (in a new slice when large).
func sortKeys(keys []recordKey) []recordKey {
	if len(keys) < 8192 {
		slices.SortFunc(keys, compareKeys)
		return keys
	}
	mid := len(keys) / 2
	par.Halves(len(keys), func(_, from, to int) { slices.SortFunc(keys[from:to], compareKeys) })
	out := make([]recordKey, 0, len(keys))
	a, b := keys[:mid], keys[mid:]
	for len(a) > 0 && len(b) > 0 {
		if compareKeys(b[0], a[0]) < 0 {
			out = append(out, b[0])
			b = b[1:]
		} else {
			out = append(out, a[0])
			a = a[1:]
		}
	}
	out = append(out, a...)
	return append(out, b...)
}

// Findings returns every finding, in a stable order: by time, kind, uid.
func (c *Collector) Findings() []tracker.Finding {
	out := chunk.Gather(c.findings)
	report.SortFindings(out)
	return out
}
