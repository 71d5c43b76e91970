package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"github.com/wirestate/wirestate/report"
)

// HTMLFlags holds the options of the HTML report.
type HTMLFlags struct {
	// Path is the file the HTML report is written to (--html).
	Path string
	// WriteFindings is the pcap file that receives the packets of every
	// connection with a warning or critical finding (--write-findings),
	// offline and, through the live-capture code, live.
	WriteFindings string
}

// registerHTMLFlags adds the HTML report options to fs.
func registerHTMLFlags(fs *pflag.FlagSet, h *HTMLFlags) {
	fs.StringVar(&h.Path, "html", "", "also write a self-contained HTML report to `FILE`")
	fs.StringVar(&h.WriteFindings, "write-findings", "", "also write the packets of every connection with a warning or critical finding to `FILE` (pcap)")
}

// writeHTML writes the HTML report of res when --html is given.
func writeHTML(fl *Flags, res *report.Result, opt report.Options) error {
	if fl.HTML.Path == "" {
		return nil
	}
	f, err := os.Create(fl.HTML.Path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	err = report.WriteHTML(bw, res, htmlOptions(fl, res, opt))
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", fl.HTML.Path, err)
	}
	return nil
}

// htmlOptions returns the HTML report options for the flags and result.
func htmlOptions(fl *Flags, res *report.Result, opt report.Options) report.HTMLOptions {
	var names []string
	for _, s := range res.Input.Sources {
		names = append(names, filepath.Base(s))
	}
	title := "wirestate report"
	if len(names) > 0 {
		title = "wirestate: " + strings.Join(names, ", ")
	}
	return report.HTMLOptions{Title: title, Version: version, Local: opt.Local, MaxTimelines: maxHTMLTimelines,
		AllTimelines: len(fl.Conns) > 0 || fl.Timeline == "all"}
}
