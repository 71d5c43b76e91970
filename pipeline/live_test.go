package pipeline

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	tt "github.com/wirestate/wirestate/tracker/trackertest"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/wirestate/wirestate/capture"
	"github.com/wirestate/wirestate/internal/pcaptest"
	"github.com/wirestate/wirestate/report"
	"github.com/wirestate/wirestate/tracker"
)

func TestDropLogMarkUncertain(t *testing.T) {
	const s = int64(1e9)
	for _, tc := range []struct {
		name      string
		drops     [][3]int64 // from, to, n
		f         tracker.Finding
		now       int64
		uncertain bool
		n         string // the count named in the note
	}{
		{"no drops", nil, tracker.Finding{Time: 10 * s}, 20 * s, false, ""},
		{"drop before the evidence", [][3]int64{{1 * s, 2 * s, 5}}, tracker.Finding{Time: 10 * s}, 20 * s, false, ""},
		{"drop inside the evidence", [][3]int64{{11 * s, 12 * s, 5}},
			tracker.Finding{Time: 10 * s, Evidence: []tracker.Evidence{{Time: 10 * s}, {Time: 13 * s}}}, 14 * s, true, "dropped 5 packets"},
		{"drop after the evidence, before the decision", [][3]int64{{15 * s, 16 * s, 2}},
			tracker.Finding{Time: 10 * s, Evidence: []tracker.Evidence{{Time: 10 * s}}}, 20 * s, true, "dropped 2 packets"},
		{"drop after the decision", [][3]int64{{25 * s, 26 * s, 2}}, tracker.Finding{Time: 10 * s}, 20 * s, false, ""},
		{"two intervals summed", [][3]int64{{11 * s, 12 * s, 1}, {13 * s, 14 * s, 3}, {30 * s, 31 * s, 7}},
			tracker.Finding{Time: 10 * s}, 20 * s, true, "dropped 4 packets"},
		{"aggregate span", [][3]int64{{5 * s, 6 * s, 1}}, tracker.Finding{Time: 10 * s, First: 4 * s, Last: 10 * s}, 10 * s, true, "dropped 1 packets"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &dropLog{}
			for _, iv := range tc.drops {
				d.add(iv[0], iv[1], uint64(iv[2]))
			}
			f := tc.f
			f.Summary = "base"
			got := d.markUncertain(&f, tc.now)
			if got != tc.uncertain || f.Uncertain != tc.uncertain {
				t.Fatalf("markUncertain = %v (Uncertain %v), want %v", got, f.Uncertain, tc.uncertain)
			}
			if tc.uncertain && !strings.Contains(f.Summary, tc.n) {
				t.Errorf("summary %q lacks %q", f.Summary, tc.n)
			}
			if !tc.uncertain && f.Summary != "base" {
				t.Errorf("summary changed: %q", f.Summary)
			}
		})
	}
}

func TestDropLogBounded(t *testing.T) {
	d := &dropLog{}
	for i := int64(0); i < 3*maxDropIntervals; i++ {
		d.add(i*10, i*10+1, 1)
	}
	if len(d.intervals) > maxDropIntervals || d.total != 3*maxDropIntervals {
		t.Fatalf("%d intervals (max %d), total %d", len(d.intervals), maxDropIntervals, d.total)
	}
	if n, _, _ := d.overlap(0, 1<<62); n != d.total {
		t.Errorf("overlap over everything = %d, want %d", n, d.total)
	}
}

// sinkFinding makes a per-connection finding of kind k at time ts (s).
func sinkFinding(k tracker.AnomalyKind, sev tracker.Severity, ts int64, port uint16) tracker.Finding {
	return tracker.Finding{Kind: k, Severity: sev, Time: ts * 1e9, UID: tracker.UID(1000 + uint64(port)),
		Orig:     tracker.Endpoint{Addr: tracker.AddrFromSlice([]byte{10, 0, 0, 1}), Port: port},
		Resp:     tracker.Endpoint{Addr: tracker.AddrFromSlice([]byte{10, 0, 0, 2}), Port: 80},
		Summary:  "what happened",
		Evidence: []tracker.Evidence{{Time: ts * 1e9, Frame: 1, What: "SYN"}}}
}

func TestLiveSinkStreams(t *testing.T) {
	for _, format := range []string{"json", "text"} {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			st, err := report.NewStream(format, &buf, report.StreamOptions{Live: true})
			if err != nil {
				t.Fatal(err)
			}
			s := newLiveSink([]Output{{Stream: st}}, 3)
			s.now = func() int64 { return 100e9 }
			s.drops.add(50e9, 60e9, 9)
			// Concurrent shards.
			var wg sync.WaitGroup
			for sh := 0; sh < 4; sh++ {
				wg.Add(1)
				go func(sh int) {
					defer wg.Done()
					for i := 0; i < 5; i++ {
						kind := tracker.AnomConnectionRefused
						if i == 0 {
							kind = tracker.AnomSYNUnanswered
						}
						f := sinkFinding(kind, tracker.SevWarning, 55, uint16(sh*10+i))
						s.Finding(sh, &f)
					}
				}(sh)
			}
			wg.Wait()
			if buf.Len() != 0 {
				t.Errorf("%d bytes written before the tick, want them buffered", buf.Len())
			}
			s.tick(time.Now())
			lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
			if len(lines) != 20 {
				t.Fatalf("%d lines streamed, want 20:\n%s", len(lines), buf.String())
			}
			uncertain := 0
			for _, l := range lines {
				if format == "json" {
					var rec struct {
						Type, Kind string
						Uncertain  bool
					}
					if err := json.Unmarshal([]byte(l), &rec); err != nil || rec.Type != "anomaly" {
						t.Fatalf("bad record %q: %v", l, err)
					}
					if rec.Uncertain {
						uncertain++
						if rec.Kind != "syn-unanswered" {
							t.Errorf("%s marked uncertain: it does not rest on an absence", rec.Kind)
						}
					}
				} else if strings.Contains(l, "[uncertain]") {
					uncertain++
				}
			}
			if uncertain != 4 {
				t.Errorf("%d findings uncertain, want the 4 syn-unanswered", uncertain)
			}
			if len(s.findings) != 3 || s.droppedFindings != 17 {
				t.Errorf("kept %d findings, dropped %d; want 3 and 17", len(s.findings), s.droppedFindings)
			}
			if s.byKind["connection-refused"] != 16 || s.byKind["syn-unanswered"] != 4 {
				t.Errorf("counts %v", s.byKind)
			}
		})
	}
}

func TestLiveSinkRecordBound(t *testing.T) {
	st, _ := report.NewStream("json", io.Discard, report.StreamOptions{Live: true})
	s := newLiveSink([]Output{{Stream: st}}, 2)
	for i, tc := range []struct {
		anomalous bool
		reason    tracker.EndReason
	}{
		{false, tracker.EndClosed}, {false, tracker.EndClosed}, // fill the bound
		{false, tracker.EndEvicted},                        // dropped from the report
		{true, tracker.EndIdle}, {true, tracker.EndClosed}, // kept past the bound
		{true, tracker.EndClosed}, // past both bounds
	} {
		r := tracker.Record{Reason: tc.reason}
		r.Conn.UID = tracker.UID(i + 1)
		if tc.anomalous {
			r.Conn.Mark(tracker.AnomHalfOpen)
		}
		s.Conn(0, &r)
	}
	if s.records.Len() != 4 || s.droppedRecords != 2 {
		t.Errorf("kept %d records, dropped %d; want 4 and 2", s.records.Len(), s.droppedRecords)
	}
	if conns, evicted, idle, _ := s.counts(); conns != 6 || evicted != 1 || idle != 1 {
		t.Errorf("counts: %d conns, %d evicted, %d idle; want 6, 1, 1", conns, evicted, idle)
	}
}

func TestEvidenceKeeper(t *testing.T) {
	name := filepath.Join(t.TempDir(), "ev.pcap")
	w, err := capture.CreatePcap(name, capture.LinkEthernet, 256, 0)
	if err != nil {
		t.Fatal(err)
	}
	k := newEvidenceKeeper(w, 3, 256)
	a := tracker.Endpoint{Addr: tracker.AddrFromSlice([]byte{10, 0, 0, 1}), Port: 1000}
	b := tracker.Endpoint{Addr: tracker.AddrFromSlice([]byte{10, 0, 0, 2}), Port: 80}
	c := tracker.Endpoint{Addr: tracker.AddrFromSlice([]byte{10, 0, 0, 3}), Port: 2000}
	pkt := func(src, dst tracker.Endpoint, ts int64) {
		seg := tracker.Segment{Src: src, Dst: dst, Time: ts}
		k.add(&seg, []byte{byte(ts)}, 60)
	}
	for ts := int64(1); ts <= 5; ts++ { // a<->b: 5 packets, the ring keeps 3 to 5
		if ts%2 == 0 {
			pkt(b, a, ts)
		} else {
			pkt(a, b, ts)
		}
	}
	pkt(c, b, 6) // another connection, never named
	ab, _ := tracker.MakeFlowKey(a, b)
	cb, _ := tracker.MakeFlowKey(c, b)
	k.q.dump(ab)
	pkt(a, b, 7) // follows the dump: written directly
	k.q.release(ab)
	k.q.release(cb)
	k.apply()
	pkt(a, b, 8) // a new ring after the release: not written
	if len(k.rings) != 1 {
		t.Errorf("%d rings held, want 1", len(k.rings))
	}
	if err := k.close(); err != nil {
		t.Fatal(err)
	}
	_, _, pkts := pcaptest.Read(t, name)
	var times []int64
	for _, p := range pkts {
		times = append(times, int64(p.Data[0]))
	}
	if want := []int64{3, 4, 5, 7}; !equalInts(times, want) {
		t.Errorf("evidence packets %v, want %v", times, want)
	}
}

func equalInts(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestMetrics(t *testing.T) {
	ctrs := &liveCounters{}
	ctrs.packets.Store(7)
	ctrs.dropped.Store(2)
	m := newLiveMetrics(ctrs, []report.DropCounter{droppy(5), droppy(2)})
	f := sinkFinding(tracker.AnomConnectionRefused, tracker.SevWarning, 1, 1)
	m.finding(&f)
	m.record(tracker.EndEvicted)
	c := &census{conns: 3}
	c.bySide[tracker.Orig][tracker.Established] = 3
	m.census(c)
	conv := tt.Handshake().Add("A", "P.", 1001, 5001, 10, 1000).Add("B", "P.", 5001, 1011, 20, 3e6)
	r := tt.Run(conv.Segs, tracker.Config{Inline: true}).Sorted()[0]
	for port := uint16(1); port <= maxPortLabels+3; port++ {
		r.Conn.Resp.Port = port
		m.latency(&r)
	}
	addr, err := m.serve("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer m.shutdown()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		"wirestate_packets_total 7",
		"wirestate_capture_dropped_packets_total 2",
		`wirestate_connections{side="orig",state="ESTABLISHED"} 3`,
		`wirestate_findings_total{kind="connection-refused",severity="warning"} 1`,
		"wirestate_tracker_connections 3",
		"wirestate_tracker_evictions_total 1",
		"wirestate_tracker_memory_bytes",
		"wirestate_kafka_dropped_records_total 7",
		`wirestate_handshake_rtt_seconds_count{port="1"} 1`,
		`wirestate_handshake_rtt_seconds_count{port="32"} 1`,
		`wirestate_handshake_rtt_seconds_count{port="other"} 3`,
		`wirestate_app_response_seconds_bucket{port="7",le="0.0032"} 1`,
		`wirestate_app_response_seconds_bucket{port="7",le="0.0016"} 0`,
		"go_goroutines",
	} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// Prometheus naming rules, as promtool check metrics applies them.
	mfs, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "wirestate_") {
			t.Errorf("lint: %s: %s", p.Metric, p.Text)
		}
	}
	if _, err := newLiveMetrics(ctrs, nil).serve("256.0.0.1:1"); err == nil || !strings.HasPrefix(err.Error(), "--metrics-addr") {
		t.Errorf("bad address: %v, want an error naming --metrics-addr", err)
	}
}

// droppy is a report.DropCounter that dropped a fixed count.
type droppy uint64

func (d droppy) Dropped() uint64 { return uint64(d) }

// recordStream is a stream that keeps the records handed to it live and
// counts drops.
type recordStream struct {
	report.Stream
	uids    []tracker.UID
	dropped uint64
}

func (s *recordStream) Record(r *tracker.Record) error {
	s.uids = append(s.uids, r.Conn.UID)
	return nil
}

func (s *recordStream) Dropped() uint64 { return s.dropped }

// TestLiveSinkRecords: live, every output gets each connection record as
// the connection ends (those of the selection), whatever the final
// report keeps; status records and summaries count the outputs' drops.
func TestLiveSinkRecords(t *testing.T) {
	var buf bytes.Buffer
	js, _ := report.NewStream("json", &buf, report.StreamOptions{Live: true, Sensor: "s1"})
	rs := &recordStream{Stream: js, dropped: 3}
	s := newLiveSink([]Output{{Stream: js}, {Stream: rs}}, 1)
	s.matchRecord = func(r *tracker.Record) bool { return r.Conn.Resp.Port == 80 }
	for i, port := range []uint16{80, 443, 80, 80} {
		var r tracker.Record
		r.Conn.UID = tracker.UID(i + 1)
		r.Conn.Resp.Port = port
		s.Conn(0, &r)
	}
	if want := []tracker.UID{1, 3, 4}; !slices.Equal(rs.uids, want) {
		t.Errorf("records streamed: %v, want %v", rs.uids, want)
	}
	s.tick(time.Time{})
	if n := strings.Count(buf.String(), `{"type":"conn"`); n != 3 {
		t.Errorf("the json stream wrote %d records as they ended, want the 3 selected: %q", n, buf.String())
	}
	if s.droppedRecords != 3 || s.err != nil {
		t.Errorf("kept-records bound: %d left out (want 3), err %v", s.droppedRecords, s.err)
	}
	s.stats(&report.Stats{Type: "stats", KafkaDropped: dropped(s.outs)})
	if !strings.Contains(buf.String(), `{"type":"stats","sensor":"s1",`) || !strings.Contains(buf.String(), `"kafka_dropped":3`) {
		t.Errorf("stats record: %s", buf.String())
	}
	buf.Reset()
	if err := writeOutputs(s.outs, &report.Result{}, false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"dropped":0,"kafka_dropped":3,`) {
		t.Errorf("summary record: %s", buf.String())
	}
}
