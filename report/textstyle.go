package report

import (
	"strings"
	"unicode/utf8"

	"github.com/wirestate/wirestate/tracker"
)

// The text report's default bounds: entries per finding group's list,
// hosts in the per-host view, and connections in the connection table.
// Options.Top replaces all three; Options.All lifts them.
const (
	DefaultTopFindings = 10
	DefaultTopHosts    = 20
	DefaultTopConns    = 20
)

// DefaultWidth is the column the text report wraps at when Options.Width
// is not set (output that is not a terminal).
const DefaultWidth = 100

// limit returns how many entries of a list the report prints: def by
// default, Top when set, every one (-1) with All.
func (o *Options) limit(def int) int {
	switch {
	case o.All:
		return -1
	case o.Top > 0:
		return o.Top
	}
	return def
}

// width returns the column prose wraps at.
func (o *Options) width() int {
	if o.Width > 0 {
		return o.Width
	}
	return DefaultWidth
}

// ANSI SGR sequences for the text report's colours.
const (
	ansiReset   = "\x1b[0m"
	ansiRed     = "\x1b[1;31m"
	ansiYellow  = "\x1b[1;33m"
	ansiCyan    = "\x1b[36m"
	ansiGreen   = "\x1b[32m"
	ansiAmber   = "\x1b[33m"
	ansiMagenta = "\x1b[35m"
	ansiBlue    = "\x1b[34m"
)

// paint wraps s in colour code when the report is coloured.
func (o *Options) paint(code, s string) string {
	if !o.Color || code == "" || s == "" {
		return s
	}
	return code + s + ansiReset
}

// sevColor is the colour of a severity.
func sevColor(sev tracker.Severity) string {
	switch {
	case sev >= tracker.SevCritical:
		return ansiRed
	case sev >= tracker.SevWarning:
		return ansiYellow
	}
	return ansiCyan
}

// stateColor is the colour of an endpoint state: green while data can
// flow, amber while handshaking, magenta when the application has yet to
// close (CLOSE_WAIT, LAST_ACK), blue while closing, none once closed.
func stateColor(st tracker.State) string {
	switch st {
	case tracker.Established, tracker.Listen:
		return ansiGreen
	case tracker.SynSent, tracker.SynReceived:
		return ansiAmber
	case tracker.CloseWait, tracker.LastAck:
		return ansiMagenta
	case tracker.FinWait1, tracker.FinWait2, tracker.Closing, tracker.TimeWait:
		return ansiBlue
	}
	return ""
}

// severityLabel is a severity as the findings print it, padded to eight
// columns (the padding outside the colour).
func (o *Options) severityLabel(sev tracker.Severity) string {
	s := strings.ToUpper(sev.String())
	pad := ""
	if n := 8 - len(s); n > 0 {
		pad = strings.Repeat(" ", n)
	}
	return o.paint(sevColor(sev), s) + pad
}

// visibleLen returns the columns s takes on a terminal: its runes, less
// any ANSI escape sequences.
func visibleLen(s string) int {
	n := 0
	for i := 0; i < len(s); {
		if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '[' {
			j := i + 2
			for j < len(s) && (s[j] < 0x40 || s[j] > 0x7e) {
				j++
			}
			i = j + 1
			continue
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
		n++
	}
	return n
}
