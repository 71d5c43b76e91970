package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/wirestate/wirestate/capture"
	"github.com/wirestate/wirestate/report"
	"github.com/wirestate/wirestate/tracker/detect"
)

// TestPartsReadAsOne: a second pass that reads the file in parts side by
// side gives the outputs (text timelines, JSON, HTML with every finding's
// timeline) byte for byte what a single read gives, with the marks
// anywhere: captures from real kernels and a synthetic one, a filter, and
// a file cut into more parts than it has segments of interest.
func TestPartsReadAsOne(t *testing.T) {
	defer func(f func(int64) int, every int) { partsFor, markEvery = f, every }(partsFor, markEvery)
	markEvery = 1 // small captures too are cut where the parts ask
	run := func(path, filter string, parts int) (map[string][]byte, int) {
		partsFor = func(int64) int { return parts }
		bufs := map[string]*bytes.Buffer{}
		var outs []Output
		for _, format := range []string{"text", "json", "html"} {
			bufs[format] = &bytes.Buffer{}
			s, err := report.NewStream(format, bufs[format], report.StreamOptions{})
			if err != nil {
				t.Fatal(err)
			}
			outs = append(outs, Output{Stream: s})
		}
		cfg := &Config{Files: []string{path}, MSL: 30 * time.Second, IdleTimeout: time.Hour, MaxConns: 1 << 20,
			Detect: detect.Defaults(), Filter: filter, Outputs: outs}
		res, err := Analyze(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		timelines := 0
		for i := range res.Records {
			if res.Records[i].Timeline != nil {
				timelines++
			}
		}
		if err := writeOutputs(outs, res, true); err != nil {
			t.Fatal(err)
		}
		got := map[string][]byte{}
		for k, b := range bufs {
			got[k] = b.Bytes()
		}
		return got, timelines
	}
	cases := []struct{ path, filter string }{
		{"../pcaps/mixed.pcap", ""},
		{"../pcaps/mixed.pcap", "tcp port 8080 or tcp port 9"},
		{"../pcaps/port-reuse.pcap", ""},
		{"../pcaps/stale-segment.pcap", ""},
		{"../pcaps/lost-final-ack.pcap", ""},
		{synthCapture(t, 3000), ""},
	}
	for _, c := range cases {
		want, n := run(c.path, c.filter, 1)
		if n == 0 {
			t.Fatalf("%s: no timeline: the second pass is not tested", c.path)
		}
		for _, parts := range []int{2, 3, 7} {
			before := partReads.Load()
			got, m := run(c.path, c.filter, parts)
			if read := partReads.Load() - before; read == 0 {
				t.Errorf("%s %q, %d parts: none read side by side", c.path, c.filter, parts)
			}
			if m != n {
				t.Errorf("%s %q, %d parts: %d timelines, want %d", c.path, c.filter, parts, m, n)
			}
			for format, w := range want {
				if g := got[format]; !bytes.Equal(g, w) {
					t.Errorf("%s %q, %d parts: %s output differs from a single read's (%d bytes, want %d)%s",
						c.path, c.filter, parts, format, len(g), len(w), firstDiff(g, w))
				}
			}
		}
	}
}

// firstDiff describes where a and b first differ.
func firstDiff(a, b []byte) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	ctx := func(x []byte) string { return string(x[max(i-60, 0):min(i+60, len(x))]) }
	return fmt.Sprintf(" at byte %d:\n got: %q\nwant: %q", i, ctx(a), ctx(b))
}

// TestPartsAfterUntilUnread: the parts that start after the packet time
// a second pass reads to are not read at all.
func TestPartsAfterUntilUnread(t *testing.T) {
	path := filepath.Join("..", "pcaps", "mixed.pcap")
	marks := []capture.Mark{{File: path, Offset: 24, Time: 10}, {File: path, Offset: 24, Time: 20}, {File: path, Offset: 24, Time: 30}}
	for _, c := range []struct {
		until int64
		want  int
	}{{0, 3}, {5, 0}, {10, 1}, {25, 2}, {30, 3}} {
		p := &pass{cfg: &Config{}, parts: marks, until: c.until, only: newFlowSet(nil)}
		outs, stop := p.startParts(context.Background())
		stop()
		if len(outs) != c.want {
			t.Errorf("until %d: %d parts read, want %d", c.until, len(outs), c.want)
		}
	}
}
