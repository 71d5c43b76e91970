// Command wirestate reads TCP packets from capture files (and, later, live
// interfaces), rebuilds the RFC 793 state of both endpoints of every
// connection, and reports what happened to them.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"

	"github.com/spf13/pflag"
	"github.com/wirestate/wirestate/capture"
	"github.com/wirestate/wirestate/pipeline"
	"github.com/wirestate/wirestate/report"
	"github.com/wirestate/wirestate/sink/kafka"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process exit, for tests.
func run(args []string, stdout, stderr io.Writer) int {
	fl, err := parseFlags(args)
	if errors.Is(err, pflag.ErrHelp) {
		help := &Flags{}
		writeHelp(stdout, newFlagSet(help), helpWidth(stdout))
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "wirestate: %v\n", err)
		return 2
	}
	switch {
	case fl.Version:
		fmt.Fprintln(stdout, versionString())
		return 0
	case fl.Man:
		writeMan(stdout, fl.fs)
		return 0
	case fl.Completion != "":
		if err := writeCompletion(stdout, fl.fs, fl.Completion); err != nil {
			fmt.Fprintf(stderr, "wirestate: %v\n", err)
			return 2
		}
		return 0
	}
	if len(fl.Read) == 0 && !liveWanted(fl) {
		if looksLikeCapture(fl.Filter) {
			fmt.Fprintf(stderr, "wirestate: %s: did you mean -r %s?\n", fl.Filter, fl.Filter)
		} else {
			fmt.Fprintf(stderr, "wirestate: nothing to read: give -r FILE or -i IFACE (see --help)\n")
		}
		return 2
	}
	if fl.CPUProfile != "" {
		pf, err := os.Create(fl.CPUProfile)
		if err != nil {
			fmt.Fprintf(stderr, "wirestate: %v\n", err)
			return 1
		}
		if err := pprof.StartCPUProfile(pf); err != nil {
			fmt.Fprintf(stderr, "wirestate: %v\n", err)
			return 1
		}
		defer func() { pprof.StopCPUProfile(); pf.Close() }()
	}
	if fl.MemProfile != "" {
		defer func() {
			if err := writeHeapProfile(fl.MemProfile); err != nil {
				fmt.Fprintf(stderr, "wirestate: %v\n", err)
			}
		}()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if fl.Live.ListInterfaces {
		if err := listInterfaces(stdout); err != nil {
			fmt.Fprintf(stderr, "wirestate: %v\n", err)
			return 1
		}
		return 0
	}
	cfg, closeOutputs, err := pipelineConfig(ctx, fl, stdout, stderr)
	defer closeOutputs()
	if err != nil {
		fmt.Fprintf(stderr, "wirestate: %v\n", err)
		if errors.As(err, new(usageError)) {
			return 2
		}
		return 1
	}
	if cfg.Live != nil {
		defer exitOnSecondSignal(stderr)()
	}
	if err := pipeline.Run(ctx, cfg); err != nil {
		fmt.Fprintf(stderr, "wirestate: %v\n", err)
		return 1
	}
	return 0
}

// pipelineConfig turns the flags into the pipeline's configuration: the
// tracker's and detectors' settings, the selection, and the outputs (the
// report in --format on -o, and the HTML report beside it). The returned
// function closes the files it created (and the Kafka output). ctx ends on
// SIGINT or SIGTERM.
func pipelineConfig(ctx context.Context, fl *Flags, stdout, stderr io.Writer) (*pipeline.Config, func(), error) {
	var files []*os.File
	var ks *kafka.Sink
	closeAll := func() {
		if ks != nil {
			ks.Close() // flushes when the run stopped before the outputs were closed
		}
		for _, f := range files {
			f.Close()
		}
	}
	zcfg, err := zeekTrackerConfig(fl) // Zeek mode and originator rules (zeek.go)
	if err != nil {
		return nil, closeAll, usageError{err}
	}
	sel, err := pipeline.NewSelection(fl.Conns, fl.Hosts, fl.Ports)
	if err != nil {
		return nil, closeAll, usageError{err}
	}
	if fl.At != "" {
		if _, err := pipeline.ParseAt(fl.At, 0); err != nil {
			return nil, closeAll, usageError{err}
		}
	}
	mode, _ := pipeline.ParseTimelineMode(fl.Timeline)
	cfg := &pipeline.Config{
		Files: fl.Read, Strict: fl.Strict, Decoder: zeekDecoderOptions(fl), // checksums: -C (zeek.go)
		MSL: fl.MSL, IdleTimeout: fl.IdleTimeout, Shards: fl.Shards, MaxConns: fl.MaxConns, FoldAfter: fl.FoldAfter,
		Zeek: zcfg, Detect: fl.Detect, Timelines: mode, Select: sel, At: fl.At,
		WriteFindings: fl.HTML.WriteFindings, Stderr: stderr, Progress: newProgress(stderr),
	}
	if liveWanted(fl) {
		if cfg.Live, err = liveConfig(fl, stderr); err != nil {
			return nil, closeAll, usageError{err}
		}
	} else {
		if cfg.Filter, err = filterOf(fl); err != nil {
			return nil, closeAll, usageError{err}
		}
		if slices.Contains(fl.Read, "-") && fl.HTML.WriteFindings != "" {
			return nil, closeAll, usageError{errors.New("--write-findings needs capture files: standard input is read once")}
		}
		cfg.Count = fl.Live.Count
	}
	opt := report.StreamOptions{Local: fl.LocalTime, Live: cfg.Live != nil, Version: version, Quiet: fl.Quiet,
		AllTimelines: len(fl.Conns) > 0 || mode == pipeline.TimelinesAll, Sensor: fl.Sensor,
		CommunityIDSeed: fl.CommunityIDSeed}
	kc, err := kafkaConfig(fl, cfg.Live != nil, stderr)
	if err != nil {
		return nil, closeAll, err
	}
	if kc != nil {
		kc.Interrupt = ctx
		// The Kafka output comes first: it is closed (flushed) before the
		// other outputs write their summaries, which then count every
		// record it dropped.
		if ks, err = kafka.New(*kc); err != nil {
			return nil, closeAll, err
		}
		cfg.Outputs = append(cfg.Outputs, pipeline.Output{Name: "kafka", Stream: ks})
	}
	create := func(path string) (io.Writer, error) {
		f, err := os.Create(path)
		if err == nil {
			files = append(files, f)
		}
		return f, err
	}
	if fl.HTML.Path != "" {
		w, err := create(fl.HTML.Path)
		if err != nil {
			return nil, closeAll, err
		}
		s, _ := report.NewStream("html", w, opt)
		cfg.Outputs = append(cfg.Outputs, pipeline.Output{Name: fl.HTML.Path, Stream: s})
	}
	if fl.Rotate > 0 {
		s, err := rotatedOutput(fl, opt) // rotate.go
		if err != nil {
			return nil, closeAll, err
		}
		cfg.Outputs = append(cfg.Outputs, pipeline.Output{Name: fl.Output, Stream: s})
		return cfg, closeAll, nil
	}
	out := stdout
	if fl.Output != "" && fl.Output != "-" {
		if out, err = create(fl.Output); err != nil {
			return nil, closeAll, err
		}
	}
	opt.Top, opt.All = fl.Top, fl.All
	opt.Width, opt.Color = textLook(out, fl.Color) // term.go
	s, err := report.NewStream(fl.Format, out, opt)
	if err != nil {
		return nil, closeAll, err
	}
	cfg.Outputs = append(cfg.Outputs, pipeline.Output{Stream: s})
	return cfg, closeAll, nil
}

// usageError is an error in the command line: exit status 2.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// filterOf returns the BPF filter, given as arguments or with -f, checked
// by libpcap for Ethernet, offline and live alike (each file's link type
// compiles it again; -i any, of another link type, is left to libpcap at
// open time).
func filterOf(fl *Flags) (string, error) {
	filter := fl.Filter
	if fl.Live.FilterExpr != "" {
		if filter != "" {
			return "", errors.New("give the filter with -f or as arguments, not both")
		}
		filter = fl.Live.FilterExpr
	}
	if err := capture.CompileFilter(filter, capture.LinkEthernet, fl.Live.Snaplen); err != nil && fl.Live.Interface != "any" {
		return "", err
	}
	return filter, nil
}

// looksLikeCapture reports whether a positional argument names a capture
// file rather than a filter: an existing file, or a capture's extension.
func looksLikeCapture(arg string) bool {
	if arg == "" || strings.Contains(arg, " ") {
		return false
	}
	if st, err := os.Stat(arg); err == nil && st.Mode().IsRegular() {
		return true
	}
	for _, ext := range []string{".pcap", ".pcapng", ".cap", ".pcap.gz", ".pcapng.gz"} {
		if strings.HasSuffix(arg, ext) {
			return true
		}
	}
	return false
}

// writeHeapProfile writes the allocation profile of the run to path.
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
