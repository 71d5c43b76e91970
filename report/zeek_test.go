package report

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/wirestate/wirestate/tracker"
	"github.com/wirestate/wirestate/tracker/trackertest"
)

func TestWriteZeek(t *testing.T) {
	const uid = "{uid}" // replaced by the record's uid
	cases := []struct {
		name  string
		build func() *trackertest.Convo
		zeek  *tracker.ZeekConfig
		seed  uint16
		rows  []string
	}{
		{
			name: "complete connection",
			build: func() *trackertest.Convo {
				return trackertest.Handshake().Add("A", "P.", 1001, 5001, 100, 1e6).
					Add("B", "P.", 5001, 1101, 50, 1e6).Add("A", "F.", 1101, 5051, 0, 1e6).
					Add("B", "F.", 5051, 1102, 0, 1e6).Add("A", ".", 1102, 5052, 0, 1e6)
			},
			zeek: &tracker.ZeekConfig{},
			rows: []string{"1000000000.001000\t" + uid + "\t10.0.0.1\t40000\t10.0.0.2\t80\ttcp\t-\t0.006000\t100\t50\tSF\tT\tT\t0\tShADdFf\t5\t360\t3\t206\t-\t6\t1:3k1SoWXs/FltHw2aBCgUTgbDQF4="},
		},
		{
			name: "flipped by Zeek: the originator is the SYN-ACK's receiver",
			build: func() *trackertest.Convo {
				return trackertest.New().Add("B", "S.", 5000, 1001, 0, 1e6).Add("A", ".", 1001, 5001, 0, 1e6)
			},
			rows: []string{"1000000000.001000\t" + uid + "\t10.0.0.1\t40000\t10.0.0.2\t80\ttcp\t-\t0.001000\t0\t0\tS1\tT\tT\t0\t^hA\t1\t52\t1\t52\t-\t6\t1:3k1SoWXs/FltHw2aBCgUTgbDQF4="},
		},
		{
			name: "bare mode keeps the SYN-ACK's sender; a lone packet has no duration",
			build: func() *trackertest.Convo {
				return trackertest.New().Add("B", "S.", 5000, 1001, 0, 1e6)
			},
			zeek: &tracker.ZeekConfig{LikelyServerPorts: &tracker.PortSet{}},
			rows: []string{"1000000000.001000\t" + uid + "\t10.0.0.2\t80\t10.0.0.1\t40000\ttcp\t-\t-\t-\t-\tOTH\tT\tT\t0\tH\t1\t52\t0\t0\t-\t6\t1:3k1SoWXs/FltHw2aBCgUTgbDQF4="},
		},
		{
			// The Community ID, computed apart with Python's hashlib.
			name: "a community ID seed",
			build: func() *trackertest.Convo {
				return trackertest.New().Add("B", "S.", 5000, 1001, 0, 1e6)
			},
			zeek: &tracker.ZeekConfig{LikelyServerPorts: &tracker.PortSet{}},
			seed: 7,
			rows: []string{"1000000000.001000\t" + uid + "\t10.0.0.2\t80\t10.0.0.1\t40000\ttcp\t-\t-\t-\t-\tOTH\tT\tT\t0\tH\t1\t52\t0\t0\t-\t6\t1:xbv65+8FdVJhpohL8vHRh5/+NJ8="},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			col := trackertest.Run(tc.build().Segs, tracker.Config{Zeek: tc.zeek})
			res := &Result{Records: col.Recs}
			var buf bytes.Buffer
			if err := WriteZeek(&buf, res, ZeekOptions{Open: 1e18, Close: 1e18 + 60e9, CommunityIDSeed: tc.seed}); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
			header := []string{
				"#separator \\x09",
				"#set_separator\t,",
				"#empty_field\t(empty)",
				"#unset_field\t-",
				"#path\tconn",
				"#open\t2001-09-09-01-46-40",
				"#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents\tip_proto\tcommunity_id",
				"#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]\tcount\tstring",
			}
			var rows []string
			for i, r := range tc.rows {
				rows = append(rows, strings.ReplaceAll(r, uid, col.Recs[i].Conn.UID.String()))
			}
			want := append(append(header, rows...), "#close\t2001-09-09-01-47-40")
			if got := strings.Join(lines, "\n"); got != strings.Join(want, "\n") {
				t.Errorf("got:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
			}
		})
	}
}

func TestZeekLocal(t *testing.T) {
	for _, tc := range []struct {
		addr string
		want bool
	}{
		{"10.1.2.3", true}, {"192.168.1.28", true}, {"172.31.0.1", true}, {"127.0.0.1", true},
		{"35.221.46.9", false}, {"8.8.8.8", false}, {"fe80::1", true}, {"2001:4860:0:2001::68", false},
		{"2001:0:4137:9e50:8000:f12a:b9c8:2815", true}, {"2a00:6020:ad0b:8380::10", false},
	} {
		var a tracker.Addr
		ip := mustAddr(tc.addr)
		if ip.Is4() {
			a = tracker.AddrFrom4(ip.As4())
		} else {
			b := ip.As16()
			a = tracker.AddrFromSlice(b[:])
		}
		if got := zeekLocal(a); got != tc.want {
			t.Errorf("zeekLocal(%s) = %v, want %v", tc.addr, got, tc.want)
		}
	}
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// TestZeekLiveStream checks live conn.log: the header when the stream is
// made, stamped with its opening time, each row at the tick after its
// record, nothing more at the summary, #close by the clock at Close.
func TestZeekLiveStream(t *testing.T) {
	open := time.Date(2026, 12, 5, 23, 0, 0, 0, time.UTC)
	now := open.Add(90 * time.Minute)
	var buf bytes.Buffer
	s, _ := NewStream("zeek", &buf, StreamOptions{Live: true, Open: open, Clock: func() time.Time { return now }})
	s.(Ticker).Tick(now)
	if got := buf.String(); !strings.HasPrefix(got, "#separator") || !strings.Contains(got, "#open\t2026-12-05-23-00-00\n") || strings.Count(got, "\n") != 8 {
		t.Fatalf("after the first tick: %q, want the header alone", got)
	}
	col := trackertest.Run(trackertest.Handshake().Segs, tracker.Config{Zeek: &tracker.ZeekConfig{}})
	if err := s.Record(&col.Recs[0]); err != nil {
		t.Fatal(err)
	}
	n := buf.Len()
	s.(Ticker).Tick(now)
	row := buf.String()[n:]
	if !strings.Contains(row, col.Recs[0].Conn.UID.String()) || strings.Count(row, "\n") != 1 {
		t.Errorf("the tick wrote %q, want the row", row)
	}
	n = buf.Len()
	if err := s.Summary(&Result{Records: col.Recs}); err != nil || buf.Len() != n {
		t.Errorf("the summary wrote %q (%v), want nothing", buf.String()[n:], err)
	}
	if err := s.Close(); err != nil || buf.String()[n:] != "#close\t2026-12-06-00-30-00\n" {
		t.Errorf("Close wrote %q (%v)", buf.String()[n:], err)
	}
	if err := s.Close(); err != nil || strings.Count(buf.String(), "#close") != 1 {
		t.Errorf("a second Close: %v, %d #close lines", err, strings.Count(buf.String(), "#close"))
	}
}
