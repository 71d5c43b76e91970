// Command peer plays the client or the server of one wirestate lab scenario
// (see pcaps/lab/record.sh), crafts the few packets the lab is allowed to
// craft (the SYN flood, the stale segment) and checks recorded captures at
// the packet level.
//
// Usage:
//
//	peer server -scenario NAME -addr HOST:PORT -ctl DIR
//	peer client -scenario NAME -addr HOST:PORT -ctl DIR
//	peer flood  -dst 10.77.0.2:8080 -net 10.78 -n 220
//	peer inject -pcap FILE -from 10.77.0.1:43000 -to 10.77.0.2:8080
//	peer udp    -to 10.77.0.2 -size 1472
//	peer offloads-off -dev ws-c
//	peer check  -dir DIR [-only NAME,...]
//
// The server and the client synchronise with the script through files in the
// control directory: the server creates "ready" once it listens, and a role
// that has to wait for the script waits for a file the script creates.
// It uses the standard library only.
package main

import (
	"flag"
	"fmt"
	"os"
)

func usage() {
	fmt.Fprintln(os.Stderr, `usage: peer server|client -scenario NAME -addr HOST:PORT -ctl DIR
       peer flood -dst IP:PORT -net A.B -n COUNT
       peer inject -pcap FILE -from IP:PORT -to IP:PORT
       peer udp -to HOST -size N
       peer offloads-off -dev DEV
       peer check -dir DIR [-only NAMES]
       peer scenarios`)
	os.Exit(2)
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	args := os.Args[2:]
	var err error
	switch os.Args[1] {
	case "server", "client":
		err = runRole(os.Args[1], args)
	case "flood":
		err = runFlood(args)
	case "inject":
		err = runInject(args)
	case "check":
		err = runCheck(args)
	case "offloads-off":
		err = runOffloadsOff(args)
	case "udp":
		fs := flag.NewFlagSet("udp", flag.ExitOnError)
		to := fs.String("to", "10.77.0.2", "destination host (port 9)")
		size := fs.Int("size", 1472, "payload bytes")
		fs.Parse(args)
		err = sendUDP(*to, *size)
	case "scenarios":
		for _, s := range scenarioNames() {
			fmt.Println(s)
		}
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "peer %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}
