package detect

import (
	"fmt"
	"strings"
	"testing"

	"github.com/wirestate/wirestate/tracker"
	tt "github.com/wirestate/wirestate/tracker/trackertest"
)

// loneRecords returns the records of n lone segments (flags "S" for SYNs,
// "R." for RST/ACKs) to trackertest.B, 1 ms apart, from sources distinct
// sources.
func loneRecords(t *testing.T, flags string, n, sources int) []tracker.Record {
	t.Helper()
	var segs []tracker.Segment
	c := tt.New()
	for i := 0; i < n; i++ {
		c.EndA = tracker.Endpoint{Addr: tracker.AddrFrom4([4]byte{100, 64, byte(i % sources >> 8), byte(i % sources)}), Port: uint16(1024 + i)}
		c.Add("A", flags, uint32(7000*i), 0, 0, 1e6)
	}
	segs = append(segs, c.Segs...)
	recs := tt.Run(segs, tracker.Config{}).Recs
	if len(recs) != n {
		t.Fatalf("%d records for %d lone segments", len(recs), n)
	}
	return recs
}

func TestFloodsCountFoldedMembers(t *testing.T) {
	cfg := Config{}
	cfg.fill()
	for _, tc := range []struct {
		name              string
		flags             string
		kind              tracker.AnomalyKind
		kept, folded, src int
		want              int // members counted in the flood; 0: no flood
	}{
		{"SYNs kept only, too few", "S", tracker.AnomSYNFlood, 50, 0, 50, 0},
		{"SYNs with folded members", "S", tracker.AnomSYNFlood, 50, 200, 250, 250},
		{"SYNs with folded members, one source", "S", tracker.AnomSYNFlood, 50, 200, 1, 0},
		{"RSTs with folded members", "R.", tracker.AnomRSTACKFlood, 30, 300, 330, 330},
	} {
		t.Run(tc.name, func(t *testing.T) {
			all := loneRecords(t, tc.flags, tc.kept+tc.folded, tc.src)
			var fo []tracker.Folded
			if tc.folded > 0 {
				f := tracker.Folded{Kind: tc.kind, Victim: tt.B}
				for i := range all[tc.kept:] {
					kind, side, ok := FloodMember(&all[tc.kept+i].Conn)
					if !ok || kind != tc.kind {
						t.Fatalf("record %d: flood member %v of %v, want %v", i, ok, kind, tc.kind)
					}
					if ep := all[tc.kept+i].Conn.Orig; side == tracker.Orig && ep != tt.B || side == tracker.Resp && all[tc.kept+i].Conn.Resp != tt.B {
						t.Fatalf("record %d: victim side %v is not %v", i, side, tt.B)
					}
					f.Add(&all[tc.kept+i].Conn, side)
				}
				fo = append(fo, f)
			}
			var got *tracker.Finding
			for _, f := range Aggregate(all[:tc.kept], nil, fo, cfg) {
				if f.Kind == tc.kind && f.Scope != "" {
					got = &f
				}
			}
			switch {
			case tc.want == 0 && got != nil:
				t.Fatalf("flood reported: %s", got.Summary)
			case tc.want == 0:
			case got == nil:
				t.Fatalf("no %s finding", tc.kind)
			case got.Count != tc.want:
				t.Errorf("count %d, want %d: %s", got.Count, tc.want, got.Summary)
			case !strings.Contains(got.Summary, fmt.Sprintf("%d members past the first", tc.folded)):
				t.Errorf("summary does not say what was folded: %s", got.Summary)
			case len(got.UIDs) != tc.kept:
				t.Errorf("%d member uids, want the %d kept", len(got.UIDs), tc.kept)
			}
		})
	}
}
