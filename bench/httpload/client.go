package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/pflag"
)

// clientConfig holds the load generator's knobs.
type clientConfig struct {
	addr4, addr6   string
	src4, src6     string
	ports          []int
	closedPort     int
	workers        int
	conns          int64
	duration       time.Duration
	ipv6           float64
	rst            float64
	refused        float64
	keepalive      float64
	reuse          float64
	reuseLo        int
	reuseHi        int
	seed           uint64
	keepaliveMaxRq int
}

// counters are the client's outcome counts, updated atomically.
type counters struct {
	started, ok, ipv6                   atomic.Int64
	closeConns, keepaliveConns, reqs    atomic.Int64
	rstAborts, refused, refusedUnexpect atomic.Int64
	reuseBound, reuseBindFail           atomic.Int64
	errors                              atomic.Int64
	bytes                               atomic.Int64
}

func runClient(args []string) error {
	var c clientConfig
	fs := pflag.NewFlagSet("client", pflag.ContinueOnError)
	fs.StringVar(&c.addr4, "addr4", "10.88.0.2", "server IPv4 address")
	fs.StringVar(&c.addr6, "addr6", "fd88::2", "server IPv6 address")
	fs.StringVar(&c.src4, "src4", "10.88.0.1", "client IPv4 address (for fixed-port binds)")
	fs.StringVar(&c.src6, "src6", "fd88::1", "client IPv6 address (for fixed-port binds)")
	fs.IntSliceVar(&c.ports, "ports", []int{8080, 8081, 8082, 8083}, "server ports")
	fs.IntVar(&c.closedPort, "closed-port", 9, "a server port with no listener (refused connections)")
	fs.IntVar(&c.workers, "workers", 48, "concurrent workers")
	fs.Int64Var(&c.conns, "conns", 150000, "connections to attempt in total")
	fs.DurationVar(&c.duration, "duration", 150*time.Second, "stop after this long even if --conns is not reached")
	fs.Float64Var(&c.ipv6, "ipv6", 0.10, "fraction of connections over IPv6")
	fs.Float64Var(&c.rst, "rst", 0.03, "fraction of connections aborted with SO_LINGER 0 (RST)")
	fs.Float64Var(&c.refused, "refused", 0.02, "fraction of connections to the closed port (refused)")
	fs.Float64Var(&c.keepalive, "keepalive", 0.15, "fraction of keep-alive connections with several requests")
	fs.Float64Var(&c.reuse, "reuse", 0.05, "fraction of connections bound to a fixed source port range (4-tuple reuse)")
	reuseRange := fs.String("reuse-ports", "40000-40099", "fixed source port range for --reuse connections")
	fs.Uint64Var(&c.seed, "seed", 1, "random seed")
	fs.IntVar(&c.keepaliveMaxRq, "keepalive-requests", 6, "maximum requests on a keep-alive connection")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if _, err := fmt.Sscanf(*reuseRange, "%d-%d", &c.reuseLo, &c.reuseHi); err != nil || c.reuseLo <= 0 || c.reuseHi < c.reuseLo || c.reuseHi > 65535 {
		return fmt.Errorf("bad --reuse-ports %q", *reuseRange)
	}
	if len(c.ports) == 0 || c.workers <= 0 {
		return errors.New("need at least one port and one worker")
	}

	ctx, cancel := context.WithTimeout(context.Background(), c.duration)
	defer cancel()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		select {
		case <-sig:
			cancel()
		case <-ctx.Done():
		}
	}()

	var cnt counters
	var next atomic.Int64
	var reusePort atomic.Int64
	start := time.Now()
	done := make(chan struct{})
	go progress(&cnt, start, done)

	var wg sync.WaitGroup
	for w := 0; w < c.workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(c.seed, uint64(w)+1))
			for ctx.Err() == nil && next.Add(1) <= c.conns {
				oneConn(ctx, &c, rng, &cnt, &reusePort)
			}
		}()
	}
	wg.Wait()
	close(done)
	el := time.Since(start)

	fmt.Printf("httpload client: %d connections in %.1fs (%.0f/s): ok=%d close=%d keepalive=%d requests=%d ipv6=%d rst=%d refused=%d reuse_bound=%d reuse_bind_fail=%d errors=%d refused_unexpected=%d body_bytes=%d\n",
		cnt.started.Load(), el.Seconds(), float64(cnt.started.Load())/el.Seconds(),
		cnt.ok.Load(), cnt.closeConns.Load(), cnt.keepaliveConns.Load(), cnt.reqs.Load(),
		cnt.ipv6.Load(), cnt.rstAborts.Load(), cnt.refused.Load(),
		cnt.reuseBound.Load(), cnt.reuseBindFail.Load(), cnt.errors.Load(), cnt.refusedUnexpect.Load(),
		cnt.bytes.Load())
	return nil
}

func progress(cnt *counters, start time.Time, done <-chan struct{}) {
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			fmt.Fprintf(os.Stderr, "  [%3.0fs] connections=%d requests=%d errors=%d\n",
				time.Since(start).Seconds(), cnt.started.Load(), cnt.reqs.Load(), cnt.errors.Load())
		}
	}
}

// responseSize draws a response body size: mostly small, some a few KB,
// a few tens of KB.
func responseSize(rng *rand.Rand) int {
	switch p := rng.IntN(100); {
	case p < 25:
		return rng.IntN(400) // tiny (including 0 ⇒ 204)
	case p < 65:
		return 1000 + rng.IntN(4000) // a few KB
	case p < 90:
		return 5000 + rng.IntN(12000)
	default:
		return 16000 + rng.IntN(48000)
	}
}

func setReuseAddr(network, address string, rc syscall.RawConn) error {
	var serr error
	err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
	})
	if err != nil {
		return err
	}
	return serr
}

// oneConn makes one connection of a randomly chosen kind.
func oneConn(ctx context.Context, c *clientConfig, rng *rand.Rand, cnt *counters, reusePort *atomic.Int64) {
	cnt.started.Add(1)
	network, host, src := "tcp4", c.addr4, c.src4
	if rng.Float64() < c.ipv6 {
		network, host, src = "tcp6", c.addr6, c.src6
		cnt.ipv6.Add(1)
	}
	port := c.ports[rng.IntN(len(c.ports))]
	kind := rng.Float64()

	d := net.Dialer{Timeout: 5 * time.Second, KeepAlive: -1}
	if kind < c.refused {
		conn, err := d.DialContext(ctx, network, net.JoinHostPort(host, strconv.Itoa(c.closedPort)))
		if err == nil {
			conn.Close()
			cnt.refusedUnexpect.Add(1)
			return
		}
		if errors.Is(err, syscall.ECONNREFUSED) {
			cnt.refused.Add(1)
		} else {
			cnt.errors.Add(1)
		}
		return
	}
	kind -= c.refused

	reused := false
	if rng.Float64() < c.reuse {
		// Fixed source port from a small range: the same 4-tuple comes back
		// again and again while the peer may still hold it in TIME_WAIT.
		n := int64(c.reuseHi - c.reuseLo + 1)
		p := c.reuseLo + int((reusePort.Add(1)-1)%n)
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src), Port: p}
		d.Control = setReuseAddr
		port = c.ports[0]
		reused = true
	}
	conn, err := d.DialContext(ctx, network, net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil && reused {
		// The fixed port is busy (our own TIME_WAIT or another worker); fall
		// back to an ephemeral port.
		cnt.reuseBindFail.Add(1)
		d.LocalAddr, d.Control = nil, nil
		conn, err = d.DialContext(ctx, network, net.JoinHostPort(host, strconv.Itoa(port)))
		reused = false
	}
	if err != nil {
		cnt.errors.Add(1)
		return
	}
	if reused {
		cnt.reuseBound.Add(1)
	}
	tc := conn.(*net.TCPConn)
	_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
	hostHdr := net.JoinHostPort(host, strconv.Itoa(port))
	br := bufio.NewReaderSize(tc, 16<<10)

	switch {
	case kind < c.rst:
		// Abort with RST: send a request, maybe read part of the answer,
		// then close with SO_LINGER 0.
		cnt.rstAborts.Add(1)
		size := 2000 + rng.IntN(30000)
		if writeRequest(tc, hostHdr, size, rng.IntN(2) == 0) == nil {
			cnt.reqs.Add(1)
			switch rng.IntN(3) {
			case 0: // abort right away
			case 1:
				_, _ = br.Peek(1)
			default:
				_, _ = br.Peek(min(size/2, br.Size()))
			}
		}
		_ = tc.SetLinger(0)
		tc.Close()
		cnt.ok.Add(1)
		return
	case kind < c.rst+c.keepalive:
		// Keep-alive: several requests, then the client closes first.
		cnt.keepaliveConns.Add(1)
		n := 2 + rng.IntN(max(1, c.keepaliveMaxRq-1))
		for i := 0; i < n; i++ {
			if err := roundTrip(tc, br, hostHdr, responseSize(rng), false, cnt); err != nil {
				cnt.errors.Add(1)
				tc.Close()
				return
			}
		}
		tc.Close()
		cnt.ok.Add(1)
	default:
		// Connection: close; the server closes first.
		cnt.closeConns.Add(1)
		if err := roundTrip(tc, br, hostHdr, responseSize(rng), true, cnt); err != nil {
			cnt.errors.Add(1)
			tc.Close()
			return
		}
		// Wait for the server's FIN so that our FIN follows it.
		_, _ = br.ReadByte()
		tc.Close()
		cnt.ok.Add(1)
	}
}

func writeRequest(w io.Writer, host string, size int, close bool) error {
	var sb strings.Builder
	sb.Grow(128)
	sb.WriteString("GET /r/")
	sb.WriteString(strconv.Itoa(size))
	sb.WriteString(" HTTP/1.1\r\nHost: ")
	sb.WriteString(host)
	sb.WriteString("\r\nUser-Agent: wirestate-httpload/1\r\nAccept: */*\r\n")
	if close {
		sb.WriteString("Connection: close\r\n")
	}
	sb.WriteString("\r\n")
	_, err := io.WriteString(w, sb.String())
	return err
}

func roundTrip(conn net.Conn, br *bufio.Reader, host string, size int, close bool, cnt *counters) error {
	if err := writeRequest(conn, host, size, close); err != nil {
		return err
	}
	cnt.reqs.Add(1)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return err
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	cnt.bytes.Add(n)
	return err
}
