package pipeline

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wirestate/wirestate/report"
	"github.com/wirestate/wirestate/tracker"
	"github.com/wirestate/wirestate/tracker/detect"
)

// tsharkStream is what tshark's TCP analysis says of one TCP stream.
type tsharkStream struct {
	first      uint64 // first frame
	src        string // source address and port of the first frame
	initialRTT int64  // µs, -1 if none
	// ackRTT holds the ack_rtt samples by the ACK's source ("addr port"):
	// min, max (µs) and count; karnRTT those whose acknowledged segment
	// was never retransmitted (Karn's rule applied to tshark's samples,
	// with tshark's own retransmission flags).
	ackRTT, karnRTT map[string]*[3]int64
}

// addSample adds a sample of us microseconds to m[src].
func addSample(m map[string]*[3]int64, src string, us int64) {
	a := m[src]
	if a == nil {
		a = &[3]int64{us, us, 0}
		m[src] = a
	}
	a[0], a[1], a[2] = min(a[0], us), max(a[1], us), a[2]+1
}

// tsharkRow is one TCP frame as tsharkRTTs reads it.
type tsharkRow struct {
	frame, acked uint64
	stream       int
	src          string
	nxtseq       string
	initial, ack string
	retrans      bool
}

// secsToMicros parses tshark's seconds (9 decimals) to whole microseconds.
func secsToMicros(s string) (int64, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, err
	}
	return int64(math.Round(f * 1e6)), nil
}

// tsharkRTTs runs tshark on path and returns its streams by number.
func tsharkRTTs(t testing.TB, tshark, path string) map[int]*tsharkStream {
	t.Helper()
	cmd := exec.Command(tshark, "-n", "-r", path, "-o", "tcp.analyze_sequence_numbers:TRUE", "-o", "tcp.relative_sequence_numbers:TRUE",
		"-Y", "tcp", "-T", "fields", "-e", "frame.number", "-e", "tcp.stream", "-e", "ip.src", "-e", "ipv6.src", "-e", "tcp.srcport",
		"-e", "tcp.analysis.initial_rtt", "-e", "tcp.analysis.ack_rtt", "-e", "tcp.analysis.acks_frame", "-e", "tcp.nxtseq",
		"-e", "tcp.analysis.retransmission", "-e", "tcp.analysis.fast_retransmission", "-e", "tcp.analysis.spurious_retransmission")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("tshark -r %s: %v", path, err)
	}
	var rows []tsharkRow
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) != 12 || f[1] == "" {
			continue
		}
		frame, err1 := strconv.ParseUint(f[0], 10, 64)
		id, err2 := strconv.Atoi(f[1])
		if err1 != nil || err2 != nil {
			t.Fatalf("tshark -r %s: bad line %q", path, sc.Text())
		}
		addr := f[2]
		if addr == "" {
			addr = f[3]
		}
		row := tsharkRow{frame: frame, stream: id, src: addr + " " + f[4], initial: f[5], ack: f[6], nxtseq: f[8],
			retrans: f[9] != "" || f[10] != "" || f[11] != ""}
		if f[7] != "" {
			if row.acked, err = strconv.ParseUint(f[7], 10, 64); err != nil {
				t.Fatalf("tshark -r %s: bad acks_frame in %q", path, sc.Text())
			}
		}
		rows = append(rows, row)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("tshark -r %s: %v", path, err)
	}
	// A segment counts as retransmitted from the first frame tshark flags
	// as a retransmission that ends where it ends: an ACK after that
	// frame is ambiguous (Karn).
	type segKey struct {
		stream      int
		src, nxtseq string
	}
	byFrame := map[uint64]segKey{}
	resent := map[segKey]uint64{}
	for i := range rows {
		r := &rows[i]
		k := segKey{r.stream, r.src, r.nxtseq}
		byFrame[r.frame] = k
		if r.retrans && resent[k] == 0 {
			resent[k] = r.frame
		}
	}
	streams := map[int]*tsharkStream{}
	for i := range rows {
		r := &rows[i]
		st := streams[r.stream]
		if st == nil {
			st = &tsharkStream{first: r.frame, src: r.src, initialRTT: -1, ackRTT: map[string]*[3]int64{}, karnRTT: map[string]*[3]int64{}}
			streams[r.stream] = st
		}
		if r.initial != "" && st.initialRTT < 0 {
			if st.initialRTT, err = secsToMicros(r.initial); err != nil {
				t.Fatalf("tshark -r %s: bad initial_rtt in frame %d", path, r.frame)
			}
		}
		if r.ack == "" && r.acked != 0 {
			// tshark computes a sample of zero (the ACK has the data
			// segment's timestamp) but does not display it.
			r.ack = "0"
		}
		if r.ack != "" {
			us, err := secsToMicros(r.ack)
			if err != nil {
				t.Fatalf("tshark -r %s: bad ack_rtt in frame %d", path, r.frame)
			}
			addSample(st.ackRTT, r.src, us)
			if at := resent[byFrame[r.acked]]; at == 0 || at > r.frame {
				addSample(st.karnRTT, r.src, us)
			}
		}
	}
	return streams
}

// rttTally counts agreement with tshark.
type rttTally struct {
	hsEqual, hsTotal       int // handshake_rtt against initial_rtt
	hsKarn                 int // tshark has one, wirestate none (a SYN or SYN-ACK sent again)
	dataEqual, dataTotal   int // directions with samples on both sides: min and max equal (tshark's with Karn's rule)
	rawEqual               int // ... equal to tshark's own, every sample
	dataOnlyTshark, dataWS int // directions with samples on one side only
	diffs                  []string
}

func (t *rttTally) add(o *rttTally) {
	t.hsEqual += o.hsEqual
	t.hsTotal += o.hsTotal
	t.hsKarn += o.hsKarn
	t.dataEqual += o.dataEqual
	t.rawEqual += o.rawEqual
	t.dataTotal += o.dataTotal
	t.dataOnlyTshark += o.dataOnlyTshark
	t.dataWS += o.dataWS
	t.diffs = append(t.diffs, o.diffs...)
}

func (t *rttTally) String() string {
	return fmt.Sprintf("handshake_rtt equal to the µs on %d of %d connections (%.2f%%; %d more without one: a SYN or SYN-ACK sent again); "+
		"data RTT min and max equal to tshark's ack_rtt without retransmitted segments on %d of %d directions (%.2f%%), to all of tshark's on %d (%.2f%%); "+
		"samples on tshark's side only %d, wirestate's only %d",
		t.hsEqual, t.hsTotal, pct(t.hsEqual, t.hsTotal), t.hsKarn, t.dataEqual, t.dataTotal, pct(t.dataEqual, t.dataTotal),
		t.rawEqual, pct(t.rawEqual, t.dataTotal), t.dataOnlyTshark, t.dataWS)
}

func pct(a, b int) float64 {
	if b == 0 {
		return 100
	}
	return 100 * float64(a) / float64(b)
}

// endpointKey formats e as tshark's "addr port".
func endpointKey(e tracker.Endpoint) string { return fmt.Sprintf("%s %d", e.Addr, e.Port) }

// compareRTTs compares the records of path with tshark's streams.
func compareRTTs(t testing.TB, tshark, path string) *rttTally {
	want := tsharkRTTs(t, tshark, path)
	byFirst := map[uint64]*tsharkStream{}
	for _, st := range want {
		byFirst[st.first] = st
	}
	// A JSON output: it needs every connection measured (report.Needs).
	js, err := report.NewStream("json", io.Discard, report.StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := &Config{Files: []string{path}, MSL: 30 * time.Second, IdleTimeout: time.Hour, MaxConns: 1 << 22,
		Shards: 1, Detect: detect.Defaults(), Outputs: []Output{{Stream: js}}}
	res, err := Analyze(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var tl rttTally
	base := filepath.Base(path)
	for i := range res.Records {
		r := &res.Records[i]
		st := byFirst[r.Conn.FirstFrame]
		if st == nil || r.Conn.PrevUID != 0 || r.Conn.Flags&tracker.ConnReincarnated != 0 {
			continue // tshark splits or joins incarnations its own way
		}
		m := r.MetricsOrZero()
		if hs, ok := m.HandshakeRTT(); ok {
			tl.hsTotal++
			if hs/1000 == st.initialRTT {
				tl.hsEqual++
			} else {
				tl.diffs = append(tl.diffs, fmt.Sprintf("%s %s: handshake_rtt %dµs, tshark initial_rtt %dµs", base, r.Conn.UID, hs/1000, st.initialRTT))
			}
		} else if st.initialRTT >= 0 && !r.Conn.Partial() {
			tl.hsKarn++
		}
		for s := tracker.Orig; s <= tracker.Resp; s++ {
			// RTT[s] samples s's segments, acknowledged by the other side.
			sum := &m.RTT[s]
			a := st.karnRTT[endpointKey(r.Conn.Endpoint(s.Other()))]
			if raw := st.ackRTT[endpointKey(r.Conn.Endpoint(s.Other()))]; raw != nil && sum.N > 0 &&
				int64(sum.Min) == raw[0] && int64(sum.Max) == raw[1] {
				tl.rawEqual++
			}
			switch {
			case sum.N == 0 && a == nil:
			case sum.N == 0:
				tl.dataOnlyTshark++
			case a == nil:
				tl.dataWS++
			default:
				tl.dataTotal++
				if int64(sum.Min) == a[0] && int64(sum.Max) == a[1] {
					tl.dataEqual++
				} else {
					tl.diffs = append(tl.diffs, fmt.Sprintf("%s %s %s's segments: min %dµs max %dµs (%d samples), tshark ack_rtt min %dµs max %dµs (%d)",
						base, r.Conn.UID, s, sum.Min, sum.Max, sum.N, a[0], a[1], a[2]))
				}
			}
		}
	}
	return &tl
}

// TestRTTMatchesTshark holds handshake_rtt and the data RTTs to Wireshark's
// tcp.analysis.initial_rtt and ack_rtt on every capture in pcaps/ (issue
// #15): handshake_rtt equal to the microsecond on at least 99.9% of the
// connections that have both, data RTT min and max on at least 99% of
// the directions. The rules that differ are in docs/tshark-differences.md.
// WIRESTATE_RTT_ORACLE names other captures to compare instead
// (scripts/rtt-oracle.sh runs it on the benchmark capture).
func TestRTTMatchesTshark(t *testing.T) {
	tshark, files := tsharkCaptures(t, "RTTs", strings.Fields(os.Getenv("WIRESTATE_RTT_ORACLE")))
	var mu sync.Mutex
	var total rttTally
	t.Run("captures", func(t *testing.T) {
		for _, path := range files {
			t.Run(filepath.Base(path), func(t *testing.T) {
				t.Parallel()
				tl := compareRTTs(t, tshark, path)
				mu.Lock()
				total.add(tl)
				mu.Unlock()
			})
		}
	})
	for _, d := range total.diffs {
		t.Log(d)
	}
	t.Logf("%d captures: %s", len(files), &total)
	if os.Getenv("WIRESTATE_RTT_ORACLE") != "" {
		fmt.Printf("%d captures: %s\n", len(files), &total)
	}
	if total.hsTotal == 0 || total.dataTotal == 0 {
		t.Fatalf("nothing compared: %s", &total)
	}
	if pct(total.hsEqual, total.hsTotal) < 99.9 {
		t.Errorf("handshake_rtt agrees with tshark on %.2f%% of the connections, want 99.9%%", pct(total.hsEqual, total.hsTotal))
	}
	if pct(total.dataEqual, total.dataTotal) < 99 {
		t.Errorf("data RTT min and max agree with tshark on %.2f%% of the directions, want 99%%", pct(total.dataEqual, total.dataTotal))
	}
}
