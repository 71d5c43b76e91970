package detect

import (
	"strings"
	"testing"

	"github.com/wirestate/wirestate/tracker"
	tt "github.com/wirestate/wirestate/tracker/trackertest"
)

func runDetect(segs []tracker.Segment, cfg Config) *tt.Collector {
	col := tt.Run(segs, tracker.Config{Observers: Observers(cfg)})
	col.Findings = append(col.Findings, Aggregate(col.Recs, col.Findings, nil, cfg)...)
	return col
}

func kinds(fs []tracker.Finding) map[string]int {
	m := map[string]int{}
	for _, f := range fs {
		m[f.Kind.String()]++
	}
	return m
}

func TestDetectors(t *testing.T) {
	cases := []struct {
		name  string
		convo *tt.Convo
		want  []string // kinds that must be reported
		not   []string // kinds that must not be reported
		text  string   // a phrase the first finding of want[0] must contain
	}{
		{
			name:  "unanswered SYN given up",
			convo: tt.New().Add("A", "S", 1000, 0, 0, 1e6).Add("A", "S", 1000, 0, 0, 1e9).Add("A", "S", 1000, 0, 0, 1e9).Add("A", "S", 1000, 0, 0, 2e9),
			want:  []string{"syn-unanswered"},
			not:   []string{"connection-refused"},
			text:  "4 times",
		},
		{
			name:  "refused",
			convo: tt.New().Add("A", "S", 1000, 0, 0, 1e6).Add("B", "R.", 0, 1001, 0, 1e5),
			want:  []string{"connection-refused"},
			not:   []string{"syn-unanswered", "abortive-close"},
		},
		{
			name:  "accept queue overflow: RST right after the handshake",
			convo: tt.Handshake().Add("A", "P.", 1001, 5001, 100, 1e5).Add("B", "R", 5001, 0, 0, 1e5),
			want:  []string{"accept-queue-overflow-rst"},
			not:   []string{"abortive-close", "half-open"},
		},
		{
			name: "accept queue overflow: SYN-ACK retransmitted after the ACK",
			convo: tt.Handshake().Add("A", "P.", 1001, 5001, 100, 1e5).
				Add("B", "S.", 5000, 1001, 0, 1e9).Add("A", ".", 1101, 5001, 0, 1e5).
				Add("A", "P.", 1001, 5001, 100, 1e5).
				Add("B", ".", 5001, 1101, 0, 2e9),
			want: []string{"accept-queue-overflow-drop"},
			text: "finally took",
		},
		{
			name: "lost final ACK, seen before the retransmission",
			convo: tt.Handshake().Add("A", "F.", 1001, 5001, 0, 1e6).
				Add("B", ".", 5001, 1002, 0, 1e6).
				Add("B", "F.", 5001, 1002, 0, 1e6).
				Add("A", ".", 1002, 5002, 0, 1e5).
				Add("B", "F.", 5001, 1002, 0, 200e6).
				Add("A", ".", 1002, 5002, 0, 1e5),
			want: []string{"lost-final-ack"},
			text: "lost beyond the capture point",
		},
		{
			name: "lost final ACK, ended by a RST from a peer that left TIME_WAIT",
			convo: tt.Handshake().Add("A", "F.", 1001, 5001, 0, 1e6).
				Add("B", "F.", 5001, 1002, 0, 1e6).
				Add("B", "F.", 5001, 1002, 0, 200e6).
				Add("A", "R", 1002, 0, 0, 1e5),
			want: []string{"lost-final-ack"},
			text: "TIME_WAIT was cut short",
		},
		{
			name: "CLOSE_WAIT that never closes",
			convo: tt.Handshake().Add("A", "F.", 1001, 5001, 0, 1e6).
				Add("B", ".", 5001, 1002, 0, 1e6).
				Add("A", ".", 1002, 5001, 0, 8e9), // something later moves time on
			want: []string{"close-wait-stuck"},
		},
		{
			name:  "half-open: bare RST from a side that lost state",
			convo: tt.Handshake().Add("B", ".", 5001, 1001, 0, 1e6).Add("A", "P.", 1001, 5001, 10, 60e9).Add("B", "R", 5001, 0, 0, 1e5),
			want:  []string{"half-open"},
			not:   []string{"abortive-close"},
		},
		{
			name:  "abortive close by the server",
			convo: tt.Handshake().Add("A", "P.", 1001, 5001, 10, 1e6).Add("B", ".", 5001, 1011, 0, 1e6).Add("B", "R.", 5001, 1011, 0, 1e6),
			want:  []string{"abortive-close"},
			not:   []string{"half-open", "accept-queue-overflow-rst"},
			text:  "the server",
		},
		{
			name: "normal close is clean",
			convo: tt.Handshake().Add("A", "P.", 1001, 5001, 10, 1e6).Add("B", ".", 5001, 1011, 0, 1e6).
				Add("A", "F.", 1011, 5001, 0, 1e6).Add("B", "F.", 5001, 1012, 0, 1e6).Add("A", ".", 1012, 5002, 0, 1e6),
			not: []string{"lost-final-ack", "close-wait-stuck", "abortive-close", "half-open", "syn-unanswered"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range append(tc.want[:len(tc.want):len(tc.want)], tc.not...) {
				if _, ok := tracker.ParseAnomalyKind(k); !ok {
					t.Errorf("no kind is named %q", k)
				}
			}
			col := runDetect(tc.convo.Segs, Config{})
			got := kinds(col.Findings)
			for _, k := range tc.want {
				if got[k] == 0 {
					t.Errorf("no %s finding; got %v", k, got)
				}
			}
			for _, k := range tc.not {
				if got[k] != 0 {
					t.Errorf("unexpected %s finding: %v", k, col.Findings)
				}
			}
			if tc.text != "" {
				for _, f := range col.Findings {
					if f.Kind.String() == tc.want[0] && !strings.Contains(f.Summary, tc.text) {
						t.Errorf("%s summary %q lacks %q", f.Kind, f.Summary, tc.text)
					}
				}
			}
			for _, k := range tc.want {
				marked := false
				for _, r := range col.Recs {
					kk, _ := tracker.ParseAnomalyKind(k)
					marked = marked || r.Conn.Has(kk)
				}
				if !marked {
					t.Errorf("no connection record lists %s", k)
				}
			}
			for _, f := range col.Findings {
				if f.Severity < f.Kind.DefaultSeverity() {
					t.Errorf("%s finding at %s, below its default %s", f.Kind, f.Severity, f.Kind.DefaultSeverity())
				}
				if len(f.Evidence) == 0 && f.Scope == "" {
					t.Errorf("%s finding has no evidence", f.Kind)
				}
				for _, e := range f.Evidence {
					if e.Frame == 0 || e.Frame > tc.convo.Frame {
						t.Errorf("%s evidence frame %d outside 1..%d", f.Kind, e.Frame, tc.convo.Frame)
					}
				}
			}
		})
	}
}

// TestRegistryCoversKinds checks that every kind but the aggregates is
// reported by exactly one registered unit, and no aggregate by any.
func TestRegistryCoversKinds(t *testing.T) {
	units := map[tracker.AnomalyKind]int{}
	for _, s := range Registry {
		if len(s.Kinds) == 0 || s.New == nil {
			t.Errorf("registry entry %v lacks kinds or a constructor", s.Kinds)
		}
		for _, k := range s.Kinds {
			units[k]++
		}
	}
	for k := range tracker.AllKinds() {
		switch {
		case k.Aggregate() && units[k] != 0:
			t.Errorf("aggregate kind %s has a registered unit", k)
		case !k.Aggregate() && units[k] != 1:
			t.Errorf("kind %s has %d registered units, want 1 (or mark it aggregate)", k, units[k])
		}
	}
}

func TestDisabledKindIsSilent(t *testing.T) {
	c := tt.New().Add("A", "S", 1000, 0, 0, 1e6).Add("B", "R.", 0, 1001, 0, 1e5)
	col := runDetect(c.Segs, Config{Disabled: map[string]bool{"connection-refused": true}})
	if n := kinds(col.Findings)["connection-refused"]; n != 0 {
		t.Fatalf("%d connection-refused findings with the detector disabled", n)
	}
}

func TestPortReuseAfterRefusalIsSilent(t *testing.T) {
	c := tt.New().Add("A", "S", 1000, 0, 0, 1e6).Add("B", "R.", 0, 1001, 0, 1e5).
		Add("A", "S", 9000, 0, 0, 1e9).Add("B", "R.", 0, 9001, 0, 1e5)
	col := runDetect(c.Segs, Config{})
	if n := kinds(col.Findings)["port-reuse"]; n != 0 {
		t.Fatalf("%d port-reuse findings after a refused attempt", n)
	}
	if len(col.Recs) != 2 {
		t.Fatalf("%d connections, want 2 incarnations", len(col.Recs))
	}
}

func TestLiveReportsUnansweredSYNWhileRetrying(t *testing.T) {
	c := tt.New().Add("A", "S", 1000, 0, 0, 1e6).Add("A", "S", 1000, 0, 0, 1e9).Add("A", "S", 1000, 0, 0, 1e9)
	var at []int64
	col := &tt.Collector{}
	tr := tracker.New(tracker.Config{Inline: true, Sink: col, Observers: func(_ int, emit func(*tracker.Finding)) []tracker.Observer {
		return []tracker.Observer{NewEngine(Config{Live: true}, func(f *tracker.Finding) { at = append(at, c.Now); emit(f) })}
	}})
	for i := range c.Segs {
		tr.Feed(&c.Segs[i])
		if i == 2 && len(col.Findings) != 1 {
			t.Fatalf("after the third SYN: %d findings, want the syn-unanswered report already", len(col.Findings))
		}
	}
	tr.Close()
	if n := kinds(col.Findings)["syn-unanswered"]; n != 1 {
		t.Fatalf("%d syn-unanswered findings, want exactly 1 (not again at the end)", n)
	}
}

// TestCloseWaitDuration checks that close-wait-stuck gives the whole time
// spent in CLOSE_WAIT (issue #18, item 4): to the end of the capture, or to
// the FIN that finally ended it, not to the moment the threshold passed.
func TestCloseWaitDuration(t *testing.T) {
	stuck := func() *tt.Convo {
		// B enters CLOSE_WAIT 1 ms after the handshake's last packet.
		return tt.Handshake().Add("A", "F.", 1001, 5001, 0, 1e6).Add("B", ".", 5001, 1002, 0, 1e6)
	}
	for _, tc := range []struct {
		name  string
		convo *tt.Convo
		want  []string
	}{
		{"held to the end of the capture", stuck().
			Add("B", ".", 5000, 1002, 0, 2e9).Add("A", ".", 1002, 5001, 0, 1e5). // keepalives
			Add("B", ".", 5000, 1002, 0, 2e9).Add("A", ".", 1002, 5001, 0, 1e5).
			Add("B", ".", 5000, 1002, 0, 2e9).Add("A", ".", 1002, 5001, 0, 1e5).
			Add("B", ".", 5000, 1002, 0, 2e9).Add("A", ".", 1002, 5001, 0, 1e5),
			[]string{"for 8.0s, until the end of the capture"}},
		{"FIN after 7 s", stuck().Add("B", "F.", 5001, 1002, 0, 7e9).Add("A", ".", 1002, 5002, 0, 1e5),
			[]string{"for 7.0s, until it finally sent its FIN (frame 6)"}},
		{"RST after 6 s", stuck().Add("B", "R.", 5001, 1002, 0, 6e9),
			[]string{"for 6.0s, until it reset the connection (frame 6)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, shards := range []int{1, 3} {
				col := tt.Run(tc.convo.Segs, tracker.Config{Shards: shards, Observers: Observers(Config{})})
				var got []string
				for _, f := range col.Findings {
					if f.Kind == tracker.AnomCloseWaitStuck {
						got = append(got, f.Summary)
					}
				}
				if len(got) != 1 {
					t.Fatalf("%d shards: %d close-wait-stuck findings, want 1: %q", shards, len(got), got)
				}
				for _, w := range tc.want {
					if !strings.Contains(got[0], w) {
						t.Errorf("%d shards: %q lacks %q", shards, got[0], w)
					}
				}
			}
		})
	}
}

// TestCloseWaitLive checks that live mode reports close-wait-stuck once
// the threshold passes, while the endpoint is still in CLOSE_WAIT.
func TestCloseWaitLive(t *testing.T) {
	c := tt.Handshake().Add("A", "F.", 1001, 5001, 0, 1e6).Add("B", ".", 5001, 1002, 0, 1e6).
		Add("B", ".", 5000, 1002, 0, 6e9).Add("A", ".", 1002, 5001, 0, 1e5).
		Add("B", ".", 5000, 1002, 0, 6e9)
	col := &tt.Collector{}
	tr := tracker.New(tracker.Config{Inline: true, Sink: col, Observers: func(_ int, emit func(*tracker.Finding)) []tracker.Observer {
		return []tracker.Observer{NewEngine(Config{Live: true}, emit)}
	}})
	for i := range c.Segs {
		tr.Feed(&c.Segs[i])
		if i == 5 && kinds(col.Findings)["close-wait-stuck"] != 1 {
			t.Fatalf("after 6 s in CLOSE_WAIT: no close-wait-stuck finding yet")
		}
	}
	tr.Close()
	if n := kinds(col.Findings)["close-wait-stuck"]; n != 1 {
		t.Fatalf("%d close-wait-stuck findings, want exactly 1", n)
	}
	if s := col.Findings[0].Summary; !strings.Contains(s, "so far") {
		t.Errorf("live summary %q does not say the time is so far", s)
	}
}
