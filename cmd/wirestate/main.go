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
	"syscall"

	"github.com/spf13/pflag"
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
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "wirestate: %v\n", err)
		return 2
	}
	if fl.Version {
		fmt.Fprintf(stdout, "wirestate %s\n", version)
		return 0
	}
	if len(fl.Read) == 0 && !liveWanted(fl) {
		fmt.Fprintf(stderr, "wirestate: nothing to read: give -r FILE or -i IFACE (see --help)\n")
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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	out := stdout
	if fl.Output != "" && fl.Output != "-" {
		f, err := os.Create(fl.Output)
		if err != nil {
			fmt.Fprintf(stderr, "wirestate: %v\n", err)
			return 1
		}
		defer f.Close()
		out = f
	}
	work := offline
	if liveWanted(fl) {
		work = live
	}
	if err := work(ctx, fl, out, stderr); err != nil {
		fmt.Fprintf(stderr, "wirestate: %v\n", err)
		return 1
	}
	return 0
}
