package pipeline

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wirestate/wirestate/report"
	"github.com/wirestate/wirestate/tracker"
	"github.com/wirestate/wirestate/tracker/detect"
)

// dropDataPackets copies the classic pcap (Ethernet, IPv4) at src to dst
// without the TCP data packets for which drop returns true (n counts the
// data packets from 1), and returns the payload bytes left out: packets
// lost by the capture only, the connection lost nothing.
func dropDataPackets(t *testing.T, src, dst string, drop func(n int) bool) (dropped uint64) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 24 || binary.LittleEndian.Uint32(b) != 0xa1b2c3d4 || binary.LittleEndian.Uint32(b[20:]) != 1 {
		t.Fatalf("%s: not a little-endian microsecond Ethernet pcap", src)
	}
	out := append([]byte(nil), b[:24]...)
	n := 0
	for off := 24; off+16 <= len(b); {
		incl := int(binary.LittleEndian.Uint32(b[off+8:]))
		rec := b[off : off+16+incl]
		off += 16 + incl
		pkt := rec[16:]
		payload := 0
		if len(pkt) >= 14+20 && binary.BigEndian.Uint16(pkt[12:]) == 0x0800 && pkt[14+9] == 6 {
			ip := pkt[14:]
			ihl := int(ip[0]&15) * 4
			total := int(binary.BigEndian.Uint16(ip[2:]))
			if len(ip) >= ihl+13 {
				payload = total - ihl - int(ip[ihl+12]>>4)*4
			}
		}
		if payload > 0 {
			n++
			if drop(n) {
				dropped += uint64(payload)
				continue
			}
		}
		out = append(out, rec...)
	}
	if err := os.WriteFile(dst, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return dropped
}

// TestCaptureLossOnLabCapture takes real-kernel lab captures, removes data
// packets from the capture only (the connections lost nothing: their
// receivers acknowledged the data), and checks that wirestate reports the
// loss as capture loss, exactly the bytes removed, with no warning: no
// retransmission, no loss finding.
func TestCaptureLossOnLabCapture(t *testing.T) {
	for _, tc := range []struct {
		file string
		drop func(n int) bool
	}{
		{"zero-window.pcap", func(n int) bool { return n == 5 || n == 6 }}, // two segments of the bulk transfer after the window reopened
		{"client-close.pcap", func(n int) bool { return n == 1 }},          // the request
		{"half-close.pcap", func(n int) bool { return n == 2 }},
	} {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "lossy-"+tc.file)
			want := dropDataPackets(t, filepath.Join("..", "pcaps", tc.file), path, tc.drop)
			if want == 0 {
				t.Fatal("no data packet removed")
			}
			cfg := &Config{Files: []string{path}, MSL: 30 * time.Second, IdleTimeout: time.Hour, MaxConns: 1 << 20,
				Shards: 1, Detect: detect.Defaults()}
			res, err := Analyze(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			cl := report.CaptureLossOf(res.Records)
			if cl.MissedBytes != want || cl.AcksForUnseen == 0 || cl.Percent() <= 0 {
				t.Errorf("capture loss %+v (%.2f%%), want %d missed bytes", cl, cl.Percent(), want)
			}
			for i := range res.Findings {
				if f := &res.Findings[i]; f.Severity >= tracker.SevWarning {
					t.Errorf("warning on a connection that lost nothing: %s %s", f.Kind, f.Summary)
				}
			}
			for i := range res.Records {
				for s := tracker.Orig; s <= tracker.Resp; s++ {
					if l := &res.Records[i].MetricsOrZero().Loss[s]; l.RetransSegs != 0 && tc.file != "zero-window.pcap" {
						t.Errorf("%s retransmissions %d: the connection lost nothing", s, l.RetransSegs)
					}
				}
			}
		})
	}
}
