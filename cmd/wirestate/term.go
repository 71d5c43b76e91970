package main

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/term"
)

// checkTextFlags checks --top and --color.
func checkTextFlags(f *Flags) error {
	if f.changed["top"] && f.Top < 1 {
		return fmt.Errorf("--top %d: want 1 or more (--all lists everything)", f.Top)
	}
	switch f.Color {
	case "auto", "always", "never":
	default:
		return fmt.Errorf("--color %s: want auto, always or never", f.Color)
	}
	return nil
}

// textLook returns the width the text report wraps at and whether it is
// coloured, for a report written to out: the terminal's width when out is
// one (0, the report's default, otherwise); colour with --color always, or
// with auto on a terminal when NO_COLOR is unset or empty (no-color.org).
func textLook(out io.Writer, color string) (width int, colored bool) {
	f, ok := out.(*os.File)
	tty := ok && term.IsTerminal(int(f.Fd()))
	if tty {
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 0 {
			width = w
		}
	}
	switch color {
	case "always":
		colored = true
	case "auto":
		colored = tty && os.Getenv("NO_COLOR") == ""
	}
	return width, colored
}
