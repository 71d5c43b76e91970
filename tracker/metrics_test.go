package tracker_test

import (
	"testing"

	. "github.com/wirestate/wirestate/tracker"
	tt "github.com/wirestate/wirestate/tracker/trackertest"
)

// one runs a conversation and returns its only record.
func one(t *testing.T, c *tt.Convo) *Record {
	t.Helper()
	recs := tt.Run(c.Segs, Config{}).Recs
	if len(recs) != 1 {
		t.Fatalf("%d records, want 1", len(recs))
	}
	return &recs[0]
}

func us(ns int64, ok bool) int64 {
	if !ok {
		return -1
	}
	return ns / 1000
}

// TestMetrics checks each metric on scripted conversations (times in µs;
// -1 for absent).
func TestMetrics(t *testing.T) {
	const ms = int64(1e6)
	for _, tc := range []struct {
		name  string
		convo func() *tt.Convo
		check func(t *testing.T, r *Record)
	}{
		{"handshake and a request-response", func() *tt.Convo {
			return tt.New().Add("A", "S", 1000, 0, 0, 0).Add("B", "S.", 5000, 1001, 0, 2*ms).Add("A", ".", 1001, 5001, 0, 3*ms).
				Add("A", "P.", 1001, 5001, 100, ms).    // request
				Add("B", ".", 5001, 1101, 0, 4*ms).     // its ACK: 4 ms
				Add("B", "P.", 5001, 1101, 200, 10*ms). // answer 14 ms after the request
				Add("A", ".", 1101, 5201, 0, 5*ms).     // its ACK: 5 ms
				Add("A", "F.", 1101, 5201, 0, ms).      // the client closes
				Add("B", "F.", 5201, 1102, 0, 6*ms).    // FIN-ACK: 6 ms for the client's FIN
				Add("A", ".", 1102, 5202, 0, 7*ms)      // 7 ms for the server's FIN
		}, func(t *testing.T, r *Record) {
			m := r.MetricsOrZero()
			if got := us(m.HandshakeRTT()); got != 5000 {
				t.Errorf("handshake_rtt %dµs, want 5000", got)
			}
			if got := us(m.HandshakeRTTResp()); got != 2000 {
				t.Errorf("handshake_rtt_resp %dµs, want 2000", got)
			}
			if got := us(m.HandshakeRTTOrig()); got != 3000 {
				t.Errorf("handshake_rtt_orig %dµs, want 3000", got)
			}
			// To the server: SYN 2 ms, request 4 ms, FIN 6 ms.
			if s := m.RTT[Orig]; s.N != 3 || s.Min != 2000 || s.Max != 6000 || s.Sum != 12000 {
				t.Errorf("rtt_to_resp %+v, want 3 samples 2-6 ms", s)
			}
			// To the client: SYN-ACK 3 ms, answer 5 ms, FIN 7 ms.
			if s := m.RTT[Resp]; s.N != 3 || s.Min != 3000 || s.Max != 7000 {
				t.Errorf("rtt_to_orig %+v, want 3 samples 3-7 ms", s)
			}
			if s := m.App; s.N != 1 || s.Min != 14000 {
				t.Errorf("app_response %+v, want one of 14 ms", s)
			}
			if s, ok := r.Conn.ClosedBy(); !ok || s != Orig {
				t.Errorf("closed_by %v %v, want orig", s, ok)
			}
			if by := r.Conn.ResetBy(); by != "" {
				t.Errorf("reset_by %q, want none", by)
			}
		}},
		{"retransmitted SYN: no handshake RTT (Karn)", func() *tt.Convo {
			return tt.New().Add("A", "S", 1000, 0, 0, 0).Add("A", "S", 1000, 0, 0, 1000*ms).
				Add("B", "S.", 5000, 1001, 0, 2*ms).Add("A", ".", 1001, 5001, 0, 3*ms)
		}, func(t *testing.T, r *Record) {
			if _, ok := r.MetricsOrZero().HandshakeRTT(); ok {
				t.Errorf("handshake_rtt set after a retransmitted SYN")
			}
		}},
		{"retransmitted data is not sampled (Karn)", func() *tt.Convo {
			return tt.Handshake().Add("A", "P.", 1001, 5001, 100, ms).
				Add("A", "P.", 1001, 5001, 100, 200*ms). // RTO
				Add("B", ".", 5001, 1101, 0, 4*ms)
		}, func(t *testing.T, r *Record) {
			m := r.MetricsOrZero()
			if s := m.RTT[Orig]; s.N != 1 || s.Max != 1000 {
				t.Errorf("rtt_to_resp %+v, want the SYN's sample alone", s)
			}
			if l := m.Loss[Orig]; l.RetransSegs != 1 || l.RetransBytes != 100 || l.LostBeyond != 1 || l.Spurious != 0 {
				t.Errorf("orig loss %+v, want one retransmission lost beyond the capture", l)
			}
		}},
		{"spurious retransmission of acknowledged data", func() *tt.Convo {
			return tt.Handshake().Add("A", "P.", 1001, 5001, 100, ms).Add("B", ".", 5001, 1101, 0, ms).
				Add("A", "P.", 1001, 5001, 100, 200*ms)
		}, func(t *testing.T, r *Record) {
			if l := r.MetricsOrZero().Loss[Orig]; l.RetransSegs != 1 || l.Spurious != 1 || l.LostBeyond != 0 {
				t.Errorf("orig loss %+v, want one spurious retransmission", l)
			}
		}},
		{"data lost before the capture point, retransmitted", func() *tt.Convo {
			return tt.Handshake().Add("A", "P.", 1101, 5001, 100, ms). // 1001-1101 never seen
											Add("B", ".", 5001, 1001, 0, ms).        // dup ACK
											Add("A", "P.", 1001, 5001, 100, 200*ms). // the retransmission fills the hole
											Add("B", ".", 5001, 1201, 0, ms)
		}, func(t *testing.T, r *Record) {
			m := r.MetricsOrZero()
			if l := m.Loss[Orig]; l.LostBefore != 1 || l.LostBeyond != 0 || l.MissedBytes != 0 || l.AcksForUnseen != 0 {
				t.Errorf("orig loss %+v, want one lost before the capture, no capture loss", l)
			}
			if r.Conn.Flags&ConnCaptureLoss != 0 {
				t.Error("capture loss marked")
			}
		}},
		{"reordered segment: out of order, not lost", func() *tt.Convo {
			return tt.Handshake().Add("A", "P.", 1101, 5001, 100, ms).Add("A", "P.", 1001, 5001, 100, 100_000)
		}, func(t *testing.T, r *Record) {
			if l := r.MetricsOrZero().Loss[Orig]; l.OutOfOrder != 1 || l.RetransSegs != 0 {
				t.Errorf("orig loss %+v, want one out-of-order segment", l)
			}
		}},
		{"capture loss: acknowledged but never seen", func() *tt.Convo {
			return tt.Handshake().Add("A", "P.", 1001, 5001, 100, ms).
				Add("A", "P.", 1201, 5001, 100, ms). // 1101-1201 not captured
				Add("B", ".", 5001, 1301, 0, ms).
				Add("A", "P.", 1301, 5001, 50, ms).
				Add("B", ".", 5001, 1451, 0, ms) // 1351-1451 not captured either
		}, func(t *testing.T, r *Record) {
			m := r.MetricsOrZero()
			if acks, missed := m.CaptureLoss(); acks != 2 || missed != 200 {
				t.Errorf("capture loss %d ACKs %d bytes, want 2 and 200", acks, missed)
			}
			if r.Conn.Flags&ConnCaptureLoss == 0 {
				t.Error("capture loss not marked on the connection")
			}
		}},
		{"zero window for 30 ms, window full", func() *tt.Convo {
			c := tt.New().Add("A", "S", 1000, 0, 0, 0).Add("B", "S.", 5000, 1001, 0, ms).Add("A", ".", 1001, 5001, 0, ms).
				Add("A", "P.", 1001, 5001, 1000, ms) // fills B's 1000-byte window
			c.Add("B", ".", 5001, 2001, 0, ms)
			c.Segs[len(c.Segs)-1].Window = 0
			c.Add("B", ".", 5001, 2001, 0, 30*ms) // window update
			return c
		}, func(t *testing.T, r *Record) {
			m := r.MetricsOrZero()
			if zw, ok := m.ZeroWindow(Resp); !ok || zw != 30*ms {
				t.Errorf("resp zero window %d %v, want 30 ms", zw, ok)
			}
			if _, ok := m.ZeroWindow(Orig); ok {
				t.Error("orig zero window set")
			}
			if n := m.Loss[Orig].WindowFull; n != 1 {
				t.Errorf("orig window full %d, want 1", n)
			}
		}},
		{"zero window to the end", func() *tt.Convo {
			c := tt.Handshake().Add("A", "P.", 1001, 5001, 10, ms).Add("B", ".", 5001, 1011, 0, ms)
			c.Segs[len(c.Segs)-1].Window = 0
			return c.Add("A", ".", 1010, 5001, 0, 50*ms) // a probe
		}, func(t *testing.T, r *Record) {
			if zw, ok := r.MetricsOrZero().ZeroWindow(Resp); !ok || zw != 50*ms {
				t.Errorf("resp zero window %d %v, want 50 ms (to the last packet)", zw, ok)
			}
		}},
		{"refused: reset by the responder, no block", func() *tt.Convo {
			return tt.New().Add("A", "S", 1000, 0, 0, 0).Add("B", "R.", 0, 1001, 0, ms)
		}, func(t *testing.T, r *Record) {
			if r.MetricsOrZero().On() {
				t.Error("a refused SYN got a metrics block")
			}
			if s, ok := r.Conn.ClosedBy(); !ok || s != Resp {
				t.Errorf("closed_by %v %v, want resp", s, ok)
			}
			if by := r.Conn.ResetBy(); by != "resp" {
				t.Errorf("reset_by %q, want resp", by)
			}
		}},
		{"RST after the client's FIN: closed by orig, reset by resp", func() *tt.Convo {
			return tt.Handshake().Add("A", "F.", 1001, 5001, 0, ms).Add("B", "R.", 5001, 1002, 0, ms)
		}, func(t *testing.T, r *Record) {
			if s, ok := r.Conn.ClosedBy(); !ok || s != Orig {
				t.Errorf("closed_by %v %v, want orig", s, ok)
			}
			if by := r.Conn.ResetBy(); by != "resp" {
				t.Errorf("reset_by %q, want resp", by)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.check(t, one(t, tc.convo())) })
	}
}

// TestResetByMiddlebox checks the hook the middlebox-reset detector sets.
func TestResetByMiddlebox(t *testing.T) {
	var c Conn
	if by := c.ResetBy(); by != "" {
		t.Fatalf("reset_by %q without a RST", by)
	}
	c.Flags |= ConnMiddleboxReset
	if by := c.ResetBy(); by != "middlebox" {
		t.Fatalf("reset_by %q, want middlebox", by)
	}
}

// TestSYNOnlyConnsStaySmall checks that a connection that never completes
// its handshake (a SYN flood's) gets no metrics block.
func TestSYNOnlyConnsStaySmall(t *testing.T) {
	c := tt.New().Add("A", "S", 1000, 0, 0, 0).Add("B", "S.", 5000, 1001, 0, 1e6).Add("B", "S.", 5000, 1001, 0, 1e9)
	if r := one(t, c); r.MetricsOrZero().On() {
		t.Fatal("a half-open handshake got a metrics block")
	}
}

// TestNoAllocationsForMeasuredExchanges fails if request/response turns,
// with their RTT samples, allocate once the tracker is warm; and if a
// connection's block, once freed, is not reused.
func TestNoAllocationsForMeasuredExchanges(t *testing.T) {
	col := &tt.Collector{}
	tr := New(Config{Inline: true, Sink: col})
	c := tt.Handshake()
	for i := range c.Segs {
		tr.Feed(&c.Segs[i])
	}
	req, ack, resp, ack2 := c.Segs[2], c.Segs[1], c.Segs[1], c.Segs[2]
	req.Flags, req.PayloadLen = FlagACK|FlagPSH, 100
	ack.Flags = FlagACK
	resp.Flags, resp.PayloadLen = FlagACK|FlagPSH, 300
	ack2.Flags = FlagACK
	allocs := testing.AllocsPerRun(10000, func() {
		for _, s := range []*Segment{&req, &ack, &resp, &ack2} {
			s.Time += 1000
			s.Frame += 4
		}
		ack.Ack = req.Seq.Add(100)
		ack2.Ack = resp.Seq.Add(300)
		tr.Feed(&req)
		tr.Feed(&ack)
		tr.Feed(&resp)
		tr.Feed(&ack2)
		req.Seq, ack2.Seq = req.Seq.Add(100), ack2.Seq.Add(100)
		resp.Seq, ack.Seq = resp.Seq.Add(300), ack.Seq.Add(300)
		resp.Ack, req.Ack, ack.Ack, ack2.Ack = req.Seq, resp.Seq, req.Seq, resp.Seq
	})
	tr.Close()
	if allocs != 0 {
		t.Fatalf("%v allocations per request/response turn, want 0", allocs)
	}
	// The turns were measured: each gave two RTT samples and a response.
	if m := col.Recs[0].MetricsOrZero(); m.RTT[Orig].N < 10000 || m.RTT[Resp].N < 10000 || m.App.N < 10000 {
		t.Fatalf("rtt samples %d/%d, app %d: the turns were not measured", m.RTT[Orig].N, m.RTT[Resp].N, m.App.N)
	}
}

// TestSkipMetricsKeepsCaptureLoss checks Config.SkipMetrics: capture loss
// and the handshake are still measured (and marked), data round trips are
// not, except on recorded connections.
func TestSkipMetricsKeepsCaptureLoss(t *testing.T) {
	c := tt.Handshake().Add("A", "P.", 1001, 5001, 100, 1e6).
		Add("A", "P.", 1201, 5001, 100, 1e6). // 1101-1201 not captured
		Add("B", ".", 5001, 1301, 0, 1e6)
	for _, record := range []bool{false, true} {
		cfg := Config{SkipMetrics: true}
		if record {
			cfg.Record = func(UID) bool { return true }
		}
		recs := tt.Run(c.Segs, cfg).Recs
		if len(recs) != 1 {
			t.Fatalf("%d records", len(recs))
		}
		m := recs[0].MetricsOrZero()
		if acks, missed := m.CaptureLoss(); acks != 1 || missed != 100 || recs[0].Conn.Flags&ConnCaptureLoss == 0 {
			t.Errorf("recorded %v: capture loss %d ACKs %d bytes, want 1 and 100, marked", record, acks, missed)
		}
		if ns, ok := m.HandshakeRTT(); !ok || ns != 2e6 {
			t.Errorf("recorded %v: handshake RTT %d %v, want 2 ms", record, ns, ok)
		}
		if n := m.RTT[Orig].N; (n > 0) != record {
			t.Errorf("recorded %v: %d data RTT samples", record, n)
		}
	}
}
