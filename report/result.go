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
	// Filter is the BPF filter the records were read through ("" for
	// none); Filtered counts the records it rejected.
	Filter   string
	Filtered uint64
}

// StateSource gives each host's connections per state over a capture, the
// HTML report's states chart; the pipeline records it while it reads.
type StateSource interface {
	// Timeline returns the per-bucket peaks for every host in pin, then
	// the hosts with the most connections, up to maxHosts in all, between
	// first and last (nanoseconds since the epoch).
	Timeline(first, last int64, maxHosts int, pin []tracker.Addr) *StateTimeline
	// NumHosts returns the number of hosts seen.
	NumHosts() int
}

// StateTimeline is the merged result of a StateSource: for each chosen
// host, the most connections it held at once in each state during each
// time bucket (a second, or a fraction of one for a short capture, or
// longer ones for a long capture).
type StateTimeline struct {
	// Start is the start of the first bucket and Step the width of each,
	// in nanoseconds; N is the number of buckets.
	Start, Step int64
	N           int
	// Hosts holds the chosen hosts, most connections first.
	Hosts []HostSeries
}

// HostSeries is one host's state counts over time.
type HostSeries struct {
	Host tracker.Addr
	// Conns counts the connections with an endpoint on the host.
	Conns int
	// Peak holds, per state, the most connections in that state at any
	// instant of each bucket (including its start); nil when the state
	// never occurred on the host.
	Peak [tracker.NumStates][]int32
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
	States StateSource
	// Show says which timelines and transitions the reports print.
	Show Show
	// KafkaDropped counts the records the Kafka sink dropped (rather than
	// stall the capture) before the report was written; the JSON summary
	// carries it when not 0.
	KafkaDropped uint64
	// Connections, when not 0, is the number of connections the run
	// reports, Records being only those kept: live, the records streamed
	// as connections ended plus the flood members folded.
	Connections int
	// Latency holds the per-listener latency figures of every record
	// (live, of every record emitted, not only of those the report kept);
	// nil leaves the latency view out.
	Latency *Latency
}

// ConnCount returns the number of connections the result reports:
// Connections when set, else its records and the flood members folded.
func (res *Result) ConnCount() int {
	if res.Connections != 0 {
		return res.Connections
	}
	return len(res.Records) + FoldedCount(res.Folded)
}

// DropCounter is implemented by a stream that drops records rather than
// stall the capture when its destination is slow or gone (the Kafka
// sink). The pipeline reports the count in status records and summaries
// (kafka_dropped) and as a metric. Dropped is safe to call at any time.
type DropCounter interface {
	Dropped() uint64
}

// FoldedCount returns the number of connections folded.
func FoldedCount(folded []tracker.Folded) int {
	n := 0
	for i := range folded {
		n += folded[i].Count
	}
	return n
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
