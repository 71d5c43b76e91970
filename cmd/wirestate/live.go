package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/wirestate/wirestate/capture"
	"github.com/wirestate/wirestate/pipeline"
)

// LiveFlags holds the options of live capture.
type LiveFlags struct {
	Interface      string
	FilterExpr     string
	Snaplen        int
	NoPromisc      bool
	BufferSize     int
	Immediate      bool
	Count          uint64
	Duration       time.Duration
	ListInterfaces bool
	StatsInterval  time.Duration
	Write          string
	FileSize       int
	EvidencePkts   int
	MetricsAddr    string
	ReportConns    int
	// Engine is --capture-engine; Workers is --workers (0: one per CPU).
	Engine  string
	Workers int
}

// defaultReportConns bounds the connection records (and, separately, the
// findings) a live run keeps for its final report.
const defaultReportConns = 100000

// registerLiveFlags adds the live-capture options to fs.
func registerLiveFlags(fs *pflag.FlagSet, l *LiveFlags) {
	fs.StringVarP(&l.Interface, "interface", "i", "", "capture live from `IFACE` (any for all); TCP checksums are not verified live, as transmit offload leaves them unfilled")
	fs.StringVarP(&l.FilterExpr, "filter", "f", "", "BPF capture filter `EXPR` (instead of positional arguments)")
	fs.IntVarP(&l.Snaplen, "snaplen", "s", capture.DefaultSnaplen, "live: capture at most `BYTES` of each packet (the default holds every header with full TCP options; lengths come from the IP header)")
	fs.BoolVarP(&l.NoPromisc, "no-promisc", "p", false, "live: do not put the interface in promiscuous mode")
	fs.StringVar(&l.Engine, "capture-engine", string(capture.DefaultEngine), "live: `ENGINE` that captures: afpacket (Linux AF_PACKET rings read without copying, one socket and tracker shard per worker, flows split by the kernel) or libpcap")
	fs.IntVar(&l.Workers, "workers", 0, "live, afpacket: `N` capture workers, each with its own socket in one fanout group and its own tracker shard (default one per CPU)")
	fs.IntVarP(&l.BufferSize, "buffer-size", "B", 0, "live: kernel capture buffer in `KiB`: each afpacket worker's ring (default 16 MiB shared by the workers, at least 8 MiB each) or libpcap's buffer (default 2 MiB); raise it if drops appear")
	fs.BoolVar(&l.Immediate, "immediate-mode", true, "live: deliver packets as they arrive rather than in kernel-buffer blocks (libpcap: on unless turned off; afpacket: off unless given, when blocks are handed over every 1 ms instead of 100 ms)")
	fs.Uint64VarP(&l.Count, "count", "c", 0, "stop after `N` packets that pass the filter (as tcpdump's -c)")
	fs.DurationVar(&l.Duration, "duration", 0, "live: stop after this long")
	fs.BoolVarP(&l.ListInterfaces, "list-interfaces", "D", false, "list the interfaces live capture can use, and exit")
	fs.DurationVar(&l.StatsInterval, "stats-interval", 10*time.Second, "live: print a status line (a stats record in JSON) this often; 0 for none")
	fs.StringVarP(&l.Write, "write", "w", "", "live: also write every captured packet to the pcap `FILE`")
	fs.IntVar(&l.FileSize, "file-size", 0, "live: with -w, start a new file (FILE1, FILE2 ...) when one passes `MB` million bytes (tcpdump's -C)")
	fs.IntVar(&l.EvidencePkts, "evidence-packets", 64, "live: with --write-findings, the last `N` packets kept per connection until it is decided")
	fs.StringVar(&l.MetricsAddr, "metrics-addr", "", "live: serve Prometheus metrics on `ADDR` (like :9100) at /metrics")
	fs.IntVar(&l.ReportConns, "report-conns", defaultReportConns, "live: connection records (and findings) kept for the final report; past it only records with findings, up to as many again (findings are always streamed and counted)")
}

// liveWanted reports whether the flags ask for live capture (or only for
// the interface list).
func liveWanted(fl *Flags) bool { return fl.Live.Interface != "" || fl.Live.ListInterfaces }

// liveConfig validates the live-capture flags and returns the pipeline's
// live configuration.
func liveConfig(fl *Flags, stderr io.Writer) (*pipeline.LiveConfig, error) {
	lf := &fl.Live
	filter, err := filterOf(fl)
	if err != nil {
		return nil, err
	}
	switch {
	case fl.At != "":
		return nil, errors.New("--at is for capture files; live capture reports the states as they are")
	case lf.StatsInterval < 0:
		return nil, errors.New("--stats-interval must not be negative")
	case fl.MaxConns < 0:
		return nil, errors.New("--max-conns must not be negative")
	case lf.FileSize < 0:
		return nil, errors.New("--file-size must not be negative")
	case lf.FileSize > 0 && lf.Write == "":
		return nil, errors.New("--file-size needs -w FILE")
	case lf.BufferSize < 0:
		return nil, errors.New("--buffer-size must not be negative")
	}
	engine := capture.Engine(lf.Engine)
	switch engine {
	case capture.EngineAFPacket, capture.EngineLibpcap:
	default:
		return nil, fmt.Errorf("--capture-engine %q: want afpacket or libpcap", lf.Engine)
	}
	switch {
	case fl.changed["workers"] && lf.Workers < 1:
		return nil, fmt.Errorf("--workers %d: want 1 or more", lf.Workers)
	case engine == capture.EngineLibpcap && lf.Workers > 1:
		return nil, fmt.Errorf("--workers %d: the libpcap engine reads with one worker (use --capture-engine afpacket)", lf.Workers)
	case engine == capture.EngineAFPacket && fl.changed["shards"]:
		return nil, errors.New("--shards is for -r and --capture-engine libpcap: with afpacket each capture worker has its own shard (--workers)")
	}
	// libpcap's immediate mode is on unless turned off; afpacket's short
	// blocks only when asked for.
	immediate := lf.Immediate && (engine == capture.EngineLibpcap || fl.changed["immediate-mode"])
	return &pipeline.LiveConfig{
		LiveOptions: capture.LiveOptions{Interface: lf.Interface, Filter: filter, Snaplen: lf.Snaplen,
			Promisc: !lf.NoPromisc, BufferSize: lf.BufferSize << 10, Immediate: immediate,
			Engine: engine, Workers: lf.Workers},
		Count: lf.Count, Duration: lf.Duration,
		StatsInterval: lf.StatsInterval, Write: lf.Write, FileSize: int64(lf.FileSize) * 1e6,
		EvidencePackets: lf.EvidencePkts, MetricsAddr: lf.MetricsAddr, ReportConns: lf.ReportConns,
		Stderr: stderr,
	}, nil
}

// exitOnSecondSignal ends the process at once on a second interrupt; the
// first (which cancels the run's context) stops the capture and prints the
// report. The returned function stops watching.
func exitOnSecondSignal(stderr io.Writer) func() {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		n := 0
		for range sigs {
			if n++; n >= 2 {
				fmt.Fprintln(stderr, "wirestate: second signal, exiting at once")
				os.Exit(130)
			}
		}
	}()
	return func() { signal.Stop(sigs) }
}

// listInterfaces prints the capture devices, as tcpdump -D does.
func listInterfaces(out io.Writer) error {
	ifs, err := capture.Interfaces()
	if err != nil {
		return err
	}
	for i, d := range ifs {
		line := fmt.Sprintf("%d.%s", i+1, d.Name)
		var extra []string
		if d.Description != "" {
			extra = append(extra, d.Description)
		}
		if len(d.Addresses) > 0 {
			extra = append(extra, strings.Join(d.Addresses, ", "))
		}
		if len(extra) > 0 {
			line += " [" + strings.Join(extra, "; ") + "]"
		}
		fmt.Fprintln(out, line)
	}
	return nil
}
