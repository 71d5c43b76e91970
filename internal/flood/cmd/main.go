// Command flood writes a flood capture (see package flood) for bench/flood.sh.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/wirestate/wirestate/internal/flood"
)

func main() {
	out := flag.String("w", "flood.pcap", "output file")
	n := flag.Int("n", 1000000, "attack packets (SYNs, or RSTs and ACKs)")
	kind := flag.String("kind", "syn", "syn or rstack")
	seed := flag.Int64("seed", 1, "random seed")
	flag.Parse()
	k := flood.SYN
	if *kind == "rstack" {
		k = flood.RSTACK
	}
	f, err := os.Create(*out)
	if err == nil {
		err = flood.Write(f, k, *n, *seed)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "flood:", err)
		os.Exit(1)
	}
}
