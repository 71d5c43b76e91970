package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestLiveRate measures the packet rate live capture keeps up with, without
// loss, on a veth pair. It is a measurement, not a check, and runs only when
// asked, as root:
//
//	WIRESTATE_RATE=100000,200000,400000 go test -run TestLiveRate -v ./cmd/wirestate
//
// For each rate (packets per second) it starts wirestate -i on the server's
// end of the veth, and a helper in the client's namespace sends synthetic
// TCP connections (SYN, SYN-ACK, ACK, 4 data segments of 100 bytes with
// their ACKs, FIN, FIN, ACK: 12 packets each, every connection from a new
// 4-tuple) as Ethernet frames through an AF_PACKET socket for
// WIRESTATE_RATE_SECS seconds (default 5). It then stops wirestate with
// SIGINT and logs packets sent, packets wirestate read, the kernel's drop
// counts and the connections tracked. A rate is lossless when wirestate read
// every packet sent and the kernel counted no drop.
func TestLiveRate(t *testing.T) {
	rates := os.Getenv("WIRESTATE_RATE")
	if rates == "" {
		t.Skip("measurement; set WIRESTATE_RATE=PPS[,PPS...] to run it")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	secs := 5
	if s := os.Getenv("WIRESTATE_RATE_SECS"); s != "" {
		secs, _ = strconv.Atoi(s)
	}
	self, _ := os.Executable()
	dir := t.TempDir()
	bin := buildWirestate(t, dir)
	cli, srv, cif, sif := setupVeth(t)
	for _, r := range strings.Split(rates, ",") {
		pps, err := strconv.Atoi(strings.TrimSpace(r))
		if err != nil {
			t.Fatal(err)
		}
		ws := exec.Command("ip", "netns", "exec", srv, bin, "-i", sif, "--format", "json", "--stats-interval", "1s",
			"--timeline", "none", "tcp")
		out, _ := ws.StdoutPipe()
		errp, _ := ws.StderrPipe()
		if err := ws.Start(); err != nil {
			t.Fatal(err)
		}
		errLines := make(chan string, 64)
		go func() {
			sc := bufio.NewScanner(errp)
			for sc.Scan() {
				errLines <- sc.Text()
			}
			close(errLines)
		}()
		waitStderr(t, errLines, "listening on", 10*time.Second)
		recs := make(chan map[string]any, 1<<16)
		go func() {
			sc := bufio.NewScanner(out)
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			for sc.Scan() {
				var m map[string]any
				if json.Unmarshal(sc.Bytes(), &m) == nil && (m["type"] == "stats" || m["type"] == "summary") {
					recs <- m
				}
			}
			close(recs)
		}()
		sent, _ := runSender(t, self, cli, "blast", cif, fmt.Sprintf("WIRESTATE_BLAST=%d,%d", pps, secs))
		time.Sleep(time.Second)
		ws.Process.Signal(os.Interrupt)
		var final, summary map[string]any
		for m := range recs {
			if m["final"] == true {
				final = m
			}
			if m["type"] == "summary" {
				summary = m
			}
		}
		ws.Wait()
		if final == nil || summary == nil {
			t.Fatalf("rate %d: no final stats or summary; stderr: %s", pps, drain(errLines))
		}
		got := uint64(final["packets"].(float64))
		dropped := uint64(final["dropped"].(float64)) + uint64(final["if_dropped"].(float64))
		verdict := "LOSSLESS"
		if got != sent || dropped != 0 {
			verdict = "LOSS"
		}
		t.Logf("rate %d pps for %d s: sent %d, read %d, kernel received %v dropped %v if-dropped %v, connections %v: %s",
			pps, secs, sent, got, final["received"], final["dropped"], final["if_dropped"], summary["connections"], verdict)
	}
}

// blast sends synthetic TCP connections out of interface ifname at pps
// packets per second for secs seconds, and reports the count sent.
func blast(ifname string, pps, secs int) error {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return err
	}
	fd, err := syscall.Socket(syscall.AF_PACKET, syscall.SOCK_RAW, int(htons(syscall.ETH_P_ALL)))
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrLinklayer{Protocol: htons(syscall.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
		return err
	}
	syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_SNDBUF, 4<<20)
	syscall.SetsockoptInt(fd, syscall.SOL_PACKET, 20, 1) // PACKET_QDISC_BYPASS: a cheaper sender
	frames := connFrames()
	start := time.Now()
	end := start.Add(time.Duration(secs) * time.Second)
	var sent uint64
	var conn uint32
	for {
		now := time.Now()
		if !now.Before(end) {
			break
		}
		due := uint64(now.Sub(start).Seconds() * float64(pps))
		if sent >= due {
			time.Sleep(200 * time.Microsecond)
			continue
		}
		for sent < due && time.Since(start) < time.Duration(secs)*time.Second {
			// A new 4-tuple for every connection: client address
			// 10.80.x.y, port from the connection number.
			conn++
			cip := [4]byte{10, 80, byte(conn >> 24), byte(conn >> 16)}
			cport := uint16(1024 + conn%60000)
			for i, f := range frames {
				stampFrame(f, i, cip, cport)
				if _, err := syscall.Write(fd, f); err != nil {
					if err == syscall.ENOBUFS || err == syscall.EAGAIN {
						continue
					}
					return err
				}
				sent++
			}
		}
	}
	fmt.Printf("helper: sent %d packets in %v (%.0f pps)\n", sent, time.Since(start).Round(time.Millisecond),
		float64(sent)/time.Since(start).Seconds())
	return nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// Frame layout offsets (Ethernet, IPv4 without options, TCP).
const (
	offIP      = 14
	offIPSrc   = offIP + 12
	offIPDst   = offIP + 16
	offTCP     = offIP + 20
	blastSrvIP = "10.81.0.2"
)

// connFrames builds the 12 packets of one connection; stampFrame later
// writes the client's address and port into them. Packets whose index is
// odd-numbered in fromServer go from the server.
func connFrames() [][]byte {
	type pkt struct {
		fromSrv bool
		flags   byte
		seq     uint32 // relative
		ack     uint32
		payload int
	}
	const (
		fin, syn, rst, psh, ack = 0x01, 0x02, 0x04, 0x08, 0x10
	)
	var ps []pkt
	ps = append(ps, pkt{false, syn, 0, 0, 0}, pkt{true, syn | ack, 0, 1, 0}, pkt{false, ack, 1, 1, 0})
	c, s := uint32(1), uint32(1)
	for i := 0; i < 2; i++ {
		ps = append(ps, pkt{false, psh | ack, c, s, 100})
		c += 100
		ps = append(ps, pkt{true, psh | ack, s, c, 100})
		s += 100
	}
	ps = append(ps, pkt{false, ack, c, s, 0}, pkt{true, ack, s, c, 0})
	ps = append(ps, pkt{false, fin | ack, c, s, 0}, pkt{true, fin | ack, s, c + 1, 0}, pkt{false, ack, c + 1, s + 1, 0})
	out := make([][]byte, len(ps))
	for i, p := range ps {
		tcpLen := 20
		f := make([]byte, offTCP+tcpLen+p.payload)
		copy(f[0:6], []byte{2, 0, 0, 0, 0, 2})
		copy(f[6:12], []byte{2, 0, 0, 0, 0, 1})
		if p.fromSrv {
			f[0], f[6] = 2, 2
			f[5], f[11] = 1, 2
		}
		binary.BigEndian.PutUint16(f[12:], 0x0800)
		ip := f[offIP:]
		ip[0] = 0x45
		binary.BigEndian.PutUint16(ip[2:], uint16(20+tcpLen+p.payload))
		ip[8] = 64
		ip[9] = 6
		tcp := f[offTCP:]
		isnC, isnS := uint32(1000), uint32(5000)
		seq, ackn := isnC+p.seq, isnS+p.ack
		if p.fromSrv {
			seq, ackn = isnS+p.seq, isnC+p.ack
		}
		binary.BigEndian.PutUint32(tcp[4:], seq)
		if p.flags&ack != 0 {
			binary.BigEndian.PutUint32(tcp[8:], ackn)
		}
		tcp[12] = byte(tcpLen/4) << 4
		tcp[13] = p.flags
		binary.BigEndian.PutUint16(tcp[14:], 64240)
		out[i] = f
	}
	return out
}

// stampFrame writes the client's address and port into frame i of a
// connection (even-indexed frames with the client as source is not
// assumed: the direction is read back from the MAC address).
func stampFrame(f []byte, i int, cip [4]byte, cport uint16) {
	srvIP := net.ParseIP(blastSrvIP).To4()
	ip := f[offIP:]
	tcp := f[offTCP:]
	if f[11] == 2 { // from the server
		copy(ip[12:16], srvIP)
		copy(ip[16:20], cip[:])
		binary.BigEndian.PutUint16(tcp[0:], 80)
		binary.BigEndian.PutUint16(tcp[2:], cport)
	} else {
		copy(ip[12:16], cip[:])
		copy(ip[16:20], srvIP)
		binary.BigEndian.PutUint16(tcp[0:], cport)
		binary.BigEndian.PutUint16(tcp[2:], 80)
	}
	ip[10], ip[11] = 0, 0
	var sum uint32
	for j := 0; j < 20; j += 2 {
		sum += uint32(binary.BigEndian.Uint16(ip[j:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
}
