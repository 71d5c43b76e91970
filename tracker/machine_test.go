package tracker_test

import (
	"strings"
	"testing"

	. "github.com/wirestate/wirestate/tracker"
	tt "github.com/wirestate/wirestate/tracker/trackertest"
)

func TestStateMachine(t *testing.T) {
	cases := []struct {
		name       string
		build      func() *tt.Convo
		orig, resp State
		// trans must appear in order within the record's transitions
		// (each "side:STATE", with "?" for inferred, "!" for corrections).
		trans string
		kinds PacketKind // kinds that must appear on some packet
		// forbid lists subsequences of transitions that must not appear
		// (each entry in the form of trans).
		forbid []string
	}{
		{
			name: "client closes first",
			build: func() *tt.Convo {
				return tt.Handshake().Add("A", "P.", 1001, 5001, 100, 1e6).
					Add("B", ".", 5001, 1101, 0, 1e6).
					Add("A", "F.", 1101, 5001, 0, 1e6).
					Add("B", ".", 5001, 1102, 0, 1e6).
					Add("B", "F.", 5001, 1102, 0, 1e6).
					Add("A", ".", 1102, 5002, 0, 1e6)
			},
			orig: TimeWait, resp: Closed,
			trans: "orig:SYN_SENT resp:SYN_RECEIVED orig:ESTABLISHED resp:ESTABLISHED? orig:FIN_WAIT_1 resp:CLOSE_WAIT? orig:FIN_WAIT_2? resp:LAST_ACK orig:TIME_WAIT? resp:CLOSED?",
		},
		{
			name: "server closes first",
			build: func() *tt.Convo {
				return tt.Handshake().Add("B", "F.", 5001, 1001, 0, 1e6).
					Add("A", "F.", 1001, 5002, 0, 1e6).
					Add("B", ".", 5002, 1002, 0, 1e6)
			},
			orig: Closed, resp: TimeWait,
			trans: "resp:FIN_WAIT_1 orig:CLOSE_WAIT? orig:LAST_ACK resp:TIME_WAIT? orig:CLOSED?",
		},
		{
			name: "simultaneous close",
			build: func() *tt.Convo {
				return tt.Handshake().Add("A", "F.", 1001, 5001, 0, 1e6).
					Add("B", "F.", 5001, 1001, 0, 1e3).
					Add("A", ".", 1002, 5002, 0, 1e6).
					Add("B", ".", 5002, 1002, 0, 1e3)
			},
			orig: TimeWait, resp: TimeWait,
			trans: "orig:FIN_WAIT_1 resp:CLOSE_WAIT? resp:ESTABLISHED! resp:FIN_WAIT_1 resp:CLOSING? orig:CLOSING? resp:TIME_WAIT? orig:TIME_WAIT?",
		},
		{
			name: "lost final ack: passive closer retransmits its FIN",
			build: func() *tt.Convo {
				return tt.Handshake().Add("A", "F.", 1001, 5001, 0, 1e6).
					Add("B", "F.", 5001, 1002, 0, 1e6).
					Add("A", ".", 1002, 5002, 0, 1e6).
					Add("B", "F.", 5001, 1002, 0, 200e6).
					Add("A", ".", 1002, 5002, 0, 1e6)
			},
			orig: TimeWait, resp: Closed,
			trans: "resp:LAST_ACK resp:CLOSED? resp:LAST_ACK! resp:CLOSED?",
			kinds: KindFINRetransmission | KindCorrection | KindRetransmission,
		},
		{
			name: "refused",
			build: func() *tt.Convo {
				return tt.New().Add("A", "S", 1000, 0, 0, 1e6).Add("B", "R.", 0, 1001, 0, 1e6)
			},
			orig: Closed, resp: Closed,
			trans: "orig:SYN_SENT orig:CLOSED?",
			kinds: KindRSTInWindow,
		},
		{
			name: "SYN-ACK retransmitted after the handshake ACK (accept queue full, ACK dropped)",
			build: func() *tt.Convo {
				return tt.Handshake().Add("A", "P.", 1001, 5001, 10, 1e6).
					Add("B", "S.", 5000, 1001, 0, 1e9)
			},
			orig: Established, resp: SynReceived,
			trans: "resp:ESTABLISHED? resp:SYN_RECEIVED!",
			kinds: KindSYNACKRetransmission | KindCorrection,
		},
		{
			name: "SYN-ACK not yet answered: the client is not ESTABLISHED before its ACK",
			build: func() *tt.Convo {
				return tt.New().Add("A", "S", 1000, 0, 0, 1e6).Add("B", "S.", 5000, 1001, 0, 1e6)
			},
			orig: SynSent, resp: SynReceived,
			trans:  "orig:SYN_SENT resp:SYN_RECEIVED",
			forbid: []string{"orig:ESTABLISHED?", "orig:ESTABLISHED"},
		},
		{
			name: "SYN-ACK retransmitted unanswered (spoofed SYN): the source is never ESTABLISHED",
			build: func() *tt.Convo {
				return tt.New().Add("A", "S", 1000, 0, 0, 1e6).
					Add("B", "S.", 5000, 1001, 0, 1e6).
					Add("B", "S.", 5000, 1001, 0, 1e9).
					Add("B", "S.", 5000, 1001, 0, 2e9)
			},
			orig: Closed, resp: SynReceived,
			trans:  "orig:SYN_SENT resp:SYN_RECEIVED orig:CLOSED?",
			forbid: []string{"orig:ESTABLISHED?", "orig:ESTABLISHED"},
			kinds:  KindSYNACKRetransmission,
		},
		{
			name: "SYN-ACK lost and retransmitted, then answered: the client's ACK corrects CLOSED?",
			build: func() *tt.Convo {
				return tt.New().Add("A", "S", 1000, 0, 0, 1e6).
					Add("B", "S.", 5000, 1001, 0, 1e6).
					Add("B", "S.", 5000, 1001, 0, 1e9).
					Add("A", ".", 1001, 5001, 0, 1e6)
			},
			orig: Established, resp: Established,
			trans: "orig:SYN_SENT resp:SYN_RECEIVED orig:CLOSED? orig:SYN_SENT! orig:ESTABLISHED resp:ESTABLISHED?",
			kinds: KindSYNACKRetransmission | KindCorrection,
		},
		{
			name: "accept queue full: the ACK answering the retransmitted SYN-ACK is dropped too",
			build: func() *tt.Convo {
				return tt.Handshake().Add("A", "P.", 1001, 5001, 10, 1e6).
					Add("B", "S.", 5000, 1001, 0, 1e9).
					Add("A", ".", 1011, 5001, 0, 1e3).     // the answer to the SYN-ACK
					Add("A", "P.", 1001, 5001, 10, 300e6). // data retransmitted
					Add("A", "F.", 1011, 5001, 0, 1e6)     // and a FIN, dropped as well
			},
			orig: FinWait1, resp: SynReceived,
			trans:  "resp:ESTABLISHED? resp:SYN_RECEIVED!",
			forbid: []string{"resp:SYN_RECEIVED! resp:ESTABLISHED?", "resp:SYN_RECEIVED! resp:CLOSE_WAIT?"},
			kinds:  KindSYNACKRetransmission | KindCorrection,
		},
		{
			name: "accept queue full, then the listener takes the connection: its own ACK proves ESTABLISHED",
			build: func() *tt.Convo {
				return tt.Handshake().Add("A", "P.", 1001, 5001, 10, 1e6).
					Add("B", "S.", 5000, 1001, 0, 1e9).
					Add("A", ".", 1011, 5001, 0, 1e3).
					Add("A", "P.", 1001, 5001, 10, 300e6).
					Add("B", ".", 5001, 1011, 0, 1e3)
			},
			orig: Established, resp: Established,
			trans:  "resp:ESTABLISHED? resp:SYN_RECEIVED! resp:ESTABLISHED",
			forbid: []string{"resp:SYN_RECEIVED! resp:ESTABLISHED?"},
		},
		{
			name: "simultaneous open answered only by the peer: an endpoint that sent nothing after its SYN is not ESTABLISHED",
			build: func() *tt.Convo {
				return tt.New().Add("A", "S", 1000, 0, 0, 1e6).
					Add("B", "S", 5000, 0, 0, 1e3).
					Add("B", ".", 5001, 1001, 0, 1e6)
			},
			orig: SynReceived, resp: Established,
			forbid: []string{"orig:ESTABLISHED?", "orig:ESTABLISHED"},
		},
		{
			name: "unanswered SYN retransmitted",
			build: func() *tt.Convo {
				return tt.New().Add("A", "S", 1000, 0, 0, 1e6).Add("A", "S", 1000, 0, 0, 1e9).Add("A", "S", 1000, 0, 0, 1e9)
			},
			orig: SynSent, resp: Closed,
			trans: "orig:SYN_SENT",
			kinds: KindSYNRetransmission,
		},
		{
			name: "half-close: server keeps sending after the client's FIN",
			build: func() *tt.Convo {
				return tt.Handshake().Add("A", "F.", 1001, 5001, 0, 1e6).
					Add("B", ".", 5001, 1002, 0, 1e6).
					Add("B", "P.", 5001, 1002, 500, 1e6).
					Add("A", ".", 1002, 5501, 0, 1e6).
					Add("B", "F.", 5501, 1002, 0, 1e6).
					Add("A", ".", 1002, 5502, 0, 1e6)
			},
			orig: TimeWait, resp: Closed,
			trans: "orig:FIN_WAIT_1 resp:CLOSE_WAIT? orig:FIN_WAIT_2? resp:LAST_ACK orig:TIME_WAIT? resp:CLOSED?",
		},
		{
			name: "sequence numbers wrap during the connection",
			build: func() *tt.Convo {
				return tt.New().Add("A", "S", 0xffffff00, 0, 0, 1e6).
					Add("B", "S.", 0xfffffff0, 0xffffff01, 0, 1e6).
					Add("A", ".", 0xffffff01, 0xfffffff1, 0, 1e6).
					Add("A", "P.", 0xffffff01, 0xfffffff1, 0x200, 1e6).
					Add("B", "P.", 0xfffffff1, 0x101, 0x100, 1e6).
					Add("A", "F.", 0x101, 0xf1, 0, 1e6).
					Add("B", "F.", 0xf1, 0x102, 0, 1e6).
					Add("A", ".", 0x102, 0xf2, 0, 1e6)
			},
			orig: TimeWait, resp: Closed,
			trans: "orig:FIN_WAIT_1 resp:LAST_ACK orig:TIME_WAIT? resp:CLOSED?",
		},
		{
			name: "RST outside the window is ignored by the receiver",
			build: func() *tt.Convo {
				return tt.Handshake().Add("B", ".", 5001, 1001, 0, 1e6).Add("A", "R", 900000, 0, 0, 1e6)
			},
			orig: Closed, resp: Established,
			kinds: KindRSTOutOfWindow,
		},
		{
			name: "abort with SO_LINGER 0 (RST in window)",
			build: func() *tt.Convo {
				return tt.Handshake().Add("B", ".", 5001, 1001, 0, 1e6).Add("A", "R.", 1001, 5001, 0, 1e6)
			},
			orig: Closed, resp: Closed,
			trans: "orig:CLOSED resp:CLOSED?",
			kinds: KindRSTInWindow,
		},
		{
			name: "keepalive probes and their answers",
			build: func() *tt.Convo {
				return tt.Handshake().Add("B", ".", 5001, 1001, 0, 1e6).
					Add("A", ".", 1000, 5001, 0, 10e9).
					Add("B", ".", 5001, 1001, 0, 1e6)
			},
			orig: Established, resp: Established,
			kinds: KindKeepalive | KindKeepaliveAck,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			recs := tt.RunRecorded(tc.build().Segs, Config{})
			if len(recs) != 1 {
				t.Fatalf("got %d connections, want 1", len(recs))
			}
			r := &recs[0]
			if got := r.Conn.Peers[Orig].State; got != tc.orig {
				t.Errorf("orig state %v, want %v (transitions %s)", got, tc.orig, tt.Transitions(r))
			}
			if got := r.Conn.Peers[Resp].State; got != tc.resp {
				t.Errorf("resp state %v, want %v (transitions %s)", got, tc.resp, tt.Transitions(r))
			}
			if tc.trans != "" && !isSubsequence(strings.Fields(tc.trans), strings.Fields(tt.Transitions(r))) {
				t.Errorf("transitions\n got  %s\n want %s (as a subsequence)", tt.Transitions(r), tc.trans)
			}
			for _, f := range tc.forbid {
				if isSubsequence(strings.Fields(f), strings.Fields(tt.Transitions(r))) {
					t.Errorf("transitions %s contain %q", tt.Transitions(r), f)
				}
			}
			var kinds PacketKind
			for _, e := range r.Timeline {
				kinds |= e.Kind
			}
			if kinds&tc.kinds != tc.kinds {
				t.Errorf("packet kinds %v, want all of %v", kinds.Names(), tc.kinds.Names())
			}
			if r.Conn.Peers[Orig].Pkts+r.Conn.Peers[Resp].Pkts != uint32(len(tc.build().Segs)) {
				t.Errorf("packet counts %d+%d, want %d", r.Conn.Peers[Orig].Pkts, r.Conn.Peers[Resp].Pkts, len(tc.build().Segs))
			}
		})
	}
}

func isSubsequence(want, got []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}

func TestBytesCountEachSequenceNumberOnce(t *testing.T) {
	c := tt.Handshake().Add("A", "P.", 1001, 5001, 100, 1e6).
		Add("A", "P.", 1001, 5001, 100, 1e6). // retransmission
		Add("A", "P.", 1051, 5001, 100, 1e6)  // half old, half new
	recs := tt.RunRecorded(c.Segs, Config{})
	p := recs[0].Conn.Peers[Orig]
	if p.Bytes != 150 {
		t.Errorf("orig bytes %d, want 150", p.Bytes)
	}
	if p.Retrans != 1 {
		t.Errorf("orig retransmissions %d, want 1", p.Retrans)
	}
}

func TestPartialConnectionGuessesOriginator(t *testing.T) {
	cases := []struct {
		name     string
		from     string
		flags    string
		wantOrig Endpoint
	}{
		{"data from the client", "A", "P.", tt.A},
		{"data from the server", "B", "P.", tt.A},
		{"SYN-ACK first", "B", "S.", tt.A},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := tt.New().Add(tc.from, tc.flags, 7000, 9000, 10, 1e6)
			recs := tt.RunRecorded(c.Segs, Config{})
			if len(recs) != 1 {
				t.Fatalf("got %d records", len(recs))
			}
			if !recs[0].Conn.Partial() {
				t.Error("connection not marked partial")
			}
			if recs[0].Conn.Orig != tc.wantOrig {
				t.Errorf("orig %v, want %v", recs[0].Conn.Orig, tc.wantOrig)
			}
		})
	}
}

func TestGuessOriginator(t *testing.T) {
	cases := []struct {
		src, dst uint16
		want     bool
	}{
		{40000, 80, true}, {80, 40000, false}, {40000, 8080, true}, {5432, 51000, false},
		{50000, 20000, true}, {20000, 50000, false}, {20000, 20001, true}, {443, 80, true},
	}
	for _, c := range cases {
		if got := GuessOriginator(c.src, c.dst); got != c.want {
			t.Errorf("GuessOriginator(%d, %d) = %v, want %v", c.src, c.dst, got, c.want)
		}
	}
}

func TestNewIncarnationAndStaleSegment(t *testing.T) {
	c := tt.Handshake().Add("A", "P.", 1001, 5001, 100, 1e6).
		Add("B", "F.", 5001, 1101, 0, 1e6).
		Add("A", "F.", 1101, 5002, 0, 1e6).
		Add("B", ".", 5002, 1102, 0, 1e6).
		// New incarnation 1 s later: new ISNs.
		Add("A", "S", 900000, 0, 0, 1e9).
		Add("B", "S.", 700000, 900001, 0, 1e6).
		Add("A", ".", 900001, 700001, 0, 1e6).
		// A delayed duplicate of the old incarnation's data.
		Add("A", "P.", 1001, 5001, 100, 1e6)
	recs := tt.RunRecorded(c.Segs, Config{})
	if len(recs) != 2 {
		t.Fatalf("got %d connections, want 2", len(recs))
	}
	old, cur := recs[0], recs[1]
	if cur.Conn.PrevUID != old.Conn.UID {
		t.Errorf("new incarnation's prev_uid %v, want %v", cur.Conn.PrevUID, old.Conn.UID)
	}
	var sawNew, sawStale bool
	for _, e := range cur.Timeline {
		sawNew = sawNew || e.Kind&KindNewIncarnation != 0
	}
	for _, e := range old.Timeline {
		sawStale = sawStale || e.Kind&KindPrevIncarnation != 0
	}
	if !sawNew {
		t.Error("no packet of the new incarnation is marked new-incarnation")
	}
	if !sawStale {
		t.Error("the delayed old segment was not attributed to the old incarnation")
	}
	if cur.Conn.Peers[Orig].State != Established || cur.Conn.Peers[Resp].State != Established {
		t.Errorf("new incarnation states %v/%v, want ESTABLISHED both", cur.Conn.Peers[Orig].State, cur.Conn.Peers[Resp].State)
	}
}

func TestTimeWaitExpiresAfter2MSL(t *testing.T) {
	c := tt.Handshake().Add("A", "F.", 1001, 5001, 0, 1e6).
		Add("B", "F.", 5001, 1002, 0, 1e6).
		Add("A", ".", 1002, 5002, 0, 1e6)
	// An unrelated packet 61 s later moves packet time on.
	c.Add("A", "S", 1, 0, 0, 61e9)
	c.Segs[len(c.Segs)-1].Src.Port = 40001
	recs := tt.RunRecorded(c.Segs, Config{MSL: 30e9})
	if len(recs) != 2 {
		t.Fatalf("got %d records, want 2", len(recs))
	}
	r := recs[0]
	if r.Reason != EndClosed {
		t.Errorf("reason %v, want closed", r.Reason)
	}
	if r.Conn.Peers[Orig].State != Closed {
		t.Errorf("orig state %v after 2MSL, want CLOSED", r.Conn.Peers[Orig].State)
	}
	last := r.Transitions[len(r.Transitions)-1]
	if !last.Timer || last.From != TimeWait {
		t.Errorf("last transition %+v, want the TIME_WAIT timer", last)
	}
}

func TestIdleExpiry(t *testing.T) {
	c := tt.Handshake()
	c.Add("A", "S", 1, 0, 0, 11e9)
	c.Segs[len(c.Segs)-1].Src.Port = 40001
	recs := tt.RunRecorded(c.Segs, Config{IdleTimeout: 10e9})
	if len(recs) != 2 || recs[0].Reason != EndIdle {
		t.Fatalf("records %d, first reason %v; want 2 and idle", len(recs), recs[0].Reason)
	}
	if recs[0].Conn.Peers[Orig].State != Established {
		t.Errorf("idle-expired connection reported as %v, want it still ESTABLISHED", recs[0].Conn.Peers[Orig].State)
	}
}

func TestSnapshotAt(t *testing.T) {
	c := tt.Handshake().Add("A", "F.", 1001, 5001, 0, 1e9)
	at := c.Segs[2].Time + 1
	col := &tt.Collector{}
	tr := New(Config{Inline: true, SnapshotAt: at, Sink: col})
	for i := range c.Segs {
		tr.Feed(&c.Segs[i])
	}
	tr.Close()
	snap := tr.Snapshot()
	if len(snap) != 1 {
		t.Fatalf("snapshot has %d connections, want 1", len(snap))
	}
	if snap[0].States[Orig] != Established {
		t.Errorf("orig at snapshot %v, want ESTABLISHED (the FIN came later)", snap[0].States[Orig])
	}
}
