package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wirestate/wirestate/internal/flood"
	"github.com/wirestate/wirestate/internal/pcaptest"
)

// TestLiveFanout runs wirestate -i with two afpacket workers on the
// server's end of a veth pair and sends it, from the client's end, 200
// synthetic connections and a SYN flood of 300 spoofed sources on one
// listener (10.0.0.2:80, answered by SYN-ACKs that are never
// acknowledged). The kernel's fanout splits the flows between the workers:
// both read packets and hold connections, the status records' totals are
// their sums, and the flood, whose members sit in both workers' shards,
// is one syn-flood of all 300 on that listener.
func TestLiveFanout(t *testing.T) {
	needLive(t, "live fanout test", "ip")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin := buildWirestate(t, dir)
	floodFile := filepath.Join(dir, "flood.pcap")
	f, err := os.Create(floodFile)
	if err != nil {
		t.Fatal(err)
	}
	const sources, conns = 300, 200
	if err := flood.Write(f, flood.SYN, sources, 7); err != nil {
		t.Fatal(err)
	}
	f.Close()

	cli, srv, cif, sif := setupVeth(t)
	ws := exec.Command("ip", "netns", "exec", srv, bin, "-i", sif, "--workers", "2", "--format", "json",
		"--stats-interval", "300ms", "--timeline", "none", "tcp")
	stdout, _ := ws.StdoutPipe()
	stderr, _ := ws.StderrPipe()
	if err := ws.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Process.Kill(); ws.Wait() })
	errLines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			errLines <- sc.Text()
		}
		close(errLines)
	}()
	waitStderr(t, errLines, "afpacket, 2 workers", 10*time.Second)
	recs := make(chan map[string]any, 1<<16)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err == nil {
				recs <- m
			}
		}
		close(recs)
	}()

	sent, out := runSender(t, self, cli, "fanout", cif, fmt.Sprintf("WIRESTATE_FANOUT=%d,%s", conns, floodFile))
	if want := uint64(conns*12 + 2*sources); sent != want {
		t.Fatalf("sender sent %d packets, want %d: %s", sent, want, out)
	}

	// A status record while the connections are held: both shards hold
	// some.
	var held []any
	deadline := time.After(5 * time.Second)
	for held == nil {
		select {
		case m, ok := <-recs:
			if !ok {
				t.Fatalf("wirestate ended early; stderr: %s", drain(errLines))
			}
			if ws, _ := m["workers"].([]any); m["type"] == "stats" && len(ws) == 2 && num(m, "packets") == sent {
				held = ws
			}
		case <-deadline:
			t.Fatalf("no status record counting the %d packets sent; stderr: %s", sent, drain(errLines))
		}
	}
	for i, w := range held {
		if c := num(w.(map[string]any), "connections"); c < 50 {
			t.Errorf("worker %d holds %d connections, want a share of the %d", i, c, conns+sources)
		}
	}

	ws.Process.Signal(syscall.SIGINT)
	var final, summary map[string]any
	aggregates := 0
	for m := range recs {
		switch {
		case m["type"] == "stats" && m["final"] == true:
			final = m
		case m["type"] == "summary":
			summary = m
		case m["type"] == "anomaly" && m["kind"] == "syn-flood" && m["scope"] != nil:
			aggregates++
			if m["scope"] != "10.0.0.2:80" || num(m, "count") != sources {
				t.Errorf("syn-flood %v, want one on 10.0.0.2:80 counting %d handshakes", m["scope"], sources)
			}
		}
	}
	if err := ws.Wait(); err != nil {
		t.Fatalf("wirestate: %v; stderr: %s", err, drain(errLines))
	}
	if final == nil || summary == nil {
		t.Fatalf("no final status record or summary; stderr: %s", drain(errLines))
	}
	t.Logf("per worker at the end: %v; held while running: %v", final["workers"], held)
	if aggregates != 1 {
		t.Errorf("%d syn-flood findings on the listener, want 1", aggregates)
	}
	workers, _ := final["workers"].([]any)
	if len(workers) != 2 || final["engine"] != "afpacket" {
		t.Fatalf("final status record: engine %v, workers %v", final["engine"], final["workers"])
	}
	var sum [3]uint64
	for i, w := range workers {
		m := w.(map[string]any)
		p := num(m, "packets")
		if p < sent/10 {
			t.Errorf("worker %d read %d of %d packets: the fanout did not share the flows", i, p, sent)
		}
		sum[0] += p
		sum[1] += num(m, "received")
		sum[2] += num(m, "dropped")
	}
	if sum[0] != num(final, "packets") || sum[1] != num(final, "received") || sum[2] != num(final, "dropped") {
		t.Errorf("totals %v/%v/%v packets/received/dropped, workers' sums %v", final["packets"], final["received"], final["dropped"], sum)
	}
	if num(final, "packets") != sent || num(final, "dropped") != 0 || num(summary, "packets") != sent {
		t.Errorf("read %v (summary %v) of %d packets sent, %v dropped", final["packets"], summary["packets"], sent, final["dropped"])
	}
	if c := num(summary, "connections"); c != conns+sources {
		t.Errorf("summary: %d connections, want %d", c, conns+sources)
	}
}

// num reads a JSON number field as a count.
func num(m map[string]any, k string) uint64 {
	v, _ := m[k].(float64)
	return uint64(v)
}

// sendFanout sends n synthetic connections of 12 frames and then every
// frame of the capture file out of interface ifname, and reports the
// count sent.
func sendFanout(t *testing.T, ifname string, n int, file string) error {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return err
	}
	fd, err := syscall.Socket(syscall.AF_PACKET, syscall.SOCK_RAW, 0)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrLinklayer{Ifindex: ifi.Index}); err != nil {
		return err
	}
	var sent uint64
	write := func(f []byte) error {
		for {
			_, err := syscall.Write(fd, f)
			if err == nil {
				sent++
				return nil
			}
			if err != syscall.ENOBUFS && err != syscall.EAGAIN {
				return err
			}
			time.Sleep(100 * time.Microsecond)
		}
	}
	frames := connFrames()
	for c := 1; c <= n; c++ {
		cip := [4]byte{10, 80, byte(c >> 8), byte(c)}
		for i, f := range frames {
			stampFrame(f, i, cip, uint16(20000+c))
			if err := write(f); err != nil {
				return err
			}
		}
	}
	_, _, pkts := pcaptest.Read(t, file)
	for _, p := range pkts {
		if err := write(p.Data); err != nil {
			return err
		}
	}
	fmt.Printf("helper: sent %d packets\n", sent)
	return nil
}

// runSender runs the test binary's helper mode in namespace ns against
// addr, with env added, and returns the packets it reports sending
// ("helper: sent N ...") and its whole output.
func runSender(t *testing.T, self, ns, mode, addr string, env ...string) (uint64, string) {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", ns, self, "-test.run=^TestLiveE2EHelper$")
	cmd.Env = append(append(os.Environ(), helperEnv+"="+mode, "WIRESTATE_E2E_ADDR="+addr), env...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s helper: %v\n%s", mode, err, out)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if s, ok := strings.CutPrefix(l, "helper: sent "); ok {
			sent, _ := strconv.ParseUint(strings.Fields(s)[0], 10, 64)
			t.Logf("%s helper: %s", mode, l)
			return sent, string(out)
		}
	}
	return 0, string(out)
}
