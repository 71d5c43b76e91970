package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/pflag"
)

// LiveFlags holds the options of live capture.
type LiveFlags struct {
	Interface string
}

// registerLiveFlags adds the live-capture options to fs.
func registerLiveFlags(fs *pflag.FlagSet, l *LiveFlags) {
	fs.StringVarP(&l.Interface, "interface", "i", "", "capture live from `IFACE` (any for all)")
}

// liveWanted reports whether the flags ask for live capture (or only for
// the interface list).
func liveWanted(fl *Flags) bool { return fl.Live.Interface != "" }

// live captures from an interface until interrupted.
func live(ctx context.Context, fl *Flags, out, stderr io.Writer) error {
	return fmt.Errorf("live capture is not built yet")
}
