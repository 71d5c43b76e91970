package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/term"
)

// progressAfter is how long a run goes before it shows progress: short runs
// print nothing.
const progressAfter = 2 * time.Second

// progressLine draws the reading progress on one line of a terminal, as
// the pipeline reports it, and clears it at the end.
type progressLine struct {
	w           io.Writer
	start, last time.Time
	after       time.Duration
	shown       bool
}

// newProgress returns the progress callback for the pipeline when stderr is
// a terminal, nil otherwise (pipes and files never get it).
// WIRESTATE_PROGRESS_AFTER overrides the delay (for tests).
func newProgress(stderr io.Writer) func(read, total int64, packets uint64, done bool) {
	f, ok := stderr.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	p := &progressLine{w: stderr, start: time.Now(), after: progressAfter}
	if d, err := time.ParseDuration(os.Getenv("WIRESTATE_PROGRESS_AFTER")); err == nil {
		p.after = d
	}
	return p.update
}

func (p *progressLine) update(read, total int64, packets uint64, done bool) {
	now := time.Now()
	if done {
		if p.shown {
			fmt.Fprint(p.w, "\r\033[K")
		}
		return
	}
	elapsed := now.Sub(p.start)
	if elapsed < p.after || now.Sub(p.last) < 200*time.Millisecond {
		return
	}
	p.last, p.shown = now, true
	line := fmt.Sprintf("\rwirestate: %s read", sizeText(read))
	if total > 0 && read > 0 {
		line = fmt.Sprintf("\rwirestate: %3.0f%% of %s", 100*float64(read)/float64(total), sizeText(total))
	}
	line += fmt.Sprintf(", %d packets, %.2f M packets/s", packets, float64(packets)/elapsed.Seconds()/1e6)
	if total > 0 && read > 0 && read < total {
		eta := time.Duration(float64(elapsed) * float64(total-read) / float64(read))
		line += ", " + eta.Round(time.Second).String() + " left"
	}
	fmt.Fprint(p.w, line+"\033[K")
}

// sizeText formats a byte count as tcpdump users read sizes: 1.2 GB.
func sizeText(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.1f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}
