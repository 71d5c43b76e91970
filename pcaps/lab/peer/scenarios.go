package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"sort"
	"sync"
	"syscall"
	"time"
)

// env is what a scenario role gets from its command line.
type env struct {
	scen  string
	addr  string // the server's address, HOST:PORT
	host  string // the server's host
	local string // the client's own address (no port), for fixed-port binds
	ctl   ctl
	log   *log.Logger
}

func (e *env) localPort(port int) string {
	return net.JoinHostPort(e.local, fmt.Sprint(port))
}

// scenario holds the two roles of a scenario; either may be nil when the
// script runs something else (no listener, a flood).
type scenario struct {
	server func(*env) error
	client func(*env) error
}

var scenarios = map[string]scenario{
	"client-close":               {srvCloseAfterEOF, cliHelloClose},
	"server-close":               {srvHelloClose, cliCloseAfterEOF},
	"simultaneous-close":         {srvSimultaneous, cliSimultaneous},
	"half-close":                 {srvHalfClose, cliHalfClose},
	"keepalive":                  {srvCloseAfterEOF, cliKeepalive},
	"linger0-abort":              {srvCloseAfterEOF, cliLinger0},
	"refused":                    {nil, cliRefused},
	"midstream":                  {srvEcho, cliMidstream},
	"ipv6":                       {srvCloseAfterEOF, cliHelloClose},
	"snaplen96":                  {srvBulk, cliBulk},
	"lost-final-ack":             {srvCloseAfterEOF, cliHelloClose},
	"accept-queue-overflow-rst":  {srvNeverAccept, cliOverflowRST},
	"accept-queue-overflow-drop": {srvAcceptLate, cliOverflowDrop},
	"syn-unanswered":             {srvCloseAfterEOF, cliSynUnanswered},
	"syn-flood":                  {srvFloodTarget, nil},
	"close-wait-stuck":           {srvNeverClose, cliHelloClose},
	"half-open":                  {srvCrashTarget, cliHalfOpen},
	"port-reuse":                 {srvTwoServerClose, cliPortReuse},
	"stale-segment":              {srvStale, cliStale},
	"abortive-close-server":      {srvAbortMany, cliAbortMany},
	"zero-window":                {srvZeroWindow, cliZeroWindow},
	"syn-retransmit":             {srvCloseAfterEOF, cliHelloClose},
	// Added for the accept-queue-overflow-rst false positive and the
	// two-vantage recording.
	"app-abort-after-request":       {srvAbortAfterRequest, cliRequestReset},
	"tw-reuse":                      {srvServeTwoAfterEOF, cliTWReuse},
	"accept-queue-overflow-rst-v6":  {srvNeverAccept, cliOverflowRST},
	"accept-queue-overflow-drop-v6": {srvAcceptLate, cliOverflowDrop},
	"both-sides":                    {srvCloseAfterEOF, cliHelloClose},
	// A few thousand labelled connections (mixed.go).
	"mixed": {srvMixed, cliMixed},
	// A router namespace between client and server resets the connection
	// (nftables reject with tcp reset) once the client sends data.
	"middlebox-reset":    {srvMiddlebox, cliMiddlebox},
	"middlebox-reset-v6": {srvMiddlebox, cliMiddlebox},
}

// captures maps a scenario that writes more than one capture to the
// captures it writes (record.sh names them the same way); every other
// scenario writes the one capture named after it.
var captures = map[string][]string{
	"both-sides":      {"both-sides-client", "both-sides-server"},
	"middlebox-reset": {"middlebox-reset-client", "middlebox-reset-server"},
}

// captureNames returns every capture the scenarios write, sorted.
func captureNames() []string {
	var n []string
	for _, s := range scenarioNames() {
		n = append(n, capturesOf(s)...)
	}
	sort.Strings(n)
	return n
}

// capturesOf returns the captures a scenario writes, or the name itself when
// it is a capture rather than a scenario.
func capturesOf(name string) []string {
	if c, ok := captures[name]; ok {
		return c
	}
	return []string{name}
}

func scenarioNames() []string {
	var n []string
	for k := range scenarios {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

func runRole(role string, args []string) error {
	fs := flag.NewFlagSet(role, flag.ExitOnError)
	e := &env{}
	var ctlDir string
	fs.StringVar(&e.scen, "scenario", "", "scenario name")
	fs.StringVar(&e.addr, "addr", "10.77.0.2:8080", "server address")
	fs.StringVar(&e.local, "local", "10.77.0.1", "client address for fixed-port binds")
	fs.StringVar(&ctlDir, "ctl", ".", "control directory shared with record.sh")
	fs.Parse(args)
	s, ok := scenarios[e.scen]
	if !ok {
		return fmt.Errorf("unknown scenario %q", e.scen)
	}
	host, _, err := net.SplitHostPort(e.addr)
	if err != nil {
		return err
	}
	e.host = host
	e.ctl = ctl(ctlDir)
	e.log = log.New(os.Stderr, fmt.Sprintf("%s %s: ", role, e.scen), log.Lmicroseconds)
	f := s.server
	if role == "client" {
		f = s.client
	}
	if f == nil {
		return fmt.Errorf("scenario %s has no %s role", e.scen, role)
	}
	if err := f(e); err != nil {
		return err
	}
	e.log.Print("done")
	return nil
}

// --- building blocks --------------------------------------------------------

// serve listens with the default backlog, says ready and accepts one
// connection.
func serveOne(e *env) (*conn, error) {
	l, err := listen(e.addr, 128)
	if err != nil {
		return nil, err
	}
	if err := e.ctl.touch("ready"); err != nil {
		return nil, err
	}
	c, err := accept(l)
	if err != nil {
		return nil, err
	}
	l.Close()
	return wrap(c), nil
}

func dialWrapped(e *env, o dialOpts) (*conn, error) {
	c, err := dial(e.addr, o)
	if err != nil {
		return nil, err
	}
	e.log.Printf("connected %s -> %s", c.LocalAddr(), c.RemoteAddr())
	return wrap(c), nil
}

// hello is the client's request/response.
func hello(c *conn, msg string) error {
	if err := c.send(msg + "\n"); err != nil {
		return err
	}
	_, err := c.line()
	return err
}

// answer is the server's side of hello.
func answer(c *conn) error {
	l, err := c.line()
	if err != nil {
		return err
	}
	return c.send("reply to: " + l + "\n")
}

func forever() { select {} }

// --- normal behaviour -------------------------------------------------------

// srvCloseAfterEOF answers one request, reads until the client's FIN, waits
// 200 ms (so its ACK of the FIN and its own FIN are separate segments) and
// closes: the passive close.
func srvCloseAfterEOF(e *env) error {
	c, err := serveOne(e)
	if err != nil {
		return err
	}
	if err := answer(c); err != nil {
		return err
	}
	n, err := c.readEOF()
	e.log.Printf("EOF after %d more bytes (err %v)", n, err)
	time.Sleep(200 * time.Millisecond)
	return c.Close()
}

// cliHelloClose sends a request, reads the answer and closes first.
func cliHelloClose(e *env) error {
	c, err := dialWrapped(e, dialOpts{})
	if err != nil {
		return err
	}
	if err := hello(c, "hello from the client"); err != nil {
		return err
	}
	time.Sleep(100 * time.Millisecond)
	return c.Close()
}

// srvHelloClose answers and closes first.
func srvHelloClose(e *env) error {
	c, err := serveOne(e)
	if err != nil {
		return err
	}
	if err := answer(c); err != nil {
		return err
	}
	time.Sleep(50 * time.Millisecond)
	return c.Close()
}

// cliCloseAfterEOF is the passive closer on the client side.
func cliCloseAfterEOF(e *env) error {
	c, err := dialWrapped(e, dialOpts{})
	if err != nil {
		return err
	}
	if err := hello(c, "hello from the client"); err != nil {
		return err
	}
	if _, err := c.readEOF(); err != nil {
		return err
	}
	time.Sleep(200 * time.Millisecond)
	return c.Close()
}

// srvSimultaneous and cliSimultaneous exchange a line, say so, and close
// when record.sh says "close". By then record.sh has corked both veth ends
// (a tbf qdisc with a frame stuck at its head), so both endpoints are in
// FIN_WAIT_1 before either FIN is on the wire, whatever the scheduling;
// record.sh then uncorks the client side, then the server side.
func srvSimultaneous(e *env) error {
	c, err := serveOne(e)
	if err != nil {
		return err
	}
	if err := answer(c); err != nil {
		return err
	}
	return closeOnCue(e, c, "srv")
}

func cliSimultaneous(e *env) error {
	c, err := dialWrapped(e, dialOpts{})
	if err != nil {
		return err
	}
	if err := hello(c, "hello from the client"); err != nil {
		return err
	}
	return closeOnCue(e, c, "cli")
}

func closeOnCue(e *env, c *conn, who string) error {
	if err := e.ctl.touch("exchanged-" + who); err != nil {
		return err
	}
	if err := e.ctl.wait("close", 20*time.Second); err != nil {
		return err
	}
	if err := c.Close(); err != nil {
		return err
	}
	e.log.Print("closed")
	if err := e.ctl.touch("closed-" + who); err != nil {
		return err
	}
	// Stay until record.sh has released the FINs (the kernel owns the
	// socket now; this only keeps the process and log order tidy).
	return e.ctl.wait("released", 20*time.Second)
}

// half-close: the client shuts down its sending side; the server keeps
// sending for 300 ms before it closes.
func srvHalfClose(e *env) error {
	c, err := serveOne(e)
	if err != nil {
		return err
	}
	n, err := c.readEOF()
	if err != nil {
		return err
	}
	e.log.Printf("request of %d bytes, client half-closed", n)
	for i := 1; i <= 3; i++ {
		if err := c.send(fmt.Sprintf("chunk %d sent after the client's FIN\n", i)); err != nil {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
	return c.Close()
}

func cliHalfClose(e *env) error {
	c, err := dialWrapped(e, dialOpts{})
	if err != nil {
		return err
	}
	if err := c.send("request, then shutdown(SHUT_WR)\n"); err != nil {
		return err
	}
	if err := c.CloseWrite(); err != nil {
		return err
	}
	n, err := c.readEOF()
	e.log.Printf("read %d bytes after half-close", n)
	if err != nil {
		return err
	}
	time.Sleep(100 * time.Millisecond)
	return c.Close()
}

// cliKeepalive idles 4.5 s with TCP_KEEPIDLE=1 and TCP_KEEPINTVL=1.
func cliKeepalive(e *env) error {
	c, err := dialWrapped(e, dialOpts{keep: &net.KeepAliveConfig{
		Enable: true, Idle: time.Second, Interval: time.Second, Count: 5}})
	if err != nil {
		return err
	}
	if err := hello(c, "hello, then idle"); err != nil {
		return err
	}
	time.Sleep(4500 * time.Millisecond)
	return c.Close()
}

// cliLinger0 closes with SO_LINGER {1, 0}: an abortive close (RST).
func cliLinger0(e *env) error {
	c, err := dialWrapped(e, dialOpts{})
	if err != nil {
		return err
	}
	if err := hello(c, "hello, then abort"); err != nil {
		return err
	}
	time.Sleep(100 * time.Millisecond)
	if err := c.SetLinger(0); err != nil {
		return err
	}
	return c.Close()
}

// cliRefused connects three times to a port without a listener.
func cliRefused(e *env) error {
	for i := 0; i < 3; i++ {
		c, err := dial(e.addr, dialOpts{wait: 3 * time.Second})
		if err == nil {
			c.Close()
			return fmt.Errorf("attempt %d: connected, want refused", i)
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			return fmt.Errorf("attempt %d: %w, want ECONNREFUSED", i, err)
		}
		e.log.Printf("attempt %d: %v", i, err)
		time.Sleep(200 * time.Millisecond)
	}
	return nil
}

// srvEcho answers every line until EOF, then closes.
func srvEcho(e *env) error {
	c, err := serveOne(e)
	if err != nil {
		return err
	}
	for {
		if err := answer(c); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return err
		}
	}
	time.Sleep(100 * time.Millisecond)
	return c.Close()
}

// cliMidstream connects before the capture starts (record.sh starts
// tcpdump after "connected") and talks and closes during it.
func cliMidstream(e *env) error {
	c, err := dialWrapped(e, dialOpts{})
	if err != nil {
		return err
	}
	if err := hello(c, "before the capture"); err != nil {
		return err
	}
	time.Sleep(300 * time.Millisecond) // delayed ACKs go out before tcpdump starts
	if err := e.ctl.touch("connected"); err != nil {
		return err
	}
	if err := e.ctl.wait("go", 30*time.Second); err != nil {
		return err
	}
	for i := 1; i <= 3; i++ {
		if err := hello(c, fmt.Sprintf("message %d during the capture", i)); err != nil {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
	return c.Close()
}

// srvBulk and cliBulk move 4 KiB up and 8 KiB down.
func srvBulk(e *env) error {
	c, err := serveOne(e)
	if err != nil {
		return err
	}
	buf := make([]byte, 4096)
	if _, err := io.ReadFull(c.r, buf); err != nil {
		return err
	}
	if _, err := c.Write(pattern(8192, 'S')); err != nil {
		return err
	}
	if _, err := c.readEOF(); err != nil {
		return err
	}
	time.Sleep(100 * time.Millisecond)
	return c.Close()
}

func cliBulk(e *env) error {
	c, err := dialWrapped(e, dialOpts{})
	if err != nil {
		return err
	}
	if _, err := c.Write(pattern(4096, 'C')); err != nil {
		return err
	}
	buf := make([]byte, 8192)
	if _, err := io.ReadFull(c.r, buf); err != nil {
		return err
	}
	time.Sleep(100 * time.Millisecond)
	return c.Close()
}

func pattern(n int, tag byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = "0123456789abcdef"[i%16]
		if i%64 == 0 {
			b[i] = tag
		}
	}
	return b
}

// --- failures ---------------------------------------------------------------

// srvNeverAccept listens with backlog 1 and never calls accept().
func srvNeverAccept(e *env) error {
	if _, err := listen(e.addr, 1); err != nil {
		return err
	}
	if err := e.ctl.touch("ready"); err != nil {
		return err
	}
	forever()
	return nil
}

// overflowConns fills the accept queue of a backlog-1 listener (Linux
// admits backlog+1 = 2 children) and leaves two handshakes pending when it
// is full. 41000 connects normally; its child waits in the accept queue.
// Then record.sh corks the server's veth egress, and 41001 and 41002 send
// their SYNs one after the other (record.sh checks with ss that each is in
// SYN-RECV before the next): both get a request socket, and their SYN-ACKs
// wait in the server's qdisc, in that order. Uncorked, the SYN-ACKs arrive,
// the client ACKs them in order: 41001's ACK fills the accept queue, 41002's
// overflows it.
func overflowConns(e *env) ([]*conn, error) {
	c0, err := dialWrapped(e, dialOpts{laddr: e.localPort(41000)})
	if err != nil {
		return nil, err
	}
	if err := e.ctl.touch("first"); err != nil {
		return nil, err
	}
	out := []*conn{c0}
	type result struct {
		c   *conn
		err error
	}
	var res []chan result
	for i, p := range []int{41001, 41002} {
		if err := e.ctl.wait(fmt.Sprintf("dial%d", i+1), 20*time.Second); err != nil {
			return nil, err
		}
		ch := make(chan result, 1)
		res = append(res, ch)
		go func(p int) {
			c, err := dialWrapped(e, dialOpts{laddr: e.localPort(p)})
			ch <- result{c, err}
		}(p)
	}
	for _, ch := range res {
		r := <-ch
		if errors.Is(r.err, syscall.ECONNRESET) {
			// With tcp_abort_on_overflow=1 the RST can beat Go to the
			// socket: connect() succeeded, SO_ERROR says reset.
			e.log.Printf("dial: %v", r.err)
			continue
		}
		if r.err != nil {
			return nil, r.err
		}
		out = append(out, r.c)
	}
	time.Sleep(300 * time.Millisecond)
	return out, nil
}

func cliOverflowRST(e *env) error {
	cs, err := overflowConns(e)
	if err != nil {
		return err
	}
	for i, c := range cs {
		err := c.send(fmt.Sprintf("hello %d\n", i))
		e.log.Printf("conn %s: write: %v", c.LocalAddr(), err)
	}
	time.Sleep(300 * time.Millisecond)
	if err := e.ctl.touch("done"); err != nil {
		return err
	}
	forever() // keep the queued connections open; record.sh kills us after the capture
	return nil
}

// srvAcceptLate listens with backlog 1 and accepts nothing until record.sh
// says "accept" (1.2 s after the client's data); then it accepts and serves
// everything (answer, close first).
func srvAcceptLate(e *env) error {
	l, err := listen(e.addr, 1)
	if err != nil {
		return err
	}
	if err := e.ctl.touch("ready"); err != nil {
		return err
	}
	if err := e.ctl.wait("accept", 30*time.Second); err != nil {
		return err
	}
	e.log.Print("accepting now")
	for {
		c, err := accept(l)
		if err != nil {
			return err
		}
		e.log.Printf("accepted %s", c.RemoteAddr())
		go func(c *conn) {
			defer c.Close()
			if err := answer(c); err != nil {
				e.log.Printf("%s: %v", c.RemoteAddr(), err)
			}
		}(wrap(c))
	}
}

func cliOverflowDrop(e *env) error {
	cs, err := overflowConns(e)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	for i, c := range cs {
		if err := c.send(fmt.Sprintf("hello %d\n", i)); err != nil {
			return err
		}
		wg.Add(1)
		go func(c *conn) {
			defer wg.Done()
			defer c.Close()
			c.SetDeadline(time.Now().Add(15 * time.Second))
			_, err := c.line()
			if err == nil {
				_, err = c.readEOF()
			}
			e.log.Printf("conn %s: %v", c.LocalAddr(), err)
		}(c)
	}
	if err := e.ctl.touch("written"); err != nil {
		return err
	}
	wg.Wait()
	return nil
}

// cliSynUnanswered connects to a port whose SYNs are dropped.
func cliSynUnanswered(e *env) error {
	start := time.Now()
	c, err := dial(e.addr, dialOpts{wait: 30 * time.Second})
	if err == nil {
		c.Close()
		return errors.New("connected, want a time-out")
	}
	e.log.Printf("gave up after %v: %v", time.Since(start).Round(time.Millisecond), err)
	return nil
}

// srvFloodTarget is the listener the flood hits (backlog 1024: every SYN
// gets a request socket and retransmitted SYN-ACKs, no syncookies).
func srvFloodTarget(e *env) error {
	if _, err := listen(e.addr, 1024); err != nil {
		return err
	}
	if err := e.ctl.touch("ready"); err != nil {
		return err
	}
	forever()
	return nil
}

// srvNeverClose reads the client's FIN and never closes. It has TCP
// keepalive on (idle 2 s, interval 2 s): its probes from CLOSE_WAIT, and
// the client's answers, show the connection still held 8 s after the FIN
// (a capture has no end marker; its last packet is its end).
func srvNeverClose(e *env) error {
	c, err := serveOne(e)
	if err != nil {
		return err
	}
	if err := c.SetKeepAliveConfig(net.KeepAliveConfig{
		Enable: true, Idle: 2 * time.Second, Interval: 2 * time.Second, Count: 9}); err != nil {
		return err
	}
	if err := answer(c); err != nil {
		return err
	}
	if _, err := c.readEOF(); err != nil {
		return err
	}
	e.log.Print("EOF read; not closing")
	if err := e.ctl.touch("eof"); err != nil {
		return err
	}
	forever()
	return nil
}

// srvCrashTarget answers once and then neither reads nor closes: record.sh
// kills it (SIGKILL) while nftables drops everything it sends, so its
// kernel's RST never reaches the client.
func srvCrashTarget(e *env) error {
	c, err := serveOne(e)
	if err != nil {
		return err
	}
	if err := answer(c); err != nil {
		return err
	}
	forever()
	return nil
}

func cliHalfOpen(e *env) error {
	c, err := dialWrapped(e, dialOpts{})
	if err != nil {
		return err
	}
	if err := hello(c, "hello"); err != nil {
		return err
	}
	// Data the server never reads: when it dies, its kernel resets the
	// connection (dropped by nftables) instead of sending a FIN.
	if err := c.send("data the server never reads\n"); err != nil {
		return err
	}
	time.Sleep(100 * time.Millisecond)
	if err := e.ctl.touch("sent"); err != nil {
		return err
	}
	if err := e.ctl.wait("go", 20*time.Second); err != nil {
		return err
	}
	if err := c.send("data after the server crashed\n"); err != nil {
		return err
	}
	_, err = c.line()
	e.log.Printf("after the crash: %v", err)
	if !errors.Is(err, syscall.ECONNRESET) {
		return fmt.Errorf("want ECONNRESET, got %v", err)
	}
	return c.Close()
}

// srvTwoServerClose serves two connections one after the other and closes
// each first.
func srvTwoServerClose(e *env) error {
	l, err := listen(e.addr, 128)
	if err != nil {
		return err
	}
	if err := e.ctl.touch("ready"); err != nil {
		return err
	}
	for i := 0; i < 2; i++ {
		c, err := accept(l)
		if err != nil {
			return err
		}
		wc := wrap(c)
		if err := answer(wc); err != nil {
			return err
		}
		time.Sleep(50 * time.Millisecond)
		c.Close()
	}
	return nil
}

// cliPortReuse binds 42000 twice: the first connection is closed by the
// server first (the server holds TIME_WAIT, the client is free to bind
// again), the second starts 500 ms later with a new ISN.
func cliPortReuse(e *env) error {
	for i := 0; i < 2; i++ {
		c, err := dialWrapped(e, dialOpts{laddr: e.localPort(42000)})
		if err != nil {
			return err
		}
		if err := hello(c, fmt.Sprintf("incarnation %d", i+1)); err != nil {
			return err
		}
		if _, err := c.readEOF(); err != nil {
			return err
		}
		// Past the delayed ACK (40 ms here): the ACK of the server's FIN
		// and the client's FIN are separate segments.
		time.Sleep(150 * time.Millisecond)
		c.Close()
		if i == 0 {
			time.Sleep(500 * time.Millisecond)
		}
	}
	return nil
}

// srvStale serves the old incarnation (closing first) and then the new one
// (answering every line until EOF).
func srvStale(e *env) error {
	l, err := listen(e.addr, 128)
	if err != nil {
		return err
	}
	if err := e.ctl.touch("ready"); err != nil {
		return err
	}
	c, err := accept(l)
	if err != nil {
		return err
	}
	if err := answer(wrap(c)); err != nil {
		return err
	}
	time.Sleep(50 * time.Millisecond)
	c.Close()
	c2, err := accept(l)
	if err != nil {
		return err
	}
	w := wrap(c2)
	for {
		if err := answer(w); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return err
		}
	}
	time.Sleep(100 * time.Millisecond)
	return c2.Close()
}

// cliStale runs the old incarnation from port 43000, then the new one from
// the same port; between two requests of the new one, record.sh injects a
// copy of the old incarnation's first data segment (peer inject).
func cliStale(e *env) error {
	c, err := dialWrapped(e, dialOpts{laddr: e.localPort(43000)})
	if err != nil {
		return err
	}
	if err := hello(c, "old incarnation data"); err != nil {
		return err
	}
	if _, err := c.readEOF(); err != nil {
		return err
	}
	time.Sleep(150 * time.Millisecond)
	c.Close()
	time.Sleep(500 * time.Millisecond)
	c, err = dialWrapped(e, dialOpts{laddr: e.localPort(43000)})
	if err != nil {
		return err
	}
	if err := hello(c, "new incarnation, first request"); err != nil {
		return err
	}
	time.Sleep(100 * time.Millisecond)
	if err := e.ctl.touch("inject"); err != nil {
		return err
	}
	if err := e.ctl.wait("injected", 10*time.Second); err != nil {
		return err
	}
	time.Sleep(300 * time.Millisecond)
	if err := hello(c, "new incarnation, second request"); err != nil {
		return err
	}
	time.Sleep(100 * time.Millisecond)
	return c.Close()
}

const abortConns = 6

// srvAbortMany accepts six connections, reads a request on each and then
// aborts them all (SO_LINGER {1, 0}), 20 ms apart.
func srvAbortMany(e *env) error {
	l, err := listen(e.addr, 128)
	if err != nil {
		return err
	}
	if err := e.ctl.touch("ready"); err != nil {
		return err
	}
	var cs []*conn
	for len(cs) < abortConns {
		c, err := accept(l)
		if err != nil {
			return err
		}
		w := wrap(c)
		if _, err := w.line(); err != nil {
			return err
		}
		cs = append(cs, w)
	}
	time.Sleep(100 * time.Millisecond)
	for _, c := range cs {
		c.SetLinger(0)
		c.Close()
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

func cliAbortMany(e *env) error {
	var wg sync.WaitGroup
	errs := make([]error, abortConns)
	for i := 0; i < abortConns; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c, err := dialWrapped(e, dialOpts{})
			if err != nil {
				errs[i] = err
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			err = hello(c, fmt.Sprintf("request %d", i))
			e.log.Printf("conn %s: %v", c.LocalAddr(), err)
			if !errors.Is(err, syscall.ECONNRESET) {
				errs[i] = fmt.Errorf("conn %d: want ECONNRESET, got %v", i, err)
			}
		}(i)
		time.Sleep(10 * time.Millisecond)
	}
	wg.Wait()
	return errors.Join(errs...)
}

const zeroWindowBytes = 16 << 10

// srvZeroWindow has a 4 KiB receive buffer (doubled by the kernel) and does
// not read for 3 s, so the client fills the window and probes it.
func srvZeroWindow(e *env) error {
	l, err := listen(e.addr, 128, optInt(syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096))
	if err != nil {
		return err
	}
	if err := e.ctl.touch("ready"); err != nil {
		return err
	}
	c, err := accept(l)
	if err != nil {
		return err
	}
	w := wrap(c)
	time.Sleep(3 * time.Second)
	e.log.Print("reading now")
	if _, err := io.ReadFull(w.r, make([]byte, zeroWindowBytes)); err != nil {
		return err
	}
	if err := w.send("got it all\n"); err != nil {
		return err
	}
	if _, err := w.readEOF(); err != nil {
		return err
	}
	time.Sleep(100 * time.Millisecond)
	return c.Close()
}

func cliZeroWindow(e *env) error {
	c, err := dialWrapped(e, dialOpts{})
	if err != nil {
		return err
	}
	start := time.Now()
	if _, err := c.Write(pattern(zeroWindowBytes, 'Z')); err != nil {
		return err
	}
	l, err := c.line()
	if err != nil {
		return err
	}
	e.log.Printf("%q after %v", l, time.Since(start).Round(time.Millisecond))
	time.Sleep(100 * time.Millisecond)
	return c.Close()
}

// requestBytes is the size of the request in app-abort-after-request, as
// in the capture that first showed the false accept-queue overflow.
const requestBytes = 169

// srvAbortAfterRequest accepts one connection, reads the client's request
// and aborts at once (SO_LINGER {1, 0} and close()): a RST whose ACK covers
// the request, microseconds after it. A new connection is in quick-ACK
// mode and would ACK the request at once; TCP_QUICKACK=0 (set before the
// client may send, which it does on "accepted") delays that ACK (40 ms), so
// the RST is the server's first segment after its SYN-ACK, as in the
// capture that was mistaken for an accept-queue overflow.
func srvAbortAfterRequest(e *env) error {
	c, err := serveOne(e)
	if err != nil {
		return err
	}
	if err := setConnOpt(c.TCPConn, optInt(syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 0)); err != nil {
		return err
	}
	if err := e.ctl.touch("accepted"); err != nil {
		return err
	}
	if _, err := io.ReadFull(c.r, make([]byte, requestBytes)); err != nil {
		return err
	}
	if err := c.SetLinger(0); err != nil {
		return err
	}
	return c.Close()
}

// cliRequestReset sends a request and expects the connection to be reset.
func cliRequestReset(e *env) error {
	c, err := dialWrapped(e, dialOpts{})
	if err != nil {
		return err
	}
	defer c.Close()
	req := fmt.Sprintf("GET /abort HTTP/1.1\r\nHost: %s\r\n", e.host)
	req += fmt.Sprintf("X-Pad: %0*d\r\n\r\n", requestBytes-len(req)-len("X-Pad: \r\n\r\n"), 0)
	if len(req) != requestBytes {
		return fmt.Errorf("request of %d bytes, want %d", len(req), requestBytes)
	}
	if err := e.ctl.wait("accepted", 10*time.Second); err != nil {
		return err
	}
	if err := c.send(req); err != nil {
		return err
	}
	return wantReset(e, c, "the request")
}

// wantReset reads from c, for 5 s at most, and returns an error unless the
// read fails with ECONNRESET; after names the moment in the log.
func wantReset(e *env, c *conn, after string) error {
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := c.line()
	e.log.Printf("after %s: %v", after, err)
	if !errors.Is(err, syscall.ECONNRESET) {
		return fmt.Errorf("want ECONNRESET, got %v", err)
	}
	return nil
}

// srvServeTwoAfterEOF serves two connections one after the other as
// srvCloseAfterEOF does: answer, read EOF, wait 200 ms, close (the passive
// close, so the client holds TIME_WAIT).
func srvServeTwoAfterEOF(e *env) error {
	l, err := listen(e.addr, 128)
	if err != nil {
		return err
	}
	if err := e.ctl.touch("ready"); err != nil {
		return err
	}
	for i := 0; i < 2; i++ {
		tc, err := accept(l)
		if err != nil {
			return err
		}
		c := wrap(tc)
		if err := answer(c); err != nil {
			return err
		}
		n, err := c.readEOF()
		e.log.Printf("conn %d: EOF after %d more bytes (err %v)", i+1, n, err)
		time.Sleep(200 * time.Millisecond)
		c.Close()
	}
	return nil
}

// twReusePort is the client port tw-reuse binds twice.
const twReusePort = 42100

// cliTWReuse closes its first connection first (so its socket is in
// TIME_WAIT once the server's FIN is acknowledged) and connects again from
// the same port (SO_REUSEADDR) while it is. With net.ipv4.tcp_tw_reuse=1 and
// timestamps the kernel lets connect() take over the TIME_WAIT socket once
// its last timestamp is tcp_tw_reuse_delay (1 s) old; before that connect()
// fails with EADDRNOTAVAIL without sending anything, so the client retries
// every 100 ms.
func cliTWReuse(e *env) error {
	laddr := e.localPort(twReusePort)
	c, err := dialWrapped(e, dialOpts{laddr: laddr})
	if err != nil {
		return err
	}
	if err := hello(c, "incarnation 1"); err != nil {
		return err
	}
	time.Sleep(100 * time.Millisecond)
	if err := c.Close(); err != nil {
		return err
	}
	// The server's FIN comes 200 ms after it read EOF.
	time.Sleep(1100 * time.Millisecond)
	deadline := time.Now().Add(5 * time.Second)
	for tries := 1; ; tries++ {
		c, err = dialWrapped(e, dialOpts{laddr: laddr})
		if err == nil {
			e.log.Printf("reconnected from %s on attempt %d", laddr, tries)
			break
		}
		if !errors.Is(err, syscall.EADDRNOTAVAIL) && !errors.Is(err, syscall.EADDRINUSE) || time.Now().After(deadline) {
			return fmt.Errorf("reconnect from %s (attempt %d): %w", laddr, tries, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := hello(c, "incarnation 2"); err != nil {
		return err
	}
	time.Sleep(100 * time.Millisecond)
	return c.Close()
}

// middleboxWait is how long the server waits for a request in
// middlebox-reset before it gives up and says so.
const middleboxWait = 300 * time.Millisecond

// srvMiddlebox accepts one connection and waits for a request that never
// comes (the router rejected it); then it sends a line, which the router
// rejects too, answering with a RST in the client's name: the read after
// it must fail with ECONNRESET.
func srvMiddlebox(e *env) error {
	c, err := serveOne(e)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(middleboxWait))
	if _, err := c.line(); !errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("want no request within %v, got %v", middleboxWait, err)
	}
	if err := c.send("no request within 300 ms\n"); err != nil {
		return err
	}
	return wantReset(e, c, "the server's line")
}

// cliMiddlebox sends a request, which the router rejects with a RST in
// the server's name: the read after it must fail with ECONNRESET.
func cliMiddlebox(e *env) error {
	c, err := dialWrapped(e, dialOpts{})
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.send("GET /blocked HTTP/1.0\r\n\r\n"); err != nil {
		return err
	}
	return wantReset(e, c, "the request")
}
