package pipeline

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/wirestate/wirestate/tracker"
)

// tsharkNumbers holds tshark's relative sequence and acknowledgement
// numbers of one frame; hasAck is false when the ACK bit is clear.
type tsharkNumbers struct {
	seq, ack uint32
	hasAck   bool
}

// tsharkRelative runs tshark on path and returns its relative sequence
// numbers by frame.
func tsharkRelative(t *testing.T, tshark, path string) map[uint64]tsharkNumbers {
	t.Helper()
	cmd := exec.Command(tshark, "-n", "-r", path, "-o", "tcp.analyze_sequence_numbers:TRUE", "-o", "tcp.relative_sequence_numbers:TRUE",
		"-Y", "tcp", "-T", "fields", "-e", "frame.number", "-e", "tcp.seq", "-e", "tcp.ack", "-e", "tcp.flags.ack")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark -r %s: %v: %s", path, err, stderr.String())
	}
	m := map[uint64]tsharkNumbers{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 4 || f[1] == "" {
			continue
		}
		frame, err1 := strconv.ParseUint(f[0], 10, 64)
		seq, err2 := strconv.ParseUint(f[1], 10, 32)
		if err1 != nil || err2 != nil {
			t.Fatalf("tshark -r %s: bad line %q", path, line)
		}
		n := tsharkNumbers{seq: uint32(seq), hasAck: f[3] == "1" || f[3] == "True"}
		if n.hasAck {
			ack, err := strconv.ParseUint(f[2], 10, 32)
			if err != nil {
				t.Fatalf("tshark -r %s: bad ack in %q", path, line)
			}
			n.ack = uint32(ack)
		}
		m[frame] = n
	}
	return m
}

// tsharkCaptures skips t in -short mode or where tshark is not installed
// (what names what then goes uncompared) and returns tshark's path and the
// captures to compare: instead, when given, else every one in pcaps/.
func tsharkCaptures(t *testing.T, what string, instead []string) (tshark string, files []string) {
	t.Helper()
	if testing.Short() {
		t.Skip("skipped in -short mode: runs tshark on every capture")
	}
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skipf("tshark is not installed: %s not compared with Wireshark's", what)
	}
	files, err = filepath.Glob("../pcaps/*.pcap")
	if len(instead) > 0 {
		files, err = instead, nil
	}
	if err != nil || len(files) == 0 {
		t.Fatalf("no captures in ../pcaps (%v)", err)
	}
	return tshark, files
}

// TestRelativeNumbersMatchTshark checks the timelines' relative sequence
// and acknowledgement numbers against tshark's on every capture in pcaps/
// (issue #18, item 3). The rules tshark follows and wirestate shares are
// in docs/tshark-differences.md.
func TestRelativeNumbersMatchTshark(t *testing.T) {
	tshark, files := tsharkCaptures(t, "relative sequence numbers", nil)
	var mu sync.Mutex
	var frames, mismatches, stale int
	t.Cleanup(func() {
		t.Logf("%d captures: %d frames compared with tshark, %d mismatches; %d stale segments of an earlier incarnation not compared",
			len(files), frames, mismatches, stale)
	})
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			want := tsharkRelative(t, tshark, path)
			res := analyzeForHTML(t, path)
			var seen, bad, old int
			for i := range res.Records {
				for _, e := range res.Records[i].Timeline {
					w, ok := want[e.Frame]
					if !ok {
						t.Errorf("frame %d: in a timeline, not a TCP segment to tshark", e.Frame)
						continue
					}
					seen++
					if e.Kind&tracker.KindPrevIncarnation != 0 {
						// wirestate puts a stale segment with the incarnation
						// its sequence numbers belong to; tshark with the
						// latest one (docs/tshark-differences.md).
						old++
						continue
					}
					if e.Seq != w.seq || w.hasAck && e.Ack != w.ack {
						bad++
						t.Errorf("frame %d: seq %d ack %d, tshark seq %d ack %d", e.Frame, e.Seq, e.Ack, w.seq, w.ack)
					}
				}
			}
			if seen != len(want) {
				t.Errorf("%d frames in timelines, tshark decodes %d TCP segments", seen, len(want))
			}
			mu.Lock()
			frames, mismatches, stale = frames+seen-old, mismatches+bad, stale+old
			mu.Unlock()
		})
	}
}
