package main

import (
	"github.com/spf13/pflag"
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
