// Package report turns the tracker's connection records, snapshots and
// findings into what people and programs read: a text report for a terminal
// and JSON Lines. It knows nothing of packet sources; the command fills
// Input from whatever read the packets.
package report

import (
	"sort"

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
	Input    Input
	Tracker  tracker.Stats
	Records  []tracker.Record
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
// storage of its own per shard so shards never contend.
type Collector struct {
	records  []chunked[tracker.Record]
	findings []chunked[tracker.Finding]
	// Keep, when set, decides whether a record is kept (default: all).
	Keep func(r *tracker.Record) bool
}

// NewCollector returns a Collector for a tracker with the given shard count.
func NewCollector(shards int) *Collector {
	return &Collector{records: make([]chunked[tracker.Record], shards), findings: make([]chunked[tracker.Finding], shards)}
}

// Conn keeps a copy of r.
func (c *Collector) Conn(shard int, r *tracker.Record) {
	if c.Keep != nil && !c.Keep(r) {
		return
	}
	c.records[shard].add(r)
}

// Finding keeps a copy of f.
func (c *Collector) Finding(shard int, f *tracker.Finding) {
	c.findings[shard].add(f)
}

// Records returns every kept record, sorted by start time, then uid.
func (c *Collector) Records() []tracker.Record {
	out := gather(c.records)
	SortRecords(out)
	return out
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
			return a.Kind < b.Kind
		}
		return a.UID < b.UID
	})
}
