package pipeline

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/wirestate/wirestate/report"
	"github.com/wirestate/wirestate/tracker"
	"github.com/wirestate/wirestate/tracker/detect"
)

// uidsOf analyses the capture at path with the given shard count and
// returns the records' uids in report order.
func uidsOf(t *testing.T, path string, shards int) []tracker.UID {
	t.Helper()
	out, _ := report.NewStream("json", io.Discard, report.StreamOptions{})
	cfg := &Config{Files: []string{path}, MSL: 30 * time.Second, IdleTimeout: time.Hour, MaxConns: 1 << 20,
		Shards: shards, Detect: detect.Defaults(), Timelines: TimelinesNone, Outputs: []Output{{Stream: out}}}
	res, err := Analyze(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	uids := make([]tracker.UID, len(res.Records))
	for i := range res.Records {
		uids[i] = res.Records[i].Conn.UID
	}
	return uids
}

// TestUIDsReproducible checks that a capture gives the same uids on every
// run and whatever the shard count.
func TestUIDsReproducible(t *testing.T) {
	for _, path := range []string{"../pcaps/port-reuse.pcap", "../pcaps/syn-flood.pcap", synthCapture(t, 2000)} {
		one := uidsOf(t, path, 1)
		for _, run := range []struct {
			name string
			uids []tracker.UID
		}{{"again", uidsOf(t, path, 1)}, {"4 shards", uidsOf(t, path, 4)}} {
			if len(run.uids) != len(one) {
				t.Fatalf("%s, %s: %d connections, first run %d", path, run.name, len(run.uids), len(one))
			}
			for i := range one {
				if run.uids[i] != one[i] {
					t.Fatalf("%s, %s: connection %d has uid %v, first run %v", path, run.name, i, run.uids[i], one[i])
				}
			}
		}
	}
}

// TestUIDsDifferBetweenCaptures checks that the first connections of two
// captures get different uids (issue #18, item 7: they were both
// CCS2gHCwPblp, so conn.logs of several captures collided).
func TestUIDsDifferBetweenCaptures(t *testing.T) {
	a, b := uidsOf(t, "../pcaps/client-close.pcap", 1), uidsOf(t, "../pcaps/server-close.pcap", 1)
	if len(a) == 0 || len(b) == 0 {
		t.Fatalf("no connections: %d and %d", len(a), len(b))
	}
	if a[0] == b[0] {
		t.Errorf("client-close.pcap and server-close.pcap both begin with uid %v", a[0])
	}
}

// TestUIDsUniqueInLargeCapture checks that 100k connections of a synthetic
// capture get 100k distinct uids.
func TestUIDsUniqueInLargeCapture(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode: analyses 100k connections")
	}
	uids := uidsOf(t, synthCapture(t, 100000), 0)
	if len(uids) < 100000 {
		t.Fatalf("%d connections, want at least 100000", len(uids))
	}
	seen := make(map[tracker.UID]bool, len(uids))
	for _, u := range uids {
		if u == 0 || seen[u] {
			t.Fatalf("uid %v zero or repeated among %d connections", u, len(uids))
		}
		seen[u] = true
	}
}
