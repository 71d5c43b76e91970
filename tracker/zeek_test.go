package tracker_test

import (
	"strings"
	"testing"
	"unsafe"

	. "github.com/wirestate/wirestate/tracker"
	"github.com/wirestate/wirestate/tracker/seqnum"
	tt "github.com/wirestate/wirestate/tracker/trackertest"
)

// zeekRow is what a record shows of Zeek's view: the originator (A or B),
// conn_state and history.
type zeekRow struct {
	orig, state, history string
}

func zeekRowOf(r *Record) zeekRow {
	c := &r.Conn
	orig := "A"
	if c.Endpoint(c.ZeekOrig()) == tt.B {
		orig = "B"
	}
	return zeekRow{orig: orig, state: c.ZeekState(), history: c.Hist.String()}
}

func zeekRowsString(rows []zeekRow) string {
	var b []string
	for _, r := range rows {
		b = append(b, r.orig+" "+r.state+" "+r.history)
	}
	return strings.Join(b, " | ")
}

// bare is Zeek's bare mode: no likely server port.
var bare = &ZeekConfig{LikelyServerPorts: &PortSet{}}

func TestZeekHistoryAndConnState(t *testing.T) {
	cases := []struct {
		name  string
		build func() *tt.Convo
		// zeek, when set, turns on Zeek mode with this configuration;
		// otherwise the tracker's own lifetime and a full Zeek's
		// likely server ports apply.
		zeek *ZeekConfig
		want []zeekRow
	}{
		{
			name: "normal close",
			build: func() *tt.Convo {
				return tt.Handshake().Add("A", "P.", 1001, 5001, 100, 1e6).
					Add("B", "P.", 5001, 1101, 50, 1e6).
					Add("A", "F.", 1101, 5051, 0, 1e6).
					Add("B", "F.", 5051, 1102, 0, 1e6).
					Add("A", ".", 1102, 5052, 0, 1e6)
			},
			want: []zeekRow{{"A", "SF", "ShADdFf"}},
		},
		{
			name: "pure ACKs are recorded once per side",
			build: func() *tt.Convo {
				return tt.Handshake().Add("B", ".", 5001, 1001, 0, 1e6).
					Add("A", ".", 1001, 5001, 0, 1e6).
					Add("B", ".", 5001, 1001, 0, 1e6)
			},
			want: []zeekRow{{"A", "S1", "ShAa"}},
		},
		{
			name:  "unanswered SYN",
			build: func() *tt.Convo { return tt.New().Add("A", "S", 1000, 0, 0, 1e6).Add("A", "S", 1000, 0, 0, 1e9) },
			want:  []zeekRow{{"A", "S0", "S"}},
		},
		{
			name: "rejected",
			build: func() *tt.Convo {
				return tt.New().Add("A", "S", 1000, 0, 0, 1e6).Add("B", "R.", 0, 1001, 0, 1e6)
			},
			want: []zeekRow{{"A", "REJ", "Sr"}},
		},
		{
			name: "originator's SYN then RST",
			build: func() *tt.Convo {
				return tt.New().Add("A", "S", 1000, 0, 0, 1e6).Add("A", "R", 1001, 0, 0, 1e6)
			},
			want: []zeekRow{{"A", "RSTOS0", "SR"}},
		},
		{
			name:  "lone RST",
			build: func() *tt.Convo { return tt.New().Add("A", "R", 1000, 0, 0, 1e6) },
			want:  []zeekRow{{"A", "OTH", "R"}},
		},
		{
			name: "RST again with a new sequence number",
			build: func() *tt.Convo {
				return tt.New().Add("A", "R", 1000, 0, 0, 1e6).Add("A", "R", 1000, 0, 0, 1e6).Add("A", "R", 2000, 0, 0, 1e6)
			},
			want: []zeekRow{{"A", "OTH", "RR"}},
		},
		{
			name: "originator aborts",
			build: func() *tt.Convo {
				return tt.Handshake().Add("A", "R.", 1001, 5001, 0, 1e6)
			},
			want: []zeekRow{{"A", "RSTO", "ShAR"}},
		},
		{
			name: "responder aborts",
			build: func() *tt.Convo {
				return tt.Handshake().Add("B", "R.", 5001, 1001, 0, 1e6)
			},
			want: []zeekRow{{"A", "RSTR", "ShAr"}},
		},
		{
			name: "half open: SYN then FIN",
			build: func() *tt.Convo {
				return tt.New().Add("A", "S", 1000, 0, 0, 1e6).Add("A", "F.", 1001, 0, 0, 1e6)
			},
			want: []zeekRow{{"A", "SH", "SF"}},
		},
		{
			name: "originator closes, no reply",
			build: func() *tt.Convo {
				return tt.Handshake().Add("A", "F.", 1001, 5001, 0, 1e6)
			},
			want: []zeekRow{{"A", "S2", "ShAF"}},
		},
		{
			name: "responder closes, no reply",
			build: func() *tt.Convo {
				return tt.Handshake().Add("B", "F.", 5001, 1001, 0, 1e6)
			},
			want: []zeekRow{{"A", "S3", "ShAf"}},
		},
		{
			name: "SYN-ACK first, server port likely: flipped at creation",
			build: func() *tt.Convo {
				return tt.New().Add("B", "S.", 5000, 1001, 0, 1e6).Add("A", ".", 1001, 5001, 0, 1e6)
			},
			want: []zeekRow{{"A", "S1", "^hA"}},
		},
		{
			name: "SYN-ACK then RST from the server",
			build: func() *tt.Convo {
				return tt.New().Add("B", "S.", 5000, 1001, 0, 1e6).Add("B", "R.", 5001, 1001, 0, 1e6)
			},
			want: []zeekRow{{"A", "RSTRH", "^hr"}},
		},
		{
			name: "SYN-ACK then FIN from the server",
			build: func() *tt.Convo {
				return tt.New().Add("B", "S.", 5000, 1001, 0, 1e6).Add("B", "F.", 5001, 1001, 0, 1e6)
			},
			want: []zeekRow{{"A", "SHR", "^hf"}},
		},
		{
			name: "bare mode: lone SYN-ACK stays unflipped",
			build: func() *tt.Convo {
				return tt.New().Add("B", "S.", 5000, 1001, 0, 1e6)
			},
			zeek: bare,
			want: []zeekRow{{"B", "OTH", "H"}},
		},
		{
			name: "bare mode: SYN-ACK then an ACK flips, history becomes ^h",
			build: func() *tt.Convo {
				return tt.New().Add("B", "S.", 5000, 1001, 0, 1e6).Add("A", ".", 1001, 5001, 0, 1e6).
					Add("A", "P.", 1001, 5001, 10, 1e6)
			},
			zeek: bare,
			want: []zeekRow{{"A", "OTH", "^hAD"}},
		},
		{
			name: "bare mode: the server's own ACK after its SYN-ACK flips too",
			build: func() *tt.Convo {
				return tt.New().Add("B", "S.", 5000, 1001, 0, 1e6).Add("B", ".", 5001, 1001, 0, 1e6).
					Add("B", "F.", 5001, 1001, 0, 1e6)
			},
			zeek: bare,
			want: []zeekRow{{"A", "SHR", "^haf"}},
		},
		{
			name: "bare mode: SYN/SYN-ACK reversal",
			build: func() *tt.Convo {
				return tt.New().Add("B", "S.", 5000, 1001, 0, 1e6).Add("A", "S", 1000, 0, 0, 1e6).
					Add("A", ".", 1001, 5001, 0, 1e6).Add("A", "P.", 1001, 5001, 10, 1e6).
					Add("B", ".", 5001, 1011, 0, 1e6)
			},
			zeek: bare,
			want: []zeekRow{{"A", "S1", "Hs^ADa"}},
		},
		{
			name: "mid-stream data from the server port is flipped",
			build: func() *tt.Convo {
				return tt.New().Add("B", "P.", 5001, 1001, 100, 1e6).Add("A", ".", 1001, 5101, 0, 1e6)
			},
			want: []zeekRow{{"A", "OTH", "^dA"}},
		},
		{
			name: "retransmissions: T at the 1st and 10th",
			build: func() *tt.Convo {
				c := tt.Handshake().Add("A", "P.", 1001, 5001, 100, 1e6)
				for i := 0; i < 10; i++ {
					c.Add("A", "P.", 1001, 5001, 100, 1e6)
				}
				return c
			},
			want: []zeekRow{{"A", "S1", "ShADTT"}},
		},
		{
			name: "zero window from the responder",
			build: func() *tt.Convo {
				c := tt.Handshake().Add("A", "P.", 1001, 5001, 100, 1e6).Add("B", ".", 5001, 1101, 0, 1e6)
				c.Segs[len(c.Segs)-1].Window = 0
				return c
			},
			want: []zeekRow{{"A", "S1", "ShADaw"}},
		},
		{
			name: "bad checksum: counted, then ignored",
			build: func() *tt.Convo {
				c := tt.Handshake().Add("A", "P.", 1001, 5001, 100, 1e6)
				c.Segs[len(c.Segs)-1].BadChecksum = true
				return c.Add("A", "P.", 1001, 5001, 100, 1e6)
			},
			want: []zeekRow{{"A", "S1", "ShACD"}},
		},
		{
			name: "FIN and RST together, SYN and FIN together",
			build: func() *tt.Convo {
				return tt.Handshake().Add("A", "FR.", 1001, 5001, 0, 1e6).Add("B", "SF.", 5001, 1001, 0, 1e6)
			},
			want: []zeekRow{{"A", "RSTO", "ShAIq"}},
		},
		{
			name: "acknowledged data never seen is a content gap",
			build: func() *tt.Convo {
				return tt.Handshake().Add("A", "P.", 1001, 5001, 100, 1e6).
					Add("B", "F.", 7000, 1101, 0, 1e6).
					Add("A", ".", 1101, 7001, 0, 1e6)
			},
			want: []zeekRow{{"A", "S3", "ShADfg"}},
		},
		{
			name: "a hole filled late is no gap",
			build: func() *tt.Convo {
				return tt.Handshake().Add("B", "P.", 5001, 1001, 100, 1e6).
					Add("B", "P.", 5201, 1001, 100, 1e6).
					Add("B", "P.", 5101, 1001, 100, 1e6).
					Add("A", ".", 1001, 5301, 0, 1e6)
			},
			want: []zeekRow{{"A", "S1", "ShAdt"}},
		},
		{
			name: "history longer than kept is cut",
			build: func() *tt.Convo {
				c := tt.New()
				for i := 0; i < 30; i++ {
					c.Add("A", "R", uint32(1000+i), 0, 0, 1e6)
				}
				return c
			},
			want: []zeekRow{{"A", "OTH", strings.Repeat("R", HistMaxLetters)}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var rows []zeekRow
			for _, r := range tt.RunRecorded(tc.build().Segs, Config{MSL: 1e12, Zeek: tc.zeek}) {
				rows = append(rows, zeekRowOf(&r))
			}
			if got, want := zeekRowsString(rows), zeekRowsString(tc.want); got != want {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
	}
}

// TestZeekLifetime checks that Zeek mode splits connections where Zeek's
// timers and reuse test do, and that the tracker's own mode does not.
func TestZeekLifetime(t *testing.T) {
	cases := []struct {
		name        string
		build       func() *tt.Convo
		zeek, plain []zeekRow
	}{
		{
			name: "attempt timer: one-sided SYN then data after 5 s",
			build: func() *tt.Convo {
				return tt.New().Add("A", "S", 1000, 0, 0, 1e6).Add("A", ".", 1001, 5001, 0, 1e9).
					Add("A", "P.", 1001, 5001, 10, 1e9).Add("A", "P.", 1011, 5001, 10, 5e9).
					Add("A", "F.", 1021, 5001, 0, 1e9)
			},
			zeek:  []zeekRow{{"A", "S0", "SAD"}, {"A", "SH", "DF"}},
			plain: []zeekRow{{"A", "SH", "SADF"}},
		},
		{
			name: "close delay: a RST 6 s after a RST is a new connection, 4 s after it is not",
			build: func() *tt.Convo {
				return tt.New().Add("A", "R", 1000, 0, 0, 1e6).Add("A", "R", 2000, 0, 0, 6e9).
					Add("A", "R", 3000, 0, 0, 4e9)
			},
			zeek:  []zeekRow{{"A", "OTH", "R"}, {"A", "OTH", "RR"}},
			plain: []zeekRow{{"A", "OTH", "RRR"}},
		},
		{
			name: "inactivity: a packet 300 s after the last one",
			build: func() *tt.Convo {
				return tt.New().Add("A", "P.", 1000, 5000, 10, 1e6).Add("B", ".", 5000, 1010, 0, 1e3).
					Add("A", "P.", 1010, 5000, 10, 300e9)
			},
			zeek:  []zeekRow{{"A", "OTH", "Da"}, {"A", "OTH", "D"}},
			plain: []zeekRow{{"A", "OTH", "Da"}},
		},
		{
			name: "inactivity: 299 s is not enough",
			build: func() *tt.Convo {
				return tt.New().Add("A", "P.", 1000, 5000, 10, 1e6).Add("B", ".", 5000, 1010, 0, 1e3).
					Add("A", "P.", 1010, 5000, 10, 299e9)
			},
			zeek:  []zeekRow{{"A", "OTH", "Da"}},
			plain: []zeekRow{{"A", "OTH", "Da"}},
		},
		{
			name: "reuse: a new SYN right after a complete close",
			build: func() *tt.Convo {
				return tt.Handshake().Add("A", "F.", 1001, 5001, 0, 1e6).Add("B", "F.", 5001, 1002, 0, 1e6).
					Add("A", ".", 1002, 5002, 0, 1e6).
					Add("A", "S", 9000, 0, 0, 1e9).Add("B", "S.", 7000, 9001, 0, 1e6)
			},
			zeek:  []zeekRow{{"A", "SF", "ShAFf"}, {"A", "S1", "Sh"}},
			plain: []zeekRow{{"A", "SF", "ShAFf"}, {"A", "S1", "Sh"}},
		},
		{
			name: "reuse: a SYN-ACK while the originator is silent",
			build: func() *tt.Convo {
				c := tt.New().Add("A", "S", 1000, 0, 0, 1e6)
				c.Segs[0].BadChecksum = true
				return c.Add("B", "S.", 5000, 1001, 0, 1e6).Add("B", ".", 5001, 1001, 0, 1e6)
			},
			zeek:  []zeekRow{{"A", "OTH", "C"}, {"A", "OTH", "^ha"}},
			plain: []zeekRow{{"A", "OTH", "Cha"}},
		},
		{
			name: "expire timer: nothing but a bad checksum, then 12 s later",
			build: func() *tt.Convo {
				c := tt.New().Add("A", ".", 1000, 5000, 0, 1e6)
				c.Segs[0].BadChecksum = true
				return c.Add("A", ".", 1000, 5000, 0, 12e9)
			},
			zeek:  []zeekRow{{"A", "OTH", "C"}, {"A", "OTH", "A"}},
			plain: []zeekRow{{"A", "OTH", "CA"}},
		},
		{
			name: "expire timer: 10 s is before its second run",
			build: func() *tt.Convo {
				c := tt.New().Add("A", ".", 1000, 5000, 0, 1e6)
				c.Segs[0].BadChecksum = true
				return c.Add("A", ".", 1000, 5000, 0, 10e9)
			},
			zeek:  []zeekRow{{"A", "OTH", "CA"}},
			plain: []zeekRow{{"A", "OTH", "CA"}},
		},
	}
	for _, tc := range cases {
		for _, mode := range []struct {
			name string
			cfg  *ZeekConfig
			want []zeekRow
		}{{"zeek", bare, tc.zeek}, {"plain", nil, tc.plain}} {
			t.Run(tc.name+"/"+mode.name, func(t *testing.T) {
				var rows []zeekRow
				for _, r := range tt.RunRecorded(tc.build().Segs, Config{Zeek: mode.cfg}) {
					rows = append(rows, zeekRowOf(&r))
				}
				if got, want := zeekRowsString(rows), zeekRowsString(mode.want); got != want {
					t.Errorf("got  %s\nwant %s", got, want)
				}
			})
		}
	}
}

func TestZeekServerPorts(t *testing.T) {
	full, err := ZeekServerPorts()
	if err != nil {
		t.Fatal(err)
	}
	krb, err := ZeekServerPorts("none", "krb", "conn")
	if err != nil {
		t.Fatal(err)
	}
	none, err := ZeekServerPorts("none")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		set  *PortSet
		port uint16
		want bool
	}{
		{full, 80, true}, {full, 88, true}, {full, 6669, true}, {full, 40000, false}, {full, 443, true},
		{krb, 88, true}, {krb, 80, false},
		{none, 80, false}, {none, 88, false},
	} {
		if got := tc.set.Has(tc.port); got != tc.want {
			t.Errorf("Has(%d) = %v, want %v", tc.port, got, tc.want)
		}
	}
	if _, err := ZeekServerPorts("no-such-protocol"); err == nil {
		t.Error("ZeekServerPorts accepted an unknown script name")
	}
}

func TestZeekBytesAndDuration(t *testing.T) {
	c := tt.Handshake().Add("A", "P.", 1001, 5001, 100, 1e6).
		Add("B", "F.", 7000, 1101, 0, 1e6). // 1999 bytes never seen
		Add("A", "F.", 1101, 7001, 0, 1e6).
		Add("B", ".", 7001, 1102, 0, 1e6) // the final ACK, after both closed
	recs := tt.RunRecorded(c.Segs, Config{Zeek: bare})
	if len(recs) != 1 {
		t.Fatalf("%d records, want 1", len(recs))
	}
	conn := &recs[0].Conn
	if got := conn.ZeekBytes(Orig); got != 100 {
		t.Errorf("orig bytes %d, want 100", got)
	}
	if got := conn.ZeekBytes(Resp); got != 1999 {
		t.Errorf("resp bytes %d, want 1999", got)
	}
	if got := conn.ZeekMissedBytes(); got != 1999 {
		t.Errorf("missed bytes %d, want 1999", got)
	}
	if got, want := conn.ZeekDuration(), int64(5e6); got != want {
		t.Errorf("duration %d, want %d (up to the second FIN)", got, want)
	}
	if got, want := conn.Last-conn.Start, int64(6e6); got != want {
		t.Errorf("wirestate duration %d, want %d", got, want)
	}
}

func TestHistorySize(t *testing.T) {
	if sz := unsafe.Sizeof(History{}); sz != 26 {
		t.Errorf("History is %d bytes, want 26 (Conn's budget counts on it)", sz)
	}
	if a := unsafe.Alignof(History{}); a != 1 {
		t.Errorf("History aligns to %d, want 1 (it fills padding in Conn)", a)
	}
}

// FuzzZeekHistory feeds arbitrary conversations between A and B to the
// tracker, in Zeek mode (full and bare) and in its own mode, and checks
// what must hold whatever the packets: every segment lands in exactly one
// record, conn_state is one of Zeek's, and the history is made of Zeek's
// letters and no longer than kept.
func FuzzZeekHistory(f *testing.F) {
	f.Add([]byte{0, 2, 0, 0, 1, 1, 18, 0, 0, 1, 0, 16, 0, 10, 1, 0, 17, 0, 0, 1, 1, 17, 0, 0, 1})
	f.Add([]byte{1, 18, 0, 0, 1, 0, 16, 0, 0, 1, 0, 4, 0, 0, 9, 1, 4, 0, 0, 200})
	f.Add([]byte{0, 2, 0, 0, 1, 0, 2, 0, 0, 255, 0, 24, 5, 7, 255, 0, 24, 5, 7, 255})
	f.Fuzz(func(t *testing.T, data []byte) {
		c := tt.New()
		for len(data) >= 5 {
			from := "A"
			if data[0]&1 != 0 {
				from = "B"
			}
			c.Now += int64(data[4]) * 1e8 // up to 25.5 s between packets
			c.Frame++
			s := Segment{Time: c.Now, Frame: c.Frame, Flags: data[1], Seq: seqnum.Value(data[2]) * 1000, Ack: seqnum.Value(data[3]) * 1000,
				PayloadLen: uint32(data[0]>>1) * 10, Window: uint16(data[0]>>5) * 1000, IPLen: 40}
			s.BadChecksum = data[0]&0x80 != 0 && data[1]&0x40 != 0
			if from == "A" {
				s.Src, s.Dst = tt.A, tt.B
			} else {
				s.Src, s.Dst = tt.B, tt.A
			}
			c.Segs = append(c.Segs, s)
			data = data[5:]
		}
		if len(c.Segs) == 0 {
			return
		}
		states := map[string]bool{"S0": true, "S1": true, "SF": true, "REJ": true, "S2": true, "S3": true, "RSTO": true,
			"RSTR": true, "RSTOS0": true, "RSTRH": true, "SH": true, "SHR": true, "OTH": true}
		for _, cfg := range []*ZeekConfig{nil, {}, bare} {
			var pkts uint32
			for _, r := range tt.RunRecorded(c.Segs, Config{Zeek: cfg}) {
				conn := &r.Conn
				pkts += conn.Peers[Orig].Pkts + conn.Peers[Resp].Pkts
				if st := conn.ZeekState(); !states[st] {
					t.Errorf("conn_state %q", st)
				}
				h := conn.Hist.String()
				if len(h) > HistMaxLetters || len(h) != conn.Hist.Len() {
					t.Errorf("history %q: %d letters, Len %d, at most %d kept", h, len(h), conn.Hist.Len(), HistMaxLetters)
				}
				if strings.Trim(h, "SHADFRCTGWIQshadfrctgwiq^X") != "" {
					t.Errorf("history %q has a letter Zeek does not use", h)
				}
				if conn.ZeekDuration() < 0 || conn.ZeekDuration() > conn.Last-conn.Start {
					t.Errorf("duration %d outside [0, %d]", conn.ZeekDuration(), conn.Last-conn.Start)
				}
			}
			if int(pkts) != len(c.Segs) {
				t.Errorf("zeek config %v: records hold %d packets, %d fed", cfg, pkts, len(c.Segs))
			}
		}
	})
}

// TestSweepEvery checks Config.SweepEvery: in Zeek mode a connection closed
// by both FINs leaves when the next sweep finds Zeek's close delay (5 s)
// past; live capture sweeps every second, where the default waits up to a
// minute of packet time.
func TestSweepEvery(t *testing.T) {
	for _, tc := range []struct {
		name    string
		every   int64
		emitted bool // by the packet 7 s after the close
	}{
		{"default (a minute)", 0, false},
		{"every second", 1e9, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			col := &tt.Collector{}
			tr := New(Config{Inline: true, Zeek: &ZeekConfig{}, Sink: col, SweepEvery: tc.every})
			closed := tt.Handshake().Add("A", "F.", 1001, 5001, 0, 1e6).Add("B", "F.", 5001, 1002, 0, 1e6).Add("A", ".", 1002, 5002, 0, 1e6)
			other := tt.New() // another connection, open throughout
			other.EndA.Port, other.Now = 40001, closed.Now
			other.Add("A", "S", 7000, 0, 0, 1e6).Add("B", "S.", 9000, 7001, 0, 1e6).Add("A", ".", 7001, 9001, 0, 1e6)
			for _, dt := range []int64{2e9, 5e9} { // 2 s, then 7 s after the close
				other.Add("A", ".", 7001, 9001, 0, dt)
			}
			for _, segs := range [][]Segment{closed.Segs, other.Segs} {
				for i := range segs {
					tr.Feed(&segs[i])
				}
			}
			col2 := len(col.Recs)
			tr.Close()
			if got := col2 == 1; got != tc.emitted || len(col.Recs) != 2 {
				t.Errorf("%d records before the end (want the closed one: %v), %d in all (want 2)", col2, tc.emitted, len(col.Recs))
			}
		})
	}
}
