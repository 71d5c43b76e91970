// Command kfake runs an in-process Kafka cluster (franz-go's kfake) for
// bench/kafka.sh: one broker on 127.0.0.1, any topic created on first use.
// It prints the broker's address and runs until interrupted.
//
//	go run ./bench/kfake [-addr 127.0.0.1:0]
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen `ADDR` (port 0: any)")
	flag.Parse()
	_, ps, err := net.SplitHostPort(*addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kfake:", err)
		os.Exit(2)
	}
	port, _ := strconv.Atoi(ps)
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port), kfake.AllowAutoTopicCreation())
	if err != nil {
		fmt.Fprintln(os.Stderr, "kfake:", err)
		os.Exit(1)
	}
	defer c.Close()
	fmt.Println(c.ListenAddrs()[0])
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
}
