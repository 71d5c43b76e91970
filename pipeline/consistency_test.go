package pipeline

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wirestate/wirestate/report"
	"github.com/wirestate/wirestate/tracker"
	"github.com/wirestate/wirestate/tracker/detect"
)

// analyzeAt runs a capture through the pipeline as the command does for
// --timeline all, with --at at when it is not empty.
func analyzeAt(t *testing.T, path, at string) *report.Result {
	t.Helper()
	cfg := &Config{Files: []string{path}, MSL: 30 * time.Second, IdleTimeout: time.Hour, MaxConns: 1 << 20,
		Shards: 1, Detect: detect.Defaults(), Timelines: TimelinesAll, At: at}
	res, err := Analyze(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// stateClaims is what the findings of one capture say about endpoints'
// states, and what the endpoints' own packets allow.
type stateClaims struct {
	recs map[tracker.UID]*tracker.Record
	// held: the listener of an accept-queue-overflow-drop holds
	// SYN_RECEIVED from the retransmitted SYN-ACK (inclusive) until its
	// first segment without SYN (exclusive), in packet time.
	held map[tracker.UID][2]int64
	// neverEstab: connections whose originator a synack-unanswered or
	// syn-flood finding says never completed the handshake.
	neverEstab map[tracker.UID]bool
}

func claimsOf(t *testing.T, res *report.Result) *stateClaims {
	t.Helper()
	c := &stateClaims{recs: map[tracker.UID]*tracker.Record{}, held: map[tracker.UID][2]int64{}, neverEstab: map[tracker.UID]bool{}}
	for i := range res.Records {
		c.recs[res.Records[i].Conn.UID] = &res.Records[i]
	}
	for _, f := range res.Findings {
		switch f.Kind {
		case tracker.AnomAcceptQueueOverflowDrop:
			r := c.recs[f.UID]
			if r == nil {
				t.Fatalf("finding on unknown connection %v", f.UID)
			}
			from, until := int64(-1), int64(1<<62)
			for _, e := range r.Timeline {
				switch {
				case from < 0 && e.From == tracker.Resp && e.Kind&tracker.KindSYNACKRetransmission != 0:
					from = e.Time
				case from >= 0 && e.From == tracker.Resp && e.Flags&tracker.FlagSYN == 0:
					until = e.Time
				}
				if until != 1<<62 {
					break
				}
			}
			if from < 0 {
				t.Fatalf("%v: accept-queue-overflow-drop without a retransmitted SYN-ACK in its timeline", f.UID)
			}
			c.held[f.UID] = [2]int64{from, until}
		case tracker.AnomSYNACKUnanswered, tracker.AnomSYNFlood:
			if f.UID != 0 {
				c.neverEstab[f.UID] = true
			}
			for _, u := range f.UIDs {
				c.neverEstab[u] = true
			}
		}
	}
	return c
}

// synOnlyUntil returns, for each side of r, the time until which the side
// had sent nothing but SYNs (without ACK), its first segment being one;
// -1 if its first segment was no SYN or the connection was picked up
// mid-stream, and 1<<62 if it never sent anything else.
func synOnlyUntil(r *tracker.Record) [2]int64 {
	until := [2]int64{-1, -1}
	if r.Conn.Partial() {
		return until // picked up mid-stream: both start ESTABLISHED
	}
	started := [2]bool{}
	for _, e := range r.Timeline {
		s := e.From
		pureSYN := e.Flags&(tracker.FlagSYN|tracker.FlagACK|tracker.FlagRST) == tracker.FlagSYN
		if !started[s] {
			started[s] = true
			if pureSYN {
				until[s] = 1 << 62
			}
			continue
		}
		if until[s] == 1<<62 && !pureSYN {
			until[s] = e.Time
		}
	}
	return until
}

// TestStatesAgreeWithFindings checks, on every capture in pcaps/, that no
// state view shows an endpoint in a state a finding on the same connection
// contradicts, and that no endpoint that sent nothing after its SYN is
// shown ESTABLISHED: in the records' transitions and per-packet states,
// the final states, the --at snapshot, the JSON hosts and the HTML states
// chart.
func TestStatesAgreeWithFindings(t *testing.T) {
	caps, err := filepath.Glob("../pcaps/*.pcap")
	if err != nil || len(caps) == 0 {
		t.Fatalf("no captures: %v", err)
	}
	sawHeld, sawNever, ran := false, false, 0
	for _, path := range caps {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".pcap"), func(t *testing.T) {
			ran++
			res := analyzeAt(t, path, "")
			cl := claimsOf(t, res)
			sawHeld = sawHeld || len(cl.held) > 0
			sawNever = sawNever || len(cl.neverEstab) > 0
			// Snapshot times: inside every held window, and a few points
			// across the capture.
			var ats []int64
			for _, w := range cl.held {
				ats = append(ats, w[0]+(min(w[1], res.Input.Last)-w[0])/2)
			}
			for k := int64(1); k <= 3; k++ {
				ats = append(ats, res.Input.First+(res.Input.Last-res.Input.First)*k/4)
			}
			// Endpoints that sent nothing after their SYN, and flood
			// sources, must not be ESTABLISHED; nor a listener holding
			// SYN_RECEIVED for a dropped ACK.
			bad := func(uid tracker.UID, s tracker.Side, at int64, st tracker.State) string {
				if st != tracker.Established {
					return ""
				}
				r := cl.recs[uid]
				if r == nil {
					return ""
				}
				if at < synOnlyUntil(r)[s] {
					return "sent nothing after its SYN"
				}
				if s == tracker.Orig && cl.neverEstab[uid] {
					return "synack-unanswered/syn-flood source"
				}
				if w, ok := cl.held[uid]; ok && s == tracker.Resp && at >= w[0] && at < w[1] {
					return "accept-queue-overflow-drop: the listener holds SYN_RECEIVED"
				}
				return ""
			}
			for uid, r := range cl.recs {
				for _, e := range r.Timeline {
					for s := tracker.Orig; s <= tracker.Resp; s++ {
						if why := bad(uid, s, e.Time, e.States[s]); why != "" {
							t.Errorf("%v frame %d: %v shown ESTABLISHED (%s)", uid, e.Frame, s, why)
						}
					}
				}
				for _, tr := range r.Transitions {
					if why := bad(uid, tr.Side, tr.Time, tr.To); why != "" {
						t.Errorf("%v frame %d: %v moves to ESTABLISHED (%s)", uid, tr.Frame, tr.Side, why)
					}
				}
				for s := tracker.Orig; s <= tracker.Resp; s++ {
					if why := bad(uid, s, 1<<62-1, r.Conn.Peers[s].State); why != "" {
						t.Errorf("%v: %v ends ESTABLISHED (%s)", uid, s, why)
					}
				}
			}
			for _, at := range ats {
				snap := analyzeAt(t, path, fmt.Sprintf("%d.%09d", at/1e9, at%1e9))
				for _, cs := range snap.Snapshot {
					for s := tracker.Orig; s <= tracker.Resp; s++ {
						if why := bad(cs.UID, s, at, cs.States[s]); why != "" {
							t.Errorf("--at %d: %v %v shown ESTABLISHED (%s)", at, cs.UID, s, why)
						}
					}
				}
			}
			// Hosts that are only flood sources or endpoints that sent
			// nothing after their SYN have nothing ESTABLISHED in the JSON
			// hosts view nor in the HTML states chart.
			quiet := map[string]bool{}
			for uid, r := range cl.recs {
				syn := synOnlyUntil(r)
				for s := tracker.Orig; s <= tracker.Resp; s++ {
					h := r.Conn.Endpoint(s).Addr.String()
					never := syn[s] == 1<<62 || s == tracker.Orig && cl.neverEstab[uid]
					if v, ok := quiet[h]; ok {
						quiet[h] = v && never
					} else {
						quiet[h] = never
					}
				}
			}
			for _, h := range jsonHosts(t, res) {
				if quiet[h.Host] && h.States["ESTABLISHED"] > 0 {
					t.Errorf("JSON hosts: %s ESTABLISHED %d, but it never established a connection", h.Host, h.States["ESTABLISHED"])
				}
			}
			doc, _ := htmlDocOf(t, res)
			for _, h := range doc.States.Hosts {
				for _, n := range h.Series["ESTABLISHED"] {
					if quiet[h.Host] && n > 0 {
						t.Errorf("HTML states: %s drawn ESTABLISHED, but it never established a connection", h.Host)
						break
					}
				}
			}
		})
	}
	if ran == len(caps) && (!sawHeld || !sawNever) {
		t.Errorf("no capture exercised the findings (accept-queue-overflow-drop %v, syn-flood/synack-unanswered %v)", sawHeld, sawNever)
	}
}

type jsonHost struct {
	Host   string           `json:"host"`
	States map[string]int32 `json:"states"`
}

// jsonHosts returns the hosts of the JSON report's summary line.
func jsonHosts(t *testing.T, res *report.Result) []jsonHost {
	t.Helper()
	var buf bytes.Buffer
	st, err := report.NewStream("json", &buf, report.StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Summary(res); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(io.Reader(&buf))
	sc.Buffer(nil, 1<<26)
	for sc.Scan() {
		var line struct {
			Type  string     `json:"type"`
			Hosts []jsonHost `json:"hosts"`
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Type == "summary" {
			return line.Hosts
		}
	}
	t.Fatal("no summary line in the JSON report")
	return nil
}
