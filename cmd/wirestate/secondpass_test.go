package main

import (
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/pcapgo"
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
	files = append(files, withLaterTraffic(t, filepath.Join(pcapDir, "lost-final-ack.pcap"), 90))
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
	in, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	r, err := pcapgo.NewReader(in)
	if err != nil {
		t.Fatal(err)
	}
	outPath := filepath.Join(t.TempDir(), "later-traffic.pcap")
	out, err := os.Create(outPath)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	w := pcapgo.NewWriterNanos(out)
	if err := w.WriteFileHeader(r.Snaplen(), r.LinkType()); err != nil {
		t.Fatal(err)
	}
	var first []byte
	var last time.Time
	for {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			break
		}
		if first == nil {
			first = append([]byte(nil), data...)
		}
		last = ci.Timestamp
		if err := w.WritePacket(ci, data); err != nil {
			t.Fatal(err)
		}
	}
	if first == nil || r.LinkType() != 1 || first[12] != 0x08 || first[13] != 0x00 {
		t.Fatalf("%s: want Ethernet/IPv4 packets", path)
	}
	tcp := 14 + int(first[14]&0x0f)*4
	binary.BigEndian.PutUint16(first[tcp:], 1) // source port 1: another connection
	first[tcp+13] = 0x10                       // a bare ACK, picked up mid-stream
	for i := 1; i <= n; i++ {
		ci := gopacket.CaptureInfo{Timestamp: last.Add(time.Duration(i) * time.Second), CaptureLength: len(first), Length: len(first)}
		if err := w.WritePacket(ci, first); err != nil {
			t.Fatal(err)
		}
	}
	return outPath
}
