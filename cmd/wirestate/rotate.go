package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/pflag"

	"github.com/wirestate/wirestate/report"
	"github.com/wirestate/wirestate/sink/rotate"
)

// registerRotateFlag adds --rotate to fs.
func registerRotateFlag(fs *pflag.FlagSet, d *time.Duration) {
	fs.DurationVar(d, "rotate", 0, "live: every `DURATION` (1s or more; on multiples of it from midnight, as Zeek), close the -o FILE (json or zeek) and rename it after its opening time, conn.log to conn.2026-12-05-23-00-00.log, then start a new one; the last one too at exit; 0 for none")
}

// checkRotate validates --rotate: a live output (-r rejects it as a live
// flag), in a file, of a format written as connections end.
func checkRotate(fl *Flags) error {
	switch d := fl.Rotate; {
	case d == 0:
		return nil
	case d < rotate.MinInterval:
		return fmt.Errorf("--rotate %v: want at least %v (or 0 for none)", d, rotate.MinInterval)
	case fl.Output == "" || fl.Output == "-":
		return errors.New("--rotate needs -o FILE: standard output cannot be rotated")
	case fl.Format != "json" && fl.Format != "zeek":
		return fmt.Errorf("--rotate is for --format json or zeek, written as connections end (not %s)", fl.Format)
	}
	return nil
}

// rotatedOutput returns the report stream of --format on -o FILE rotated
// every --rotate (sink/rotate).
func rotatedOutput(fl *Flags, opt report.StreamOptions) (report.Stream, error) {
	return rotate.New(rotate.Config{
		Path: fl.Output, Interval: fl.Rotate, Local: fl.LocalTime,
		New: func(w io.Writer, open time.Time) report.Stream {
			o := opt
			o.Open = open
			s, _ := report.NewStream(fl.Format, w, o) // the format was checked
			return s
		},
	})
}
