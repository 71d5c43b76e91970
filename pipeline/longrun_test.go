package pipeline

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wirestate/wirestate/capture"
	"github.com/wirestate/wirestate/internal/flood"
	"github.com/wirestate/wirestate/report"
	"github.com/wirestate/wirestate/sink/rotate"
	"github.com/wirestate/wirestate/tracker"
	"github.com/wirestate/wirestate/tracker/detect"
)

// floodCapture writes a capture of a flood of the given kind.
func floodCapture(t testing.TB, kind flood.Kind, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "flood.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := flood.Write(f, kind, n, 1); err != nil {
		t.Fatal(err)
	}
	return path
}

// runLiveSink feeds a capture's segments, as live capture does, to a
// tracker whose sink is a live sink (with the detectors' live settings),
// and returns the final result and the sink.
func runLiveSink(t testing.TB, cfg *Config, path string) (*report.Result, *liveSink) {
	t.Helper()
	cfg.Detect.Live = true
	src, err := capture.Open([]string{path}, cfg.fileOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	s := newLiveSink(cfg.Outputs, 1<<20)
	s.foldAfter(cfg.FoldAfter)
	tr := tracker.New(cfg.trackerConfig(cfg.shards(), s, detect.Observers(cfg.Detect)))
	var seg tracker.Segment
	for {
		err := src.Next(&seg)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		tr.Feed(&seg)
	}
	res := &report.Result{Tracker: tr.Close()}
	s.finalResult(cfg, res)
	return res, s
}

// TestLiveFoldsAsOffline checks that --fold-after folds the same flood
// members live as offline, that the live flood findings count them, and
// that folded members are neither streamed nor kept.
func TestLiveFoldsAsOffline(t *testing.T) {
	for _, tc := range []struct {
		name string
		kind flood.Kind
		n    int
		find tracker.AnomalyKind
	}{
		{"syn-flood", flood.SYN, 3000, tracker.AnomSYNFlood},
		{"rst-ack-flood", flood.RSTACK, 3000, tracker.AnomRSTACKFlood},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := floodCapture(t, tc.kind, tc.n)
			config := func(outs ...Output) *Config {
				return &Config{Files: []string{path}, MSL: 30 * time.Second, IdleTimeout: time.Hour, MaxConns: 1 << 20,
					Shards: 1, FoldAfter: 100, Detect: detect.Defaults(), Timelines: TimelinesNone, Outputs: outs}
			}
			off, err := Analyze(context.Background(), config())
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			js, _ := report.NewStream("json", &buf, report.StreamOptions{Live: true})
			live, s := runLiveSink(t, config(Output{Stream: js}), path)
			js.(report.Ticker).Tick(time.Time{})

			folded := report.FoldedCount(live.Folded)
			if folded == 0 || folded != report.FoldedCount(off.Folded) {
				t.Errorf("folded live %d, offline %d; want the same, not 0", folded, report.FoldedCount(off.Folded))
			}
			if len(live.Records) != len(off.Records) || live.ConnCount() != off.ConnCount() {
				t.Errorf("live: %d records kept, %d connections; offline %d and %d", len(live.Records), live.ConnCount(), len(off.Records), off.ConnCount())
			}
			if streamed := strings.Count(buf.String(), `{"type":"conn"`); uint64(streamed) != s.streamed || streamed != len(live.Records) {
				t.Errorf("%d conn records streamed (sink counted %d), want the %d kept: folded members are not streamed", streamed, s.streamed, len(live.Records))
			}
			count := func(res *report.Result) int {
				for _, f := range res.Findings {
					if f.Kind == tc.find {
						return f.Count
					}
				}
				return -1
			}
			if c := count(live); c < folded || c != count(off) {
				t.Errorf("%s counts %d members live, %d offline; want the same, with the %d folded", tc.find, c, count(off), folded)
			}
		})
	}
}

// TestLiveFoldBounded checks that the live folder bounds the victims it
// counts: when full, it forgets the victims still below the limit, never
// one that is folding.
func TestLiveFoldBounded(t *testing.T) {
	f := &folder{limit: 2, maxVictims: 4, member: func(c *tracker.Conn) (tracker.AnomalyKind, tracker.Side, bool) {
		return tracker.AnomSYNFlood, tracker.Resp, true
	}}
	conn := func(port uint16) *tracker.Conn {
		c := &tracker.Conn{}
		c.Resp = tracker.Endpoint{Addr: tracker.AddrFrom4([4]byte{10, 0, 0, 2}), Port: port}
		return c
	}
	for i := 0; i < 3; i++ { // port 1 folds its third member
		if got := f.add(conn(1)); got != (i == 2) {
			t.Fatalf("member %d of port 1: folded %v", i+1, got)
		}
	}
	for p := uint16(2); p < 100; p++ { // a scan: one member per port
		if f.add(conn(p)) {
			t.Fatalf("port %d folded at its first member", p)
		}
		if len(f.members) > f.maxVictims {
			t.Fatalf("%d victims counted, bound %d", len(f.members), f.maxVictims)
		}
	}
	if !f.add(conn(1)) {
		t.Error("port 1, folding, was forgotten")
	}
	if f.forgotten == 0 {
		t.Error("nothing forgotten")
	}
	if got := mergeFolded(f); len(got) != 1 || got[0].Count != 2 {
		t.Errorf("tallies %+v, want port 1's two", got)
	}
}

// TestLiveSinkRotationInterrupted is SIGINT during rotation: shard workers
// keep ending connections while the ticks rotate a conn.log and a JSON
// Lines file every second; inside the third rotation the run is
// interrupted (the context is cancelled, as SIGINT does), the workers stop,
// the tracker's drain ends more connections after the interrupt, and the
// run writes its summary and closes the outputs. Every record must be in
// exactly one file of each output, and the JSON summary must count them.
func TestLiveSinkRotationInterrupted(t *testing.T) {
	dir := t.TempDir()
	var mu sync.Mutex // the fake clock: read by the streams, set by the ticker
	now := time.Date(2026, 12, 5, 22, 59, 58, 500e6, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	ctx, interrupt := context.WithCancel(context.Background())
	var rotations atomic.Int32
	newOutput := func(format, name string) Output {
		s, err := rotate.New(rotate.Config{Path: filepath.Join(dir, name), Interval: time.Second, Now: clock,
			New: func(w io.Writer, open time.Time) report.Stream {
				st, _ := report.NewStream(format, w, report.StreamOptions{Live: true, Open: open, Clock: clock})
				return st
			},
			Rotated: func(string) {
				if rotations.Add(1) == 2*3 { // the third rotation of the second output
					interrupt()
				}
			}})
		if err != nil {
			t.Fatal(err)
		}
		return Output{Name: name, Stream: s}
	}
	outs := []Output{newOutput("zeek", "conn.log"), newOutput("json", "flows.json")}
	s := newLiveSink(outs, 10)

	var uid atomic.Uint64
	end := func(shard int) {
		r := tracker.Record{Reason: tracker.EndClosed}
		r.Conn.UID = tracker.UID(uid.Add(1))
		r.Conn.Orig.Port = uint16(r.Conn.UID)
		s.Conn(shard, &r)
	}
	var wg sync.WaitGroup
	for shard := 0; shard < 2; shard++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				end(shard)
				time.Sleep(50 * time.Microsecond)
			}
		}()
	}
	// The reader: a tick every 100 ms of the fake clock.
	for ctx.Err() == nil {
		mu.Lock()
		now = now.Add(100 * time.Millisecond)
		mu.Unlock()
		s.tick(clock())
		time.Sleep(time.Millisecond)
	}
	wg.Wait()
	for i := 0; i < 500; i++ { // the tracker's drain after the interrupt
		end(i % 2)
	}
	res := &report.Result{}
	s.finalResult(&Config{Detect: detect.Defaults()}, res)
	if err := writeOutputs(s.outs, res, false); err != nil {
		t.Fatal(err)
	}
	if s.err != nil {
		t.Fatal(s.err)
	}

	total := int(uid.Load())
	if res.Connections != total {
		t.Errorf("result counts %d connections, %d ended", res.Connections, total)
	}
	for _, o := range []struct{ base, ext string }{{"conn", ".log"}, {"flows", ".json"}} {
		names, _ := filepath.Glob(filepath.Join(dir, o.base+".*"+o.ext))
		if _, err := os.Stat(filepath.Join(dir, o.base+o.ext)); !os.IsNotExist(err) || len(names) < 4 {
			t.Fatalf("%s: files %v (and %s%s: %v); want at least 4 rotated, none left", o.base, names, o.base, o.ext, err)
		}
		seen := make([]int, total+1)
		summaries := 0
		for _, name := range names {
			f, err := os.Open(name)
			if err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(f)
			var lines []string
			for sc.Scan() {
				lines = append(lines, sc.Text())
			}
			f.Close()
			for _, l := range lines {
				var uidText string
				if o.ext == ".log" {
					if strings.HasPrefix(l, "#") {
						continue
					}
					uidText = strings.Split(l, "\t")[1]
				} else {
					var rec struct {
						Type, UID   string
						Connections int
					}
					if err := json.Unmarshal([]byte(l), &rec); err != nil {
						t.Fatalf("%s: %q: %v", name, l, err)
					}
					if rec.Type == "summary" {
						summaries++
						if rec.Connections != total {
							t.Errorf("summary counts %d connections, %d ended", rec.Connections, total)
						}
						continue
					}
					uidText = rec.UID
				}
				u, ok := parseUID(uidText)
				if !ok || u == 0 || u > uint64(total) {
					t.Fatalf("%s: bad uid %q", name, uidText)
				}
				seen[u]++
			}
			if o.ext == ".log" && (len(lines) < 9 || !strings.HasPrefix(lines[len(lines)-1], "#close\t")) {
				t.Errorf("%s does not end with #close", name)
			}
		}
		for u := 1; u <= total; u++ {
			if seen[u] != 1 {
				t.Errorf("%s: record %d written %d times", o.base, u, seen[u])
				break
			}
		}
		if o.ext == ".json" && summaries != 1 {
			t.Errorf("%d summary records, want 1", summaries)
		}
		t.Logf("%s: %d records in %d files", o.base, total, len(names))
	}
}

// parseUID reads a connection uid's text form.
func parseUID(s string) (uint64, bool) {
	const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	if len(s) != 12 || s[0] != 'C' {
		return 0, false
	}
	var v uint64
	for _, c := range s[1:] {
		i := strings.IndexRune(base62, c)
		if i < 0 {
			return 0, false
		}
		v = v*62 + uint64(i)
	}
	return v, tracker.UID(v).String() == s
}

// TestLiveStreamsAllocate checks that a live sink streaming records to
// JSON Lines and conn.log allocates nothing per record once the final
// report's bound is reached.
func TestLiveStreamsAllocate(t *testing.T) {
	var outs []Output
	for _, format := range []string{"json", "zeek"} {
		st, _ := report.NewStream(format, io.Discard, report.StreamOptions{Live: true})
		outs = append(outs, Output{Stream: st})
	}
	s := newLiveSink(outs, 1)
	s.foldAfter(10)
	r := tracker.Record{Reason: tracker.EndClosed}
	r.Conn.UID = 12345
	r.Conn.Orig = tracker.Endpoint{Addr: tracker.AddrFromSlice([]byte{0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}), Port: 40000}
	r.Conn.Resp = tracker.Endpoint{Addr: tracker.AddrFromSlice([]byte{0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}), Port: 443}
	s.Conn(0, &r) // fills the bound
	if n := testing.AllocsPerRun(1000, func() {
		s.Conn(0, &r)
		s.tick(time.Time{})
	}); n != 0 {
		t.Errorf("%.1f allocations per record streamed", n)
	}
	if s.streamed < 1000 {
		t.Errorf("%d records streamed", s.streamed)
	}
}

// TestLiveJSONStreamsRecords checks that live JSON Lines writes each
// connection record as the connection ends (at the next tick) and not
// again at the end.
func TestLiveJSONStreamsRecords(t *testing.T) {
	var buf bytes.Buffer
	js, _ := report.NewStream("json", &buf, report.StreamOptions{Live: true})
	s := newLiveSink([]Output{{Stream: js}}, 1)
	for i := 1; i <= 3; i++ {
		var r tracker.Record
		r.Conn.UID = tracker.UID(i)
		s.Conn(0, &r)
	}
	s.tick(time.Time{})
	if n := strings.Count(buf.String(), `{"type":"conn"`); n != 3 {
		t.Errorf("%d conn records after the tick, want 3:\n%s", n, buf.String())
	}
	res := &report.Result{}
	s.finalResult(&Config{}, res)
	if err := writeOutputs(s.outs, res, false); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if n := strings.Count(buf.String(), `{"type":"conn"`); n != 3 || !strings.Contains(lines[len(lines)-1], `"connections":3,`) {
		t.Errorf("after the summary: %d conn records (want 3, none repeated), last line %s", n, lines[len(lines)-1])
	}
	if !slices.Equal([]int{len(res.Records)}, []int{1}) {
		t.Errorf("%d records kept for the report, want the bound, 1", len(res.Records))
	}
}
