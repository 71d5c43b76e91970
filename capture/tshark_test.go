package capture

import (
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/wirestate/wirestate/tracker"
)

// tsharkFields are the fields compared with tshark, in order.
var tsharkFields = []string{
	"frame.number", "ip.src", "ipv6.src", "ip.dst", "ipv6.dst", "tcp.srcport", "tcp.dstport",
	"tcp.seq_raw", "tcp.ack_raw", "tcp.flags", "tcp.window_size_value", "tcp.len",
	"tcp.options.mss_val", "tcp.options.wscale.shift", "tcp.options.timestamp.tsval",
	"ip.ttl", "ipv6.hlim", "ip.id",
}

// tsharkSegments runs tshark on file and returns, by frame number, the
// fields of its innermost TCP header, formatted as segmentLine does.
func tsharkSegments(t *testing.T, file string) map[uint64][]string {
	args := []string{"-n", "-r", file, "-Y", "tcp", "-T", "fields", "-E", "occurrence=l"}
	for _, f := range tsharkFields {
		args = append(args, "-e", f)
	}
	out, err := exec.Command("tshark", args...).Output()
	if err != nil {
		t.Skipf("tshark failed on %s: %v", file, err)
	}
	segs := map[uint64][]string{}
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != len(tsharkFields) {
			continue
		}
		frame, _ := strconv.ParseUint(f[0], 10, 64)
		src, dst := f[1], f[3]
		if f[2] != "" {
			src = f[2]
		}
		if f[4] != "" {
			dst = f[4]
		}
		flags, _ := strconv.ParseUint(strings.TrimPrefix(f[9], "0x"), 16, 32)
		ttl, id := f[15], "0"
		if f[2] != "" {
			ttl = f[16] // the innermost header is IPv6: no IP ID
		} else if v, err := strconv.ParseUint(strings.TrimPrefix(f[17], "0x"), 16, 16); err == nil {
			id = strconv.FormatUint(v, 10)
		}
		segs[frame] = []string{src, dst, f[5], f[6], f[7], f[8], strconv.FormatUint(flags&0xff, 10), f[10], f[11], f[12], f[13], f[14], ttl, id}
	}
	return segs
}

// segmentLine formats the fields of seg that tshark reports.
func segmentLine(seg *tracker.Segment) []string {
	opt := func(bit uint8, v any) string {
		if seg.Opts&bit == 0 {
			return ""
		}
		return fmt.Sprint(v)
	}
	return []string{
		seg.Src.Addr.String(), seg.Dst.Addr.String(), fmt.Sprint(seg.Src.Port), fmt.Sprint(seg.Dst.Port),
		fmt.Sprint(uint32(seg.Seq)), fmt.Sprint(uint32(seg.Ack)), fmt.Sprint(seg.Flags), fmt.Sprint(seg.Window),
		fmt.Sprint(seg.PayloadLen), opt(tracker.OptMSS, seg.MSS), opt(tracker.OptWScale, seg.WScale),
		opt(tracker.OptTimestamp, seg.TSVal), fmt.Sprint(seg.TTL), fmt.Sprint(seg.IPID),
	}
}

// TestAgainstTshark compares every decoded segment of the project's traces
// (pcaps/) and of the Zeek conformance traces with tshark's dissection. Frame numbers differ only where tshark
// reassembles IP fragments (it shows a tunnelled segment at its last
// fragment; the decoder at the first).
func TestAgainstTshark(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: runs tshark")
	}
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark is not installed")
	}
	files := append(traceFiles("../pcaps"), traceFiles(zeekCasesDir)...)
	if len(files) == 0 {
		t.Skipf("no capture files under ../pcaps or %s", zeekCasesDir)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			t.Parallel()
			compareWithTshark(t, file)
		})
	}
}

// lengthFromPPPoE lists traces where tshark bounds the IP packet by the
// PPPoE length while the decoder, like Zeek, trusts the IP total length:
// there an access concentrator padded IP packets by 6 bytes without
// updating the PPPoE length (the TCP checksums cover the padding, and
// Zeek's ip_bytes count it).
var lengthFromPPPoE = map[string]bool{"pppoe-over-qinq.pcap": true}

func compareWithTshark(t *testing.T, file string) {
	{
		want := tsharkSegments(t, file)
		s, err := Open([]string{file}, FileOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var seg tracker.Segment
		matched, moved := 0, 0
		for {
			if err := s.Next(&seg); err == io.EOF {
				break
			} else if err != nil {
				t.Fatal(err)
			}
			w, ok := want[seg.Frame]
			if !ok {
				moved++
				continue
			}
			matched++
			got := segmentLine(&seg)
			if w[8] == "" || lengthFromPPPoE[filepath.Base(file)] {
				// tshark gives no length for a header it finds short.
				w[8] = got[8]
			}
			if strings.Join(got, " ") != strings.Join(w, " ") {
				t.Errorf("%s frame %d:\n got %v\n tshark %v", file, seg.Frame, got, w)
			}
		}
		st := s.Stats()
		s.Close()
		if matched+moved != len(want) || moved > 0 && st.Skipped[SkipFragment] == 0 {
			t.Errorf("%s: %d segments at tshark's frames, %d elsewhere; tshark has %d", file, matched, moved, len(want))
		}
	}
}
