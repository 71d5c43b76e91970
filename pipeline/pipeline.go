// Package pipeline runs wirestate's analysis: it reads packets from a
// source (capture files or a live interface), feeds them to the tracker
// with its detectors, runs the passes a report needs (a second read for
// the timelines of chosen connections, one more for --write-findings),
// collects and folds the records, and hands records, findings, status
// records and the final result to every output stream.
//
// Live and offline analysis share the tracker, the collection of records
// and the outputs; they differ only in where packets come from and in when
// findings reach the outputs (as decided, or before the summary).
//
// The command (cmd/wirestate) turns flags into a Config; nothing else
// imports this package.
package pipeline

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"time"

	"github.com/wirestate/wirestate/capture"
	"github.com/wirestate/wirestate/report"
	"github.com/wirestate/wirestate/tracker"
	"github.com/wirestate/wirestate/tracker/detect"
)

// TimelineMode says which connections' per-packet timelines are reported.
type TimelineMode uint8

// The timeline modes (--timeline).
const (
	// TimelinesAnomalous reports example timelines of connections with
	// warning or critical findings, as each output asks.
	TimelinesAnomalous TimelineMode = iota
	// TimelinesAll reports every connection's timeline.
	TimelinesAll
	// TimelinesNone reports no timeline.
	TimelinesNone
)

var timelineModes = [...]string{TimelinesAnomalous: "anomalous", TimelinesAll: "all", TimelinesNone: "none"}

// ParseTimelineMode returns the mode with the given flag value.
func ParseTimelineMode(s string) (TimelineMode, bool) {
	for i, n := range timelineModes {
		if n == s {
			return TimelineMode(i), true
		}
	}
	return 0, false
}

// Output is one output stream and the name of what it writes to (a file
// name, or "" for standard output), which write errors carry.
type Output struct {
	Name   string
	Stream report.Stream
}

// wrap names the output in a write error.
func (o *Output) wrap(err error) error {
	if err == nil || o.Name == "" {
		return err
	}
	return fmt.Errorf("writing %s: %w", o.Name, err)
}

// Config is everything one run needs.
type Config struct {
	// Files are the capture files to read, merged in time order ("-" is
	// standard input). Live, when set, captures from an interface instead.
	Files []string
	Live  *LiveConfig
	// Strict stops at the first malformed record or packet instead of
	// counting and skipping it.
	Strict bool
	// Decoder configures packet decoding (checksum verification).
	Decoder capture.DecoderOptions
	// Filter is a BPF filter run on every file record before decoding, as
	// tcpdump -r does (live capture takes its filter in LiveConfig).
	Filter string
	// Count ends the reading of files after this many records passed the
	// filter (0: all).
	Count uint64

	// MSL is the maximum segment lifetime; IdleTimeout expires silent
	// connections.
	MSL, IdleTimeout time.Duration
	// Shards is the number of flow-table shards (0: one per CPU).
	Shards int
	// MaxConns bounds the connections held.
	MaxConns int
	// FoldAfter keeps this many records of possible flood members per
	// victim and counts the rest (0 keeps all).
	FoldAfter int
	// Zeek, when set, turns on Zeek's connection lifetime rules.
	Zeek *tracker.ZeekConfig
	// Detect configures the detectors.
	Detect detect.Config

	// Timelines chooses the connections whose timelines are reported.
	Timelines TimelineMode
	// Select narrows the report to connections (--conn, --host, --port).
	Select Selection
	// At, when set, reports the per-host states at that time instead of
	// at the end (see ParseAt).
	At string
	// WriteFindings, when set, is the pcap file that receives the packets
	// of every connection with a warning or critical finding.
	WriteFindings string

	// Outputs receive the run's findings, status records and result.
	Outputs []Output
	// Stderr receives warnings about the input (damaged files, files
	// that are not captures); nil discards them.
	Stderr io.Writer
	// stdin is what "-" reads: standard input, ended early when the run
	// is interrupted (Analyze sets it).
	stdin io.Reader
	// Progress, when set, is called every so often during the first read
	// of the files with the bytes read, the total (0 when unknown) and the
	// packets read; done is true on the last call.
	Progress func(read, total int64, packets uint64, done bool)
}

// DefaultShards is the number of flow-table shards when Config.Shards is
// 0: one per CPU Go runs on.
func DefaultShards() int { return runtime.GOMAXPROCS(0) }

// fileOptions returns the options every read of the files uses: each pass
// sees the same records.
func (c *Config) fileOptions() capture.FileOptions {
	return capture.FileOptions{Strict: c.Strict, Decoder: c.Decoder, Filter: c.Filter, Count: c.Count, Stdin: c.stdin}
}

func (c *Config) shards() int {
	if c.Shards > 0 {
		return c.Shards
	}
	return DefaultShards()
}

// needs joins what the outputs ask for.
func (c *Config) needs() report.Needs {
	var n report.Needs
	for _, o := range c.Outputs {
		m := o.Stream.Needs()
		n.History = n.History || m.History
		n.Metrics = n.Metrics || m.Metrics
		n.States = n.States || m.States
		n.ExampleTimelines = max(n.ExampleTimelines, m.ExampleTimelines)
		n.WarningTimelines = max(n.WarningTimelines, m.WarningTimelines)
		n.FindingTimelines = max(n.FindingTimelines, m.FindingTimelines)
	}
	return n
}

// Run analyses the configured source and writes every output.
func Run(ctx context.Context, cfg *Config) error {
	if cfg.Live != nil {
		return runLive(ctx, cfg)
	}
	res, err := Analyze(ctx, cfg)
	if err != nil {
		return err
	}
	return writeOutputs(cfg.Outputs, res, true)
}

// writeOutputs hands res to every output: its findings first when they
// were not streamed, then the summary; and closes them.
func writeOutputs(outs []Output, res *report.Result, findings bool) error {
	for i := range outs {
		o := &outs[i]
		if findings {
			for j := range res.Findings {
				if err := o.Stream.Finding(&res.Findings[j]); err != nil {
					return o.wrap(err)
				}
			}
		}
		res.KafkaDropped = dropped(outs)
		if err := o.Stream.Summary(res); err != nil {
			return o.wrap(err)
		}
		if err := o.Stream.Close(); err != nil {
			return o.wrap(err)
		}
	}
	return nil
}

// dropped sums the records the outputs dropped rather than stall the
// capture (the Kafka sink's).
func dropped(outs []Output) uint64 {
	return sumDropped(dropCounters(outs))
}

// sumDropped sums the records ds dropped.
func sumDropped(ds []report.DropCounter) uint64 {
	var n uint64
	for _, d := range ds {
		n += d.Dropped()
	}
	return n
}

// dropCounters returns the outputs that may drop records.
func dropCounters(outs []Output) []report.DropCounter {
	var ds []report.DropCounter
	for i := range outs {
		if d, ok := outs[i].Stream.(report.DropCounter); ok {
			ds = append(ds, d)
		}
	}
	return ds
}
