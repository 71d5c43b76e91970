package main

import (
	"io"

	"github.com/spf13/pflag"

	"github.com/wirestate/wirestate/report"
)

// ZeekFlags holds the options of the Zeek-compatible output.
type ZeekFlags struct{}

// registerZeekFlags adds the Zeek options to fs.
func registerZeekFlags(fs *pflag.FlagSet, z *ZeekFlags) {}

// writeZeek writes res as Zeek's conn.log.
func writeZeek(w io.Writer, res *report.Result, fl *Flags) error { return nil }
