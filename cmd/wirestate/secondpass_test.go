package main

import (
	"encoding/binary"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/wirestate/wirestate/internal/pcaptest"
)

// transitionsByUID returns the "transitions" of every conn record of a
// JSON Lines report that has them, as raw JSON.
func transitionsByUID(t *testing.T, out string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var r struct {
			Type        string          `json:"type"`
			UID         string          `json:"uid"`
			Transitions json.RawMessage `json:"transitions"`
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("output line is not JSON: %v", err)
		}
		if r.Type == "conn" && r.Transitions != nil {
			m[r.UID] = string(r.Transitions)
		}
	}
	return m
}

// timelinesByUID returns the text report's timelines by uid.
func timelinesByUID(out string) map[string]string {
	m := map[string]string{}
	for _, block := range strings.Split(out, "\nTimeline ")[1:] {
		uid, _, _ := strings.Cut(block, " ")
		m[uid] = block
	}
	return m
}

// TestSecondPassTimelines checks that the timelines the second pass builds
// for anomalous connections (reading only as far as their last packet,
// then letting their timers run) are the ones a single pass recording
// every connection builds, on every lab capture.
func TestSecondPassTimelines(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(pcapDir, "*.pcap*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no captures in %s (%v)", pcapDir, err)
	}
	// The lab's captures end soon after their connections; this one goes
	// on for 90 s of other traffic, so that the second pass stops long
	// before the end and must let TIME_WAIT's timer run on its own.
	// The same for 4-tuple reuse and a stale segment, whose replaced
	// incarnations read on past their last packet only when they must.
	for _, name := range []string{"lost-final-ack.pcap", "port-reuse.pcap", "stale-segment.pcap"} {
		files = append(files, withLaterTraffic(t, filepath.Join(pcapDir, name), 90))
	}
	// The first incarnation's request sent again a second after the
	// second incarnation's last packet: a stale segment that only a pass
	// reading on past both incarnations' last packets sees.
	files = append(files, withLaterTraffic(t, withResent(t, filepath.Join(pcapDir, "port-reuse.pcap"), 4), 90))
	compared := 0
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			code, two, errOut := runTimed(t, time.Minute, "-r", f, "--format", "json", "--timeline", "anomalous")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			code, one, errOut := runTimed(t, time.Minute, "-r", f, "--format", "json", "--timeline", "all")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			all := transitionsByUID(t, one)
			for uid, tr := range transitionsByUID(t, two) {
				if all[uid] != tr {
					t.Errorf("%s: second pass transitions\n%s\nsingle pass\n%s", uid, tr, all[uid])
				}
				compared++
			}
			// The text timelines show every packet, not only transitions.
			code, two, errOut = runTimed(t, time.Minute, "-r", f, "--timeline", "anomalous")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			code, one, errOut = runTimed(t, time.Minute, "-r", f, "--timeline", "all")
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			allText := timelinesByUID(one)
			for uid, tl := range timelinesByUID(two) {
				if allText[uid] != tl {
					t.Errorf("%s: second pass timeline\n%s\nsingle pass\n%s", uid, tl, allText[uid])
				}
			}
		})
	}
	if compared < 10 {
		t.Fatalf("only %d timelines compared", compared)
	}
}

// withLaterTraffic copies the capture at path and appends n packets of
// another connection (its first TCP packet with the source port changed),
// one a second after its last packet.
func withLaterTraffic(t *testing.T, path string, n int) string {
	t.Helper()
	link, snaplen, pkts := pcaptest.Read(t, path)
	first := append([]byte(nil), pkts[0].Data...)
	if link != layers.LinkTypeEthernet || first[12] != 0x08 || first[13] != 0x00 {
		t.Fatalf("%s: want Ethernet/IPv4 packets", path)
	}
	tcp := 14 + int(first[14]&0x0f)*4
	binary.BigEndian.PutUint16(first[tcp:], 1) // source port 1: another connection
	first[tcp+13] = 0x10                       // a bare ACK, picked up mid-stream
	last := pkts[len(pkts)-1].CI.Timestamp
	for i := 1; i <= n; i++ {
		ci := gopacket.CaptureInfo{Timestamp: last.Add(time.Duration(i) * time.Second), CaptureLength: len(first), Length: len(first)}
		pkts = append(pkts, pcaptest.Packet{CI: ci, Data: first})
	}
	return pcaptest.Write(t, "later-traffic.pcap", link, snaplen, pkts)
}

// withResent copies the capture at path and appends its packet number
// frame again, one second after its last packet.
func withResent(t *testing.T, path string, frame int) string {
	t.Helper()
	link, snaplen, pkts := pcaptest.Read(t, path)
	if frame < 1 || frame > len(pkts) {
		t.Fatalf("%s has no packet %d", path, frame)
	}
	again := pkts[frame-1]
	again.CI.Timestamp = pkts[len(pkts)-1].CI.Timestamp.Add(time.Second)
	return pcaptest.Write(t, "resent.pcap", link, snaplen, append(pkts, again))
}
