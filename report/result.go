// Package report turns the tracker's connection records, snapshots and
// findings into what people and programs read: a text report for a terminal
// and JSON Lines. It knows nothing of packet sources; the command fills
// Input from whatever read the packets.
package report

import (
	"cmp"
	"slices"
	"sort"

	"github.com/wirestate/wirestate/internal/hugepages"
	"github.com/wirestate/wirestate/tracker"
)

// Input describes where the packets came from, as the reader saw it.
type Input struct {
	// Sources names the files (or interface) read.
	Sources []string
	// Formats describes each source, for example "pcap, Ethernet".
	Formats []string
	// Packets counts every packet read; TCPSegments those handed to the
	// tracker.
	Packets, TCPSegments uint64
	// Bytes counts captured bytes.
	Bytes uint64
	// Skipped counts packets not analysed, by reason, in a fixed order.
	Skipped []Count
	// First and Last are the first and last packet times (ns since the
	// epoch); zero when nothing was read.
	First, Last int64
	// Backwards counts packets whose timestamp went backwards.
	Backwards uint64
	// Dropped counts packets the capture lost (live capture), when known.
	Dropped uint64
}

// Count is a named counter.
type Count struct {
	Name  string
	Count uint64
}

// Result is everything one run produced, ready to print.
type Result struct {
	Input   Input
	Tracker tracker.Stats
	Records []tracker.Record
	// Folded holds the flood members counted instead of kept as records.
	Folded   []tracker.Folded
	Findings []tracker.Finding
	// At is the time the per-host view describes; Snapshot holds the
	// connections' states then. When Snapshot is nil the view is built
	// from the records' final states, at the end of the capture.
	At       int64
	Snapshot []tracker.ConnState
	// States, when set, counts each host's connections per state over
	// the capture (the HTML report's states chart).
	States *StateRecorder
}

// collectorChunk is how many records or findings one storage chunk holds;
// fixed-size chunks never move what they hold, so growing costs no copy.
const collectorChunk = 4096

// chunked stores values in fixed-size chunks.
type chunked[T any] struct {
	chunks [][]T
	n      int
}

func (c *chunked[T]) add(v *T) {
	if c.n%collectorChunk == 0 {
		c.chunks = append(c.chunks, make([]T, 0, collectorChunk))
	}
	last := &c.chunks[len(c.chunks)-1]
	*last = append(*last, *v)
	c.n++
}

func (c *chunked[T]) appendTo(out []T) []T {
	for _, ch := range c.chunks {
		out = append(out, ch...)
	}
	return out
}

// Collector is a tracker.Sink that keeps every record and finding, in
// storage of its own per shard so shards never contend. Records are held
// without their timelines, in pointer-free chunks: a flood brings a million
// of them, and storage the garbage collector need not scan, copied without
// write barriers, is what keeps that affordable.
type Collector struct {
	records  []shardRecords
	findings []chunked[tracker.Finding]
	// Keep, when set, decides whether a record is kept (default: all).
	Keep func(r *tracker.Record) bool
	// Fold, when set with FoldAfter, tells whether a connection could be
	// one member of a flood, which, and its victim's side (for example
	// detect.FloodMember). Past the first FoldAfter members per victim and
	// kind, such records are counted into a tracker.Folded instead of kept,
	// unless they carry a finding or a timeline.
	Fold      func(c *tracker.Conn) (kind tracker.AnomalyKind, victim tracker.Side, ok bool)
	FoldAfter int
}

// foldKey names one possible flood: its kind and victim.
type foldKey struct {
	kind   tracker.AnomalyKind
	victim tracker.Endpoint
}

// storedRecord is a record without its timeline.
type storedRecord struct {
	conn   tracker.Conn
	reason tracker.EndReason
}

// shardRecords holds one shard's records, and the timelines of the few
// that have one, by position.
type shardRecords struct {
	chunked[storedRecord]
	timelines map[int32]timeline
	members   map[foldKey]int
	folded    map[foldKey]*tracker.Folded
}

type timeline struct {
	entries     []tracker.TimelineEntry
	transitions []tracker.Transition
}

// NewCollector returns a Collector for a tracker with the given shard count.
func NewCollector(shards int) *Collector {
	return &Collector{records: make([]shardRecords, shards), findings: make([]chunked[tracker.Finding], shards)}
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
		s.timelines[int32(s.n)] = timeline{r.Timeline, r.Transitions}
	}
	s.add(&storedRecord{conn: r.Conn, reason: r.Reason})
}

// fold counts conn into its flood's tally, once its victim has had more
// than its share of FoldAfter members in this shard, and reports whether it
// did.
func (c *Collector) fold(s *shardRecords, conn *tracker.Conn) bool {
	kind, side, ok := c.Fold(conn)
	if !ok {
		return false
	}
	k := foldKey{kind, conn.Endpoint(side)}
	if s.members == nil {
		s.members, s.folded = map[foldKey]int{}, map[foldKey]*tracker.Folded{}
	}
	s.members[k]++
	if s.members[k] <= (c.FoldAfter+len(c.records)-1)/len(c.records) {
		return false
	}
	f := s.folded[k]
	if f == nil {
		f = &tracker.Folded{Kind: kind, Victim: k.victim}
		s.folded[k] = f
	}
	f.Add(conn, side)
	return true
}

// Folded returns the flood members counted instead of kept, per kind and
// victim, in a stable order.
func (c *Collector) Folded() []tracker.Folded {
	byKey := map[foldKey]*tracker.Folded{}
	var out []tracker.Folded
	for i := range c.records {
		for k, f := range c.records[i].folded {
			if byKey[k] == nil {
				byKey[k] = &tracker.Folded{Kind: k.kind, Victim: k.victim}
			}
			byKey[k].Merge(f)
		}
	}
	for _, f := range byKey {
		out = append(out, *f)
	}
	slices.SortFunc(out, func(a, b tracker.Folded) int {
		if a.Kind != b.Kind {
			return cmp.Compare(a.Kind, b.Kind)
		}
		if a.Victim.Addr != b.Victim.Addr {
			if addrLess(&a.Victim.Addr, &b.Victim.Addr) {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.Victim.Port, b.Victim.Port)
	})
	return out
}

// FoldedCount returns the number of connections folded.
func FoldedCount(folded []tracker.Folded) int {
	n := 0
	for i := range folded {
		n += folded[i].Count
	}
	return n
}

// Finding keeps a copy of f.
func (c *Collector) Finding(shard int, f *tracker.Finding) {
	c.findings[shard].add(f)
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
	n := 0
	for i := range c.records {
		n += c.records[i].n
	}
	keys := make([]recordKey, 0, n)
	for si := range c.records {
		s := &c.records[si]
		pos := int32(0)
		for _, ch := range s.chunks {
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
	halves(n, func(_, from, to int) {
		for i := from; i < to; i++ {
			k := &keys[i]
			s := &c.records[k.shard]
			st := &s.chunks[k.pos/collectorChunk][k.pos%collectorChunk]
			out[i].Conn = st.conn
			out[i].Reason = st.reason
			if tl, ok := s.timelines[k.pos]; ok {
				out[i].Timeline, out[i].Transitions = tl.entries, tl.transitions
			}
		}
	})
	for i := range c.records {
		c.records[i] = shardRecords{folded: c.records[i].folded}
	}
	return out
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
	halves(len(keys), func(_, from, to int) { slices.SortFunc(keys[from:to], compareKeys) })
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
	out := gather(c.findings)
	SortFindings(out)
	return out
}

// gather joins the shards' chunked storage into one slice.
func gather[T any](parts []chunked[T]) []T {
	n := 0
	for i := range parts {
		n += parts[i].n
	}
	out := make([]T, 0, n)
	for i := range parts {
		out = parts[i].appendTo(out)
	}
	return out
}

// SortRecords orders records by start time, then uid.
func SortRecords(rs []tracker.Record) {
	sort.Slice(rs, func(i, j int) bool {
		a, b := &rs[i].Conn, &rs[j].Conn
		if a.Start != b.Start {
			return a.Start < b.Start
		}
		return a.UID < b.UID
	})
}

// SortFindings orders findings by time, then kind, then uid.
func SortFindings(fs []tracker.Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := &fs[i], &fs[j]
		if a.Time != b.Time {
			return a.Time < b.Time
		}
		if a.Kind != b.Kind {
			return a.Kind.String() < b.Kind.String() // by name, as the outputs have always been
		}
		return a.UID < b.UID
	})
}
