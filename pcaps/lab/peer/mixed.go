package main

// The "mixed" scenario: a few thousand connections between real sockets,
// each with a behaviour chosen by a seeded generator, and a label file that
// says which finding kinds each connection must show (issue #18). See
// pcaps/README.md, "mixed.pcap".

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The mix's fixed parameters. Client ports are bound explicitly (below the
// ephemeral range, so the kernel never picks one of them for anything
// else): job i uses mixPortBase+i, the lost-final-ack jobs mixLostACKBase+j
// (record.sh's nftables rule matches that range), accept-queue burst k
// mixBurstBase+k, mixBurstSYN+k and mixBurstSYN+256+k (record.sh steers the
// SYNs from 28672-29695 to the corkable band of the client's qdisc).
const (
	mixSeed        = 18
	mixJobs        = 2600
	mixWorkers     = 32
	mixPortBase    = 20000
	mixLostACKBase = 30000 // to 30999: see record.sh sc_mixed
	mixBurstBase   = 26000
	mixBurstSYN    = 28672 // 0x7000: record.sh's u32 filter matches 0x7000/0xfc00
	mixBursts      = 40    // per variant
	mixBurstPar    = 10
	mixMainPort    = 8080
	mixSlowPort    = 8083 // SO_RCVBUF 4096
	mixClosedPort  = 9
	mixRSTPorts    = 8100 // mixRSTPorts+k: backlog 1, tcp_abort_on_overflow=1
	mixDropPorts   = 8200 // mixDropPorts+k: backlog 1, tcp_abort_on_overflow=0
	mixSlowBytes   = 16 << 10
)

// mixBehaviours are the per-connection behaviours of the concurrent phase
// and their weights (out of 100). The accept-queue bursts come after it.
var mixBehaviours = []struct {
	name   string
	weight int
}{
	{"normal", 22},              // request/response, the client closes first
	{"normal-server-close", 12}, // request/response, the server closes first
	{"persistent", 12},          // 2-6 requests one after the other (keep-alive)
	{"pipelined", 10},           // 2-6 requests in one write, then the answers
	{"slow-reader", 3},          // the server does not read for 400 ms: zero window
	{"client-abort", 8},         // SO_LINGER 0 close by the client after the answer
	{"server-abort", 8},         // SO_LINGER 0 close by the server after the request
	{"refused", 7},              // connect to a closed port
	{"half-close", 8},           // shutdown(SHUT_WR), the server answers after EOF
	{"port-reuse", 4},           // two connections from one fixed port
	{"lost-final-ack", 6},       // the client's final ACK dropped by nftables
}

// mixExpect is what each behaviour's connections must show: decided from
// what the generator does and the kernel's sysctls (record.sh sc_mixed).
var mixExpect = map[string][]string{
	"normal":              {},
	"normal-server-close": {},
	"persistent":          {},
	"pipelined":           {},
	// The server's 4 KiB receive buffer fills: it advertises window 0.
	"slow-reader":  {"zero-window"},
	"client-abort": {"abortive-close"},
	// Aborted by the server; in bulk (>= 5 per listener) also a warning
	// aggregate whose members are these connections.
	"server-abort": {"abortive-close"},
	"refused":      {"connection-refused"},
	"half-close":   {},
	// Both incarnations of the 4-tuple: the second SYN arrives while the
	// server holds the first in TIME_WAIT (it closed first), inside 2MSL.
	"port-reuse":     {"port-reuse"},
	"lost-final-ack": {"lost-final-ack"},
	// Accept-queue bursts (see mixBurst).
	"burst-accepted":      {},
	"burst-overflow-rst":  {"accept-queue-overflow-rst"},
	"burst-overflow-drop": {"accept-queue-overflow-drop"},
}

// MixLabel is one connection of the mix and the finding kinds it must
// show; every other kind is a false positive on it.
type MixLabel struct {
	OrigP uint16 `json:"orig_p"`
	RespP uint16 `json:"resp_p"`
	// Nth is the incarnation of the 4-tuple (0 unless port-reuse).
	Nth       int      `json:"nth"`
	Behaviour string   `json:"behaviour"`
	Expect    []string `json:"expect"`
	// Note says how an outcome the generator checked turned out.
	Note string `json:"note,omitempty"`
}

// MixLabels is the label file (pcaps/mixed.labels.json).
type MixLabels struct {
	Capture string `json:"capture"`
	// Rule says how the labels are read.
	Rule    string            `json:"rule"`
	Seed    uint64            `json:"seed"`
	Client  string            `json:"client"`
	Server  string            `json:"server"`
	Counts  map[string]int    `json:"counts"`
	Sysctls map[string]string `json:"sysctls"`
	Conns   []MixLabel        `json:"conns"`
}

type mixJob struct {
	behaviour string
	port      int // client port
	n         int // requests (persistent, pipelined)
	gap       time.Duration
}

// mixPlan draws the concurrent phase's jobs from the seed.
func mixPlan(seed uint64) []mixJob {
	r := rand.New(rand.NewPCG(seed, 0x18))
	jobs := make([]mixJob, 0, mixJobs)
	lost := 0
	for i := 0; i < mixJobs; i++ {
		x := r.IntN(100)
		var b string
		for _, mb := range mixBehaviours {
			if x < mb.weight {
				b = mb.name
				break
			}
			x -= mb.weight
		}
		j := mixJob{behaviour: b, port: mixPortBase + i, n: 2 + r.IntN(5), gap: time.Duration(100+r.IntN(200)) * time.Millisecond}
		if b == "lost-final-ack" {
			j.port = mixLostACKBase + lost
			lost++
		}
		jobs = append(jobs, j)
	}
	return jobs
}

// --- server -----------------------------------------------------------------

// srvMixed listens on every port of the mix and serves each connection as
// its first line says ("<behaviour> <id>").
func srvMixed(e *env) error {
	main, err := listen(net.JoinHostPort(e.host, strconv.Itoa(mixMainPort)), 1024)
	if err != nil {
		return err
	}
	slow, err := listen(net.JoinHostPort(e.host, strconv.Itoa(mixSlowPort)), 1024, optInt(syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096))
	if err != nil {
		return err
	}
	go mixAcceptLoop(e, main)
	go mixAcceptLoop(e, slow)
	for k := 0; k < mixBursts; k++ {
		for _, base := range []int{mixRSTPorts, mixDropPorts} {
			port := base + k
			l, err := listen(net.JoinHostPort(e.host, strconv.Itoa(port)), 1)
			if err != nil {
				return err
			}
			go func() {
				// Accept nothing until the client says so.
				if err := e.ctl.wait(fmt.Sprintf("accept-%d", port), 10*time.Minute); err != nil {
					e.log.Print(err)
					return
				}
				mixAcceptLoop(e, l)
			}()
		}
	}
	if err := e.ctl.touch("ready"); err != nil {
		return err
	}
	return e.ctl.wait("finished", 10*time.Minute)
}

func mixAcceptLoop(e *env, l *net.TCPListener) {
	for {
		c, err := accept(l)
		if err != nil {
			e.log.Print(err)
			return
		}
		go func() {
			if err := mixServe(wrap(c)); err != nil && !errors.Is(err, syscall.ECONNRESET) {
				e.log.Printf("%s: %v", c.RemoteAddr(), err)
			}
		}()
	}
}

func mixServe(c *conn) error {
	defer c.Close()
	first, err := c.line()
	if err != nil {
		return err
	}
	b, _, _ := strings.Cut(first, " ")
	switch b {
	case "slow-reader":
		time.Sleep(400 * time.Millisecond)
		if _, err := io.ReadFull(c.r, make([]byte, mixSlowBytes)); err != nil {
			return err
		}
		if err := c.send("got it all\n"); err != nil {
			return err
		}
		_, err := c.readEOF() // the client closes first
		return err
	case "server-abort":
		return c.SetLinger(0) // and the deferred Close sends the RST
	case "half-close":
		if _, err := c.readEOF(); err != nil {
			return err
		}
		for i := 0; i < 3; i++ {
			if err := c.send(fmt.Sprintf("line %d after your FIN\n", i)); err != nil {
				return err
			}
		}
		return nil
	case "normal-server-close", "port-reuse":
		return c.send("reply to: " + first + "\n")
	}
	// Every other behaviour: answer each line until EOF (or a RST).
	for {
		if err := c.send("reply to: " + first + "\n"); err != nil {
			return err
		}
		if first, err = c.line(); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
}

// --- client -----------------------------------------------------------------

type mixClient struct {
	e      *env
	mu     sync.Mutex
	labels []MixLabel
	cork   sync.Mutex
	dev    string
}

func (m *mixClient) label(port, respPort, nth int, b, note string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	exp := mixExpect[b]
	if exp == nil {
		panic("no expectation for " + b)
	}
	m.labels = append(m.labels, MixLabel{OrigP: uint16(port), RespP: uint16(respPort), Nth: nth, Behaviour: b, Expect: exp, Note: note})
}

func (m *mixClient) dialFrom(port, respPort int) (*conn, error) {
	c, err := dial(net.JoinHostPort(m.e.host, strconv.Itoa(respPort)), dialOpts{laddr: m.e.localPort(port), wait: 5 * time.Second})
	if err != nil {
		return nil, err
	}
	return wrap(c), nil
}

// cliMixed runs the concurrent phase, then the accept-queue bursts with
// tcp_abort_on_overflow=1, asks record.sh to switch it to 0, runs the
// bursts again and writes the labels to the control directory.
func cliMixed(e *env) error {
	m := &mixClient{e: e, dev: "ws-c"}
	jobs := mixPlan(mixSeed)
	t0 := time.Now()
	ch := make(chan mixJob)
	errs := make(chan error, mixWorkers)
	var wg sync.WaitGroup
	for w := 0; w < mixWorkers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range ch {
				if err := m.run(j); err != nil {
					errs <- fmt.Errorf("%s from port %d: %w", j.behaviour, j.port, err)
					return
				}
			}
		}()
	}
	for _, j := range jobs {
		ch <- j
	}
	close(ch)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
	}
	e.log.Printf("concurrent phase: %d jobs in %v", len(jobs), time.Since(t0))
	if err := m.bursts(mixRSTPorts, mixBurstBase, true); err != nil {
		return err
	}
	if err := e.ctl.touch("phase-drop"); err != nil {
		return err
	}
	if err := e.ctl.wait("phase-drop-go", 20*time.Second); err != nil {
		return err
	}
	if err := m.bursts(mixDropPorts, mixBurstBase+mixBursts, false); err != nil {
		return err
	}
	e.log.Printf("all phases in %v", time.Since(t0))
	return m.write()
}

func (m *mixClient) write() error {
	sort.Slice(m.labels, func(i, j int) bool {
		a, b := m.labels[i], m.labels[j]
		if a.OrigP != b.OrigP {
			return a.OrigP < b.OrigP
		}
		if a.RespP != b.RespP {
			return a.RespP < b.RespP
		}
		return a.Nth < b.Nth
	})
	l := MixLabels{
		Capture: "mixed.pcap", Seed: mixSeed,
		Rule: "a connection (orig_p, resp_p, nth-th incarnation of that 4-tuple) must show every finding kind in expect " +
			"and no other kind; labels follow from the behaviour the generator gave it and the sysctls, and peer check verifies them on the packets", Client: m.e.local, Server: m.e.host, Counts: map[string]int{},
		Sysctls: map[string]string{
			"ws-srv net.ipv4.tcp_syncookies":        "0",
			"ws-srv net.ipv4.tcp_abort_on_overflow": "1 during the burst-overflow-rst phase, then 0",
		},
		Conns: m.labels,
	}
	for _, c := range m.labels {
		l.Counts[c.Behaviour]++
	}
	b, err := json.MarshalIndent(l, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(string(m.e.ctl), "labels.json"), append(b, '\n'), 0o644)
}

func (m *mixClient) run(j mixJob) error {
	hdr := fmt.Sprintf("%s %d\n", j.behaviour, j.port)
	switch j.behaviour {
	case "refused":
		_, err := m.dialFrom(j.port, mixClosedPort)
		if !errors.Is(err, syscall.ECONNREFUSED) {
			return fmt.Errorf("want connection refused, got %v", err)
		}
		m.label(j.port, mixClosedPort, 0, j.behaviour, "")
		return nil
	case "port-reuse":
		for nth := 0; nth < 2; nth++ {
			c, err := m.dialFrom(j.port, mixMainPort)
			if err != nil {
				return err
			}
			if err := hello(c, strings.TrimSuffix(hdr, "\n")); err != nil {
				return err
			}
			if _, err := c.readEOF(); err != nil { // the server closes first
				return err
			}
			c.Close()
			m.label(j.port, mixMainPort, nth, j.behaviour, "")
			if nth == 0 {
				time.Sleep(j.gap)
			}
		}
		return nil
	}
	rport := mixMainPort
	if j.behaviour == "slow-reader" {
		rport = mixSlowPort
	}
	c, err := m.dialFrom(j.port, rport)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	switch j.behaviour {
	case "normal", "lost-final-ack":
		if err := hello(c, strings.TrimSuffix(hdr, "\n")); err != nil {
			return err
		}
	case "normal-server-close":
		if err := hello(c, strings.TrimSuffix(hdr, "\n")); err != nil {
			return err
		}
		if _, err := c.readEOF(); err != nil {
			return err
		}
	case "persistent":
		for i := 0; i < j.n; i++ {
			if err := hello(c, strings.TrimSuffix(hdr, "\n")); err != nil {
				return err
			}
		}
	case "pipelined":
		if err := c.send(strings.Repeat(hdr, j.n)); err != nil {
			return err
		}
		for i := 0; i < j.n; i++ {
			if _, err := c.line(); err != nil {
				return err
			}
		}
	case "slow-reader":
		if err := c.send(hdr); err != nil {
			return err
		}
		if _, err := c.Write(make([]byte, mixSlowBytes)); err != nil {
			return err
		}
		if _, err := c.line(); err != nil {
			return err
		}
	case "client-abort":
		if err := hello(c, strings.TrimSuffix(hdr, "\n")); err != nil {
			return err
		}
		if err := c.SetLinger(0); err != nil {
			return err
		}
	case "server-abort":
		if err := c.send(hdr); err != nil {
			return err
		}
		if _, err := c.line(); !errors.Is(err, syscall.ECONNRESET) {
			return fmt.Errorf("want a reset, got %v", err)
		}
	case "half-close":
		if err := c.send(hdr); err != nil {
			return err
		}
		if err := c.CloseWrite(); err != nil {
			return err
		}
		if _, err := c.readEOF(); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown behaviour %q", j.behaviour)
	}
	m.label(j.port, rport, 0, j.behaviour, "")
	return nil
}

// --- accept-queue bursts ----------------------------------------------------

// bursts runs mixBursts bursts, mixBurstPar at a time, each on its own
// listener (backlog 1: the kernel queues 2 children) from three client
// ports. A connects and its handshake completes (1 child queued). Then the
// client's veth is corked while B's and C's SYNs are queued, and uncorked:
// both SYNs reach the listener before either handshake completes (a SYN
// that met a full queue would be dropped), B's ACK fills the queue, C's
// overflows it: with tcp_abort_on_overflow=1 the listener resets C, with
// 0 it drops C's ACK (and its data) until it accepts, 1.3 s later.
func (m *mixClient) bursts(listenBase, portBase int, rst bool) error {
	sem := make(chan struct{}, mixBurstPar)
	errs := make(chan error, mixBursts)
	var wg sync.WaitGroup
	for k := 0; k < mixBursts; k++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := m.burst(listenBase+k, portBase+k, k+portBase-mixBurstBase, rst); err != nil {
				errs <- fmt.Errorf("burst on %d: %w", listenBase+k, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func (m *mixClient) burst(lport, port, k int, rst bool) error {
	a, err := m.dialFrom(port, lport)
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.send(fmt.Sprintf("burst-a %d\n", port)); err != nil {
		return err
	}
	var bc [2]*conn
	if err := m.corked(func() error {
		for i := range bc {
			c, err := connectNB(m.e.local, mixBurstSYN+k+256*i, m.e.host, lport)
			if err != nil {
				return err
			}
			bc[i] = c
		}
		return nil
	}); err != nil {
		return err
	}
	b, c := bc[0], bc[1]
	defer b.Close()
	defer c.Close()
	// Both handshakes must complete at once: a SYN the listener dropped
	// (a full queue) would be retransmitted only after 1 s.
	if errno, err := waitConnected(b); err != nil || errno != 0 {
		return fmt.Errorf("port %d: %v %v", mixBurstSYN+k, errno, err)
	}
	errno, err := waitConnected(c)
	if err != nil || (errno != 0 && !(rst && errno == syscall.ECONNRESET)) {
		return fmt.Errorf("port %d: %v %v", mixBurstSYN+256+k, errno, err)
	}
	if err := b.send(fmt.Sprintf("burst-b %d\n", mixBurstSYN+k)); err != nil {
		return err
	}
	note := ""
	if rst && errno == 0 {
		// C must be reset right after its handshake.
		c.SetReadDeadline(time.Now().Add(time.Second))
		if _, err := c.line(); !errors.Is(err, syscall.ECONNRESET) {
			return fmt.Errorf("port %d: want the listener's reset, got %v", mixBurstSYN+256+k, err)
		}
	}
	sentC := time.Now()
	if !rst {
		if err := c.send(fmt.Sprintf("burst-c %d\n", mixBurstSYN+256+k)); err != nil {
			return err
		}
		time.Sleep(1300 * time.Millisecond)
	}
	start := time.Now()
	if err := m.e.ctl.touch(fmt.Sprintf("accept-%d", lport)); err != nil {
		return err
	}
	served := []*conn{a, b}
	if !rst {
		served = append(served, c)
	}
	for _, x := range served {
		x.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := x.line(); err != nil {
			return err
		}
		if x == c {
			note = fmt.Sprintf("request answered %v after it was sent, %v after the listener started accepting",
				time.Since(sentC).Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
		}
	}
	for _, x := range served {
		x.Close()
	}
	m.label(port, lport, 0, "burst-accepted", "")
	m.label(mixBurstSYN+k, lport, 0, "burst-accepted", "")
	if rst {
		m.label(mixBurstSYN+256+k, lport, 0, "burst-overflow-rst", "reset by the listener right after the handshake (ECONNRESET, never accepted)")
	} else {
		m.label(mixBurstSYN+256+k, lport, 0, "burst-overflow-drop", note)
	}
	return nil
}

// corked runs f while the corkable class of the client's qdisc is corked:
// record.sh gives ws-c an htb qdisc whose class 1:3 (with a tbf qdisc,
// handle 30:) gets only SYNs from ports 28672-29695 (B and C of the
// bursts) and UDP frames to port 9. Corked, the tbf's bucket can never pay
// for the full-size frame at its head (see cork in record.sh), so B's and
// C's SYNs wait behind it while every other packet passes. One burst at a
// time.
func (m *mixClient) corked(f func() error) error {
	m.cork.Lock()
	defer m.cork.Unlock()
	band := []string{"qdisc", "change", "dev", m.dev, "parent", "1:3", "handle", "30:", "tbf"}
	if err := tc(append(band, "rate", "100bit", "burst", "1514", "latency", "100s")...); err != nil {
		return err
	}
	if err := sendUDP(m.e.host, 1472); err != nil {
		return err
	}
	ferr := f()
	if err := tc(append(band, "rate", "1gbit", "burst", "64kb", "latency", "1s")...); err != nil {
		return err
	}
	if err := sendUDP(m.e.host, 1); err != nil {
		return err
	}
	return ferr
}

// connectNB starts a connection from a fixed port without waiting: when
// it returns, the SYN is queued on the device.
func connectNB(lhost string, lport int, rhost string, rport int) (*conn, error) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*conn, error) { syscall.Close(fd); return nil, err }
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1); err != nil {
		return fail(err)
	}
	la, ra := &syscall.SockaddrInet4{Port: lport}, &syscall.SockaddrInet4{Port: rport}
	copy(la.Addr[:], net.ParseIP(lhost).To4())
	copy(ra.Addr[:], net.ParseIP(rhost).To4())
	if err := syscall.Bind(fd, la); err != nil {
		return fail(fmt.Errorf("bind %d: %w", lport, err))
	}
	if err := syscall.Connect(fd, ra); err != syscall.EINPROGRESS {
		return fail(fmt.Errorf("connect from %d: %v", lport, err))
	}
	f := os.NewFile(uintptr(fd), "burst")
	defer f.Close()
	nc, err := net.FileConn(f)
	if err != nil {
		return nil, err
	}
	return wrap(nc.(*net.TCPConn)), nil
}

// waitConnected waits until a connection started by connectNB is
// established (its handshake completes in microseconds once uncorked;
// 500 ms at most, half the SYN retransmission timeout), or failed: then it
// returns the socket's error (ECONNRESET: reset right after the
// handshake).
func waitConnected(c *conn) (syscall.Errno, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	end := time.Now().Add(500 * time.Millisecond)
	for time.Now().Before(end) {
		var serr, perr error
		var soerr int
		rc.Control(func(fd uintptr) {
			soerr, serr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_ERROR)
			_, perr = syscall.Getpeername(int(fd))
		})
		if serr != nil {
			return 0, serr
		}
		if soerr != 0 {
			return syscall.Errno(soerr), nil
		}
		if perr == nil {
			return 0, nil
		}
		time.Sleep(time.Millisecond)
	}
	return 0, errors.New("connect did not complete")
}

// tc runs tc in the client's namespace (the peer runs there).
func tc(args ...string) error {
	if b, err := exec.Command("tc", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("tc %s: %v: %s", strings.Join(args, " "), err, b)
	}
	return nil
}

// --- packet-level check -------------------------------------------------------

// checkMixed verifies on the packets what mixed.labels.json (beside the
// capture) says each connection's behaviour made the kernels do: one
// connection per label and none unlabelled, and per behaviour its key
// packets (the refusing RST, the aborting RST, the bare overflow RST, the
// SYN-ACK retransmitted after the client's ACK, the FIN retransmitted from
// LAST_ACK, the zero window, the second incarnation); the behaviours
// meant to end cleanly have no RST and a FIN from each side.
func checkMixed(c *capture, e *errf) {
	b, err := os.ReadFile(filepath.Join(c.dir, "mixed.labels.json"))
	if err != nil {
		e.add("%v", err)
		return
	}
	var lab MixLabels
	if err := json.Unmarshal(b, &lab); err != nil {
		e.add("mixed.labels.json: %v", err)
		return
	}
	type key struct {
		orig, resp uint16
		nth        int
	}
	type lconn struct {
		pkts []*packet
		isn  uint32
	}
	conns := map[key]*lconn{}
	nth := map[[2]uint16]int{}
	for _, p := range c.pkts {
		cli := c.fromCli(p)
		tup := [2]uint16{p.dst.Port(), p.src.Port()}
		if cli {
			tup = [2]uint16{p.src.Port(), p.dst.Port()}
		}
		n, ok := nth[tup]
		if cur := conns[key{tup[0], tup[1], n}]; cli && p.has(fSYN) && !p.has(fACK) && ok && cur.isn != p.seq {
			n++ // a new incarnation
		}
		nth[tup] = n
		k := key{tup[0], tup[1], n}
		if conns[k] == nil {
			conns[k] = &lconn{isn: p.seq}
		}
		conns[k].pkts = append(conns[k].pkts, p)
	}
	if len(conns) != len(lab.Conns) {
		e.add("%d connections in the capture, %d labelled", len(conns), len(lab.Conns))
	}
	bad := map[string]int{}
	for _, l := range lab.Conns {
		lc := conns[key{l.OrigP, l.RespP, l.Nth}]
		if lc == nil {
			e.add("labelled %s :%d→:%d (nth %d) not in the capture", l.Behaviour, l.OrigP, l.RespP, l.Nth)
			continue
		}
		count := func(f func(*packet) bool) int {
			n := 0
			for _, p := range lc.pkts {
				if f(p) {
					n++
				}
			}
			return n
		}
		srv, cli := c.fromSrv, c.fromCli
		// A RST after both FINs were acknowledged does not count: veth
		// delivers through per-CPU queues, so an old ACK can reach a
		// passive closer that has already gone to CLOSED, and its kernel
		// answers it with a bare RST (seq = that ACK's ack) after the
		// close; nothing was aborted.
		closed := map[*packet]bool{}
		var finS, finC *packet
		ackedS, ackedC := false, false
		for _, p := range lc.pkts {
			switch {
			case ackedS && ackedC:
				closed[p] = true
			case srv(p) && p.has(fFIN) && finS == nil:
				finS = p
			case cli(p) && p.has(fFIN) && finC == nil:
				finC = p
			}
			if finS != nil && cli(p) && p.has(fACK) && p.ack == finS.seq+finS.segLen() {
				ackedS = true
			}
			if finC != nil && srv(p) && p.has(fACK) && p.ack == finC.seq+finC.segLen() {
				ackedC = true
			}
		}
		rst := func(from func(*packet) bool, ack bool) int {
			return count(func(p *packet) bool { return from(p) && p.has(fRST) && p.has(fACK) == ack && !closed[p] })
		}
		fin := func(from func(*packet) bool) int {
			return count(func(p *packet) bool { return from(p) && p.has(fFIN) })
		}
		// retrans: a segment from the side with the flags and the seq of an
		// earlier one.
		retrans := func(from func(*packet) bool, fl uint8) bool {
			seen := map[uint32]bool{}
			for _, p := range lc.pkts {
				if from(p) && p.has(fl) && !p.has(fRST) {
					if seen[p.seq] {
						return true
					}
					seen[p.seq] = true
				}
			}
			return false
		}
		ok := true
		switch l.Behaviour {
		case "refused":
			ok = rst(srv, true) == 1 && count(func(p *packet) bool { return srv(p) && p.has(fSYN) }) == 0
		case "client-abort":
			ok = rst(cli, true) == 1 && fin(cli) == 0 && rst(srv, true)+rst(srv, false) == 0
		case "server-abort":
			ok = rst(srv, true) == 1 && fin(srv) == 0 && rst(cli, true)+rst(cli, false) == 0
		case "burst-overflow-rst":
			ok = rst(srv, false) == 1 && rst(srv, true) == 0 && count(func(p *packet) bool { return srv(p) && p.paylen > 0 }) == 0
		case "burst-overflow-drop":
			ok = retrans(srv, fSYN|fACK) && retrans(cli, fPSH) && rst(srv, false)+rst(srv, true)+rst(cli, true) == 0
		case "lost-final-ack":
			ok = retrans(srv, fFIN) && fin(cli) == 1 && rst(srv, false)+rst(srv, true)+rst(cli, true) == 0
		case "slow-reader":
			ok = count(func(p *packet) bool { return srv(p) && p.win == 0 && !p.has(fRST) }) > 0
		case "port-reuse":
			ok = count(func(p *packet) bool { return cli(p) && p.has(fSYN) }) == 1 && fin(srv) >= 1 && fin(cli) >= 1
			if o := conns[key{l.OrigP, l.RespP, 1 - l.Nth}]; o == nil || o.isn == lc.isn {
				ok = false
			}
		}
		switch l.Behaviour {
		case "normal", "normal-server-close", "persistent", "pipelined", "half-close", "burst-accepted", "slow-reader", "port-reuse":
			ok = ok && rst(srv, false)+rst(srv, true)+rst(cli, true)+rst(cli, false) == 0 && fin(srv) >= 1 && fin(cli) >= 1 &&
				!retrans(srv, fFIN) && !retrans(cli, fSYN)
		}
		if !ok {
			if bad[l.Behaviour] < 3 {
				e.add("%s :%d→:%d (nth %d) does not show its behaviour on the wire", l.Behaviour, l.OrigP, l.RespP, l.Nth)
			}
			bad[l.Behaviour]++
		}
	}
	for b, n := range bad {
		e.add("%d %s connections do not show their behaviour", n, b)
	}
}
