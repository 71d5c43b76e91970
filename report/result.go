// Package report turns the tracker's connection records, snapshots and
// findings into what people and programs read: a text report for a terminal
// and JSON Lines. It knows nothing of packet sources; the command fills
// Input from whatever read the packets.
package report

import (
	"sort"
	"sync"

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
}

// Collector is a tracker.Sink that keeps every record and finding, one slice
// per shard so shards never contend.
type Collector struct {
	mu       sync.Mutex
	records  [][]tracker.Record
	findings [][]tracker.Finding
	// Keep, when set, decides whether a record is kept (default: all).
	Keep func(r *tracker.Record) bool
}

// NewCollector returns a Collector for a tracker with the given shard count.
func NewCollector(shards int) *Collector {
	return &Collector{records: make([][]tracker.Record, shards), findings: make([][]tracker.Finding, shards)}
}

// Conn keeps a copy of r.
func (c *Collector) Conn(shard int, r *tracker.Record) {
	if c.Keep != nil && !c.Keep(r) {
		return
	}
	c.records[shard] = append(c.records[shard], *r)
}

// Finding keeps a copy of f.
func (c *Collector) Finding(shard int, f *tracker.Finding) {
	c.findings[shard] = append(c.findings[shard], *f)
}

// Records returns every kept record, sorted by start time, then uid.
func (c *Collector) Records() []tracker.Record {
	var n int
	for _, r := range c.records {
		n += len(r)
	}
	out := make([]tracker.Record, 0, n)
	for _, r := range c.records {
		out = append(out, r...)
	}
	SortRecords(out)
	return out
}

// Findings returns every finding, in a stable order: by time, kind, uid.
func (c *Collector) Findings() []tracker.Finding {
	var out []tracker.Finding
	for _, f := range c.findings {
		out = append(out, f...)
	}
	SortFindings(out)
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
