// Command httpload is the traffic source for the real-kernel benchmark
// capture recorded by bench/record.sh.
//
// It has three subcommands:
//
//	httpload server  — net/http servers on several ports, IPv4 and IPv6.
//	httpload client  — a load generator making short-lived HTTP/1.1
//	                   connections with a mix of closes, keep-alives,
//	                   RST aborts, refused connections and 4-tuple reuse.
//	httpload stats   — a fast single-pass summary of a pcap file
//	                   (packets, connections, IPv6 share, RSTs, refused,
//	                   4-tuple reuse).
//
// It is meant to run only inside the network namespaces created by
// bench/record.sh; the default addresses are those namespaces' addresses.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "server":
		err = runServer(os.Args[2:])
	case "client":
		err = runClient(os.Args[2:])
	case "stats":
		err = runStats(os.Args[2:])
	case "-h", "--help", "help":
		usage()
		return
	default:
		usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "httpload %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: httpload server|client|stats [flags]")
}
