//go:build linux

package capture

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/wirestate/wirestate/tracker"
)

// The AF_PACKET tests run as root in two fresh network namespaces joined by
// a veth pair:
//
//	cli: veth 10.77.0.1/24  <==>  srv: veth 10.77.0.2/24 (the rings here)
//
// The sockets, listeners and dialers are made on a thread moved into a
// namespace (setns), so no helper process is needed.

const (
	ringCli = "10.77.0.1"
	ringSrv = "10.77.0.2"
)

// ringLab creates the namespaces and the veth pair, removed when the test
// ends. It skips the test without root or ip(8).
func ringLab(t testing.TB) (cli, srv, cif, sif string) {
	t.Helper()
	if testing.Short() {
		t.Skip("namespace test skipped in -short mode")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces, veth, AF_PACKET)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skipf("needs ip(8): %v", err)
	}
	id := os.Getpid() % 1000000
	cli, srv = fmt.Sprintf("wsring-c%d", id), fmt.Sprintf("wsring-s%d", id)
	cif, sif = fmt.Sprintf("wrc%d", id), fmt.Sprintf("wrs%d", id)
	sh := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	t.Cleanup(func() {
		exec.Command("ip", "netns", "del", cli).Run()
		exec.Command("ip", "netns", "del", srv).Run()
	})
	sh("ip", "netns", "add", cli)
	sh("ip", "netns", "add", srv)
	sh("ip", "link", "add", cif, "netns", cli, "type", "veth", "peer", "name", sif, "netns", srv)
	for _, x := range [][3]string{{cli, cif, ringCli}, {srv, sif, ringSrv}} {
		sh("ip", "-n", x[0], "link", "set", "lo", "up")
		sh("ip", "-n", x[0], "addr", "add", x[2]+"/24", "dev", x[1])
		sh("ip", "-n", x[0], "link", "set", x[1], "up")
	}
	return cli, srv, cif, sif
}

// inNetns runs fn on a thread inside network namespace ns. Sockets fn
// makes stay in ns whatever thread later uses them.
func inNetns(t testing.TB, ns string, fn func()) {
	t.Helper()
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		orig, e := os.Open("/proc/thread-self/ns/net")
		if e != nil {
			err = e
			return
		}
		defer orig.Close()
		target, e := os.Open("/var/run/netns/" + ns)
		if e != nil {
			err = e
			return
		}
		defer target.Close()
		if e := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); e != nil {
			err = e
			return
		}
		fn()
		if unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread() // else the thread ends with the goroutine
		}
	}()
	<-done
	if err != nil {
		t.Fatalf("entering %s: %v", ns, err)
	}
}

// ringFlows reads every source until each has been quiet for a while after
// stop is closed, and returns, per source, the packets of each connection
// (by its canonical 4-tuple) by direction.
func ringFlows(t *testing.T, srcs []*RingSource, stop <-chan struct{}) []map[tracker.FlowKey][2]int {
	t.Helper()
	out := make([]map[tracker.FlowKey][2]int, len(srcs))
	var wg sync.WaitGroup
	for i, s := range srcs {
		out[i] = map[tracker.FlowKey][2]int{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var seg tracker.Segment
			stopped := false
			for {
				r, err := s.Next(&seg)
				switch {
				case err == ErrQuiet:
					if stopped {
						return
					}
					select {
					case <-stop:
						stopped = true // one more quiet read: the last block
					default:
					}
					continue
				case err != nil:
					t.Errorf("source %d: %v", i, err)
					return
				case r != SkipNone:
					continue
				}
				k, lo := tracker.MakeFlowKey(seg.Src, seg.Dst)
				c := out[i][k]
				if lo {
					c[0]++
				} else {
					c[1]++
				}
				out[i][k] = c
			}
		}()
	}
	wg.Wait()
	return out
}

// dialMany opens n connections from the client namespace to addr, each
// writing a line and closing, and returns once all are done.
func dialMany(t *testing.T, ns, addr string, n int) {
	t.Helper()
	var conns []net.Conn
	inNetns(t, ns, func() {
		for i := 0; i < n; i++ {
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				t.Errorf("dial %s: %v", addr, err)
				return
			}
			conns = append(conns, c)
		}
	})
	for _, c := range conns {
		fmt.Fprintln(c, "hello")
		c.Close()
	}
}

// serve accepts connections on l, reading each until the client closes.
func serve(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			io.Copy(io.Discard, c)
			c.Close()
		}()
	}
}

// TestRingFanoutSymmetric: two AF_PACKET sockets in one PACKET_FANOUT_HASH
// group on a veth share real kernel connections between them, and both
// directions of every connection reach the same socket (the kernel's flow
// hash is symmetric), without drops.
func TestRingFanoutSymmetric(t *testing.T) {
	cli, srv, _, sif := ringLab(t)
	var srcs []*RingSource
	var l net.Listener
	inNetns(t, srv, func() {
		var err error
		if srcs, err = OpenRings(LiveOptions{Interface: sif, Workers: 2, Filter: "tcp port 7070", Snaplen: 128,
			Timeout: 50 * time.Millisecond, BlockTimeout: 10 * time.Millisecond}); err != nil {
			t.Errorf("OpenRings: %v", err)
			return
		}
		l, err = net.Listen("tcp", ringSrv+":7070")
		if err != nil {
			t.Error(err)
		}
	})
	if t.Failed() {
		return
	}
	defer func() {
		for _, s := range srcs {
			s.Close()
		}
	}()
	defer l.Close()
	go serve(l)
	if len(srcs) != 2 || srcs[0].LinkType() != LinkEthernet {
		t.Fatalf("%d sources of link type %v, want 2 of EN10MB", len(srcs), srcs[0].LinkType())
	}
	stop := make(chan struct{})
	go func() {
		dialMany(t, cli, ringSrv+":7070", 64)
		time.Sleep(200 * time.Millisecond)
		close(stop)
	}()
	flows := ringFlows(t, srcs, stop)
	all := map[tracker.FlowKey]int{}
	for i, m := range flows {
		if len(m) == 0 {
			t.Errorf("socket %d got no connection: the fanout did not share them", i)
		}
		for k, dirs := range m {
			all[k]++
			if dirs[0] == 0 || dirs[1] == 0 {
				t.Errorf("socket %d saw only one direction of %v (%v)", i, k, dirs)
			}
		}
	}
	if len(all) != 64 {
		t.Errorf("%d connections seen, want 64", len(all))
	}
	for k, n := range all {
		if n != 1 {
			t.Errorf("connection %v reached %d sockets, want 1", k, n)
		}
	}
	var total, read uint64
	for i, s := range srcs {
		cc, err := s.CaptureStats()
		if err != nil {
			t.Fatal(err)
		}
		st := s.Stats()
		total += cc.Received
		read += st.Packets
		if cc.Dropped != 0 || cc.Freezes != 0 || cc.Received != st.Packets {
			t.Errorf("socket %d: kernel %+v, read %d packets; want every packet read, none dropped", i, cc, st.Packets)
		}
		if st.Packets != st.TCPSegments+st.Filtered {
			t.Errorf("socket %d: %d packets, %d TCP segments: the filter let others through", i, st.Packets, st.TCPSegments)
		}
	}
	t.Logf("flows per socket: %d and %d; %d packets", len(flows[0]), len(flows[1]), read)
}

// TestRingAny: "any" reads IP packets without a link header (link type
// RAW) from every interface, and counts a packet that is not IP as such.
func TestRingAny(t *testing.T) {
	cli, srv, _, _ := ringLab(t)
	var srcs []*RingSource
	var l net.Listener
	inNetns(t, srv, func() {
		var err error
		if srcs, err = OpenRings(LiveOptions{Interface: "any", Timeout: 50 * time.Millisecond,
			BlockTimeout: 10 * time.Millisecond}); err != nil {
			t.Errorf("OpenRings: %v", err)
			return
		}
		l, err = net.Listen("tcp", ringSrv+":7071")
		if err != nil {
			t.Error(err)
		}
	})
	if t.Failed() {
		return
	}
	defer srcs[0].Close()
	defer l.Close()
	go serve(l)
	if len(srcs) != 1 || srcs[0].LinkType() != LinkRaw {
		t.Fatalf("%d sources of link type %v, want 1 of RAW", len(srcs), srcs[0].LinkType())
	}
	stop := make(chan struct{})
	go func() {
		dialMany(t, cli, ringSrv+":7071", 3)
		time.Sleep(200 * time.Millisecond)
		close(stop)
	}()
	flows := ringFlows(t, srcs, stop)
	if len(flows[0]) != 3 {
		t.Errorf("%d connections, want 3", len(flows[0]))
	}
	st := srcs[0].Stats()
	// The first dial resolves the server's address: ARP, not IP, and not
	// a bad IP header either.
	if st.Skipped[SkipNotIP] == 0 || st.Skipped[SkipBadIPHeader] != 0 || st.TCPSegments == 0 {
		t.Errorf("counts %d packets, %d TCP, skipped %v; want TCP, and ARP counted as not IP", st.Packets, st.TCPSegments, st.Skipped)
	}
}

// TestRingLoopbackOnce: on lo, and on lo through any, every packet is
// read once, not once going out and once coming in.
func TestRingLoopbackOnce(t *testing.T) {
	_, srv, _, _ := ringLab(t)
	for _, iface := range []string{"lo", "any"} {
		t.Run(iface, func(t *testing.T) {
			var srcs []*RingSource
			var l net.Listener
			inNetns(t, srv, func() {
				var err error
				if srcs, err = OpenRings(LiveOptions{Interface: iface, Filter: "tcp port 7073", Timeout: 50 * time.Millisecond,
					BlockTimeout: 10 * time.Millisecond}); err != nil {
					t.Errorf("OpenRings: %v", err)
					return
				}
				if l, err = net.Listen("tcp", "127.0.0.1:7073"); err != nil {
					t.Error(err)
				}
			})
			if t.Failed() {
				return
			}
			defer srcs[0].Close()
			defer l.Close()
			go serve(l)
			stop := make(chan struct{})
			go func() {
				dialMany(t, srv, "127.0.0.1:7073", 1)
				time.Sleep(200 * time.Millisecond)
				close(stop)
			}()
			var syns int
			var seg tracker.Segment
			for stopped := false; ; {
				r, err := srcs[0].Next(&seg)
				if err == ErrQuiet {
					if stopped {
						break
					}
					select {
					case <-stop:
						stopped = true
					default:
					}
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				if r == SkipNone && seg.Flags&(tracker.FlagSYN|tracker.FlagACK) == tracker.FlagSYN {
					syns++
				}
			}
			if st := srcs[0].Stats(); syns != 1 || st.TCPSegments < 8 || st.TCPSegments > 12 {
				t.Errorf("%d SYNs, %d segments: want 1 SYN and one copy of each of the connection's 8 to 12 segments", syns, st.TCPSegments)
			}
		})
	}
}

// TestRingSnaplen: the filter's return value bounds what the kernel
// copies into the ring; lengths still come from the packet.
func TestRingSnaplen(t *testing.T) {
	cli, srv, _, sif := ringLab(t)
	var srcs []*RingSource
	var l net.Listener
	inNetns(t, srv, func() {
		var err error
		if srcs, err = OpenRings(LiveOptions{Interface: sif, Snaplen: 80, Timeout: 50 * time.Millisecond,
			BlockTimeout: 10 * time.Millisecond}); err != nil {
			t.Errorf("OpenRings: %v", err)
			return
		}
		l, err = net.Listen("tcp", ringSrv+":7072")
		if err != nil {
			t.Error(err)
		}
	})
	if t.Failed() {
		return
	}
	defer srcs[0].Close()
	defer l.Close()
	go serve(l)
	var c net.Conn
	inNetns(t, cli, func() {
		var err error
		if c, err = net.Dial("tcp", ringSrv+":7072"); err != nil {
			t.Error(err)
		}
	})
	if t.Failed() {
		return
	}
	c.Write(make([]byte, 1000))
	c.Close()
	var seg tracker.Segment
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		r, err := srcs[0].Next(&seg)
		if err != nil || r != SkipNone {
			continue
		}
		data, ci := srcs[0].CurrentPacket()
		if len(data) > 80 {
			t.Fatalf("captured %d bytes, snapshot length 80", len(data))
		}
		if seg.PayloadLen == 1000 {
			if ci.Length != 1000+14+20+32 || ci.CaptureLength != 80 {
				t.Errorf("capture info %+v, want length 1066 and 80 captured", ci)
			}
			return
		}
	}
	t.Fatal("the 1000-byte segment was not read")
}

// TestOpenRingsErrors: problems are worded for the command line and need
// no privileges to be found when they come before the socket.
func TestOpenRingsErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts LiveOptions
		want error
	}{
		{"missing interface", LiveOptions{Interface: "wsnosuch0"}, ErrNoInterface},
		{"no interface", LiveOptions{}, nil},
		{"bad filter", LiveOptions{Interface: "lo", Filter: "tcp port foo"}, ErrBadFilter},
		{"ethernet filter on raw packets", LiveOptions{Interface: "any", Filter: "ether host 1:2:3:4:5:6"}, ErrBadFilter},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := OpenRings(tc.opts)
			if err == nil {
				for _, r := range s {
					r.Close()
				}
				t.Fatal("OpenRings succeeded")
			}
			var le *LiveError
			if !errors.As(err, &le) {
				t.Fatalf("error %T %v, want *LiveError", err, err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("error %v, want %v", err, tc.want)
			}
			if tc.opts.Interface != "" && !strings.HasPrefix(err.Error(), tc.opts.Interface+": ") {
				t.Errorf("error %q does not start with the interface name", err)
			}
		})
	}
	if _, err := OpenCapture(LiveOptions{Interface: "lo", Engine: "bogus"}); err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Errorf("unknown engine: %v", err)
	}
	if _, err := OpenCapture(LiveOptions{Interface: "lo", Engine: EngineLibpcap, Workers: 2}); err == nil {
		t.Error("libpcap with two workers: no error")
	}
}

// TestRingSize: the default memory is shared by the workers, each ring at
// least MinRingSize; -B sets each ring's size.
func TestRingSize(t *testing.T) {
	for _, tc := range []struct{ size, workers, want int }{
		{0, 0, DefaultRingMemory},
		{0, 1, DefaultRingMemory},
		{0, 2, DefaultRingMemory / 2},
		{0, 64, MinRingSize},
		{4 << 20, 2, 4 << 20},
	} {
		if got := RingSize(tc.size, tc.workers); got != tc.want {
			t.Errorf("RingSize(%d, %d) = %d, want %d", tc.size, tc.workers, got, tc.want)
		}
	}
}

// TestRingBlock: blocks are whole pages, at most maxRingBlock, and a ring
// has at least 32 of them when it can (128 with a short block timeout).
func TestRingBlock(t *testing.T) {
	page := os.Getpagesize()
	def, short := DefaultBlockTimeout, time.Millisecond
	for _, tc := range []struct {
		size    int
		timeout time.Duration
		want    int
	}{
		{RingSize(0, 1), def, maxRingBlock},
		{RingSize(0, 2), def, 512 << 10},
		{RingSize(0, 2), short, RingSize(0, 2) / 128},
		{64 << 20, def, maxRingBlock},
		{1 << 20, def, 64 << 10},
		{8 * page, def, page},
		{page, def, page},
		{1<<20 + 12345, def, (1<<20 + 12345) / 16 / page * page},
	} {
		if got := ringBlock(tc.size, tc.timeout); got != tc.want || got%page != 0 {
			t.Errorf("ringBlock(%d, %v) = %d, want %d", tc.size, tc.timeout, got, tc.want)
		}
	}
}

// TestRingLayout: the afpacket release in go.mod keeps the fields that
// RingSource reads (see netpoll), so rings wait through Go's network
// poller; a type without them is refused, not misread.
func TestRingLayout(t *testing.T) {
	if !netpoll {
		t.Fatal("afpacket.TPacket lacks fd, rawring or offset: rings fall back to afpacket's poll")
	}
	//lint:ignore U1000 the fields are read through reflect, by name
	type renamed struct {
		fd      int
		ring    unsafe.Pointer
		current int
	}
	//lint:ignore U1000 the fields are read through reflect, by name
	type retyped struct {
		fd      int
		rawring []byte
		offset  int
	}
	for _, typ := range []reflect.Type{reflect.TypeFor[renamed](), reflect.TypeFor[retyped]()} {
		if l := ringLayoutOf(typ); l.ok {
			t.Errorf("%v: layout %+v accepted", typ, l)
		}
	}
}

// TestRingFollow walks RingSource's view of a ring laid out in memory as
// the kernel lays out TPACKET_V3 blocks: a block is drained once each of
// its packets was returned, and then only while the next block (around
// the ring's end) is still the kernel's; a block renumbered by the kernel
// is a new block even at the same place.
func TestRingFollow(t *testing.T) {
	const blockSize, blocks = 4096, 3
	mem := make([]uint64, blockSize*blocks/8)
	at := 0
	s := &RingSource{ring: unsafe.Pointer(&mem[0]), at: &at, blockSize: blockSize, blocks: blocks}
	hand := func(i int, pkts uint32, seq uint64) { // the kernel hands block i over
		b := s.block(i)
		*(*uint32)(unsafe.Add(b, blockStatusAt)) = unix.TP_STATUS_USER
		*(*uint32)(unsafe.Add(b, blockPktsAt)) = pkts
		*(*uint64)(unsafe.Add(b, blockSeqAt)) = seq
	}
	// moveTo does what afpacket does past a block's last packet: it hands
	// the block back and returns the first packet of block i.
	moveTo := func(i int) {
		*(*uint32)(unsafe.Add(s.block(at), blockStatusAt)) = 0
		at = i
		s.follow()
	}
	check := func(step string, want bool) {
		t.Helper()
		if got := s.drained(); got != want {
			t.Errorf("%s: drained %v, want %v (seq %d, left %d)", step, got, want, s.seq, s.left)
		}
	}
	check("nothing read yet, block 0 the kernel's", true)
	hand(0, 3, 1)
	check("block 0 handed over, nothing read yet", false)
	s.follow()
	check("first of three", false)
	s.follow()
	check("second of three", false)
	s.follow()
	check("last of three, block 1 the kernel's", true)
	hand(1, 1, 2)
	check("block 1 handed over", false)
	moveTo(1)
	check("block 1's only packet", true)
	hand(2, 2, 3)
	moveTo(2)
	s.follow()
	check("block 2 read, block 0 (around the end) the kernel's", true)
	hand(0, 1, 4)
	check("block 0 handed over again", false)
	moveTo(0)
	check("block 0's second pass read", true)
	if s.seq != 4 || s.left != 0 {
		t.Errorf("seq %d left %d, want 4 and 0", s.seq, s.left)
	}
}
