package capture

import (
	"encoding/binary"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wirestate/wirestate/tracker"
)

// TestOpenAt: a read that starts at a Mark taken at any segment of a real
// capture returns what the whole read returns from there on, with the
// same frame numbers; with a filter too.
func TestOpenAt(t *testing.T) {
	path := filepath.Join("..", "pcaps", "mixed.pcap")
	for _, opts := range []FileOptions{{}, {Filter: "tcp port 8080"}} {
		var all []tracker.Segment
		var marks []Mark
		src, err := Open([]string{path}, opts)
		if err != nil {
			t.Fatal(err)
		}
		for {
			var seg tracker.Segment
			if err := src.Next(&seg); err == io.EOF {
				break
			} else if err != nil {
				t.Fatal(err)
			}
			all = append(all, seg)
			m, ok := src.Mark()
			if !ok {
				t.Fatalf("no mark after frame %d", seg.Frame)
			}
			marks = append(marks, m)
		}
		src.Close()
		if len(all) < 100 {
			t.Fatalf("%s: %d segments", path, len(all))
		}
		for _, i := range []int{0, 1, len(all) / 3, len(all) / 2, len(all) - 2, len(all) - 1} {
			s2, err := OpenAt(marks[i], opts)
			if err != nil {
				t.Fatal(err)
			}
			var got []tracker.Segment
			for {
				var seg tracker.Segment
				if err := s2.Next(&seg); err == io.EOF {
					break
				} else if err != nil {
					t.Fatalf("from mark %d: %v", i, err)
				}
				got = append(got, seg)
			}
			s2.Close()
			want := all[i+1:]
			if len(got) != len(want) {
				t.Fatalf("filter %q, from segment %d (frame %d): %d segments, want %d", opts.Filter, i, all[i].Frame, len(got), len(want))
			}
			for k := range got {
				if got[k] != want[k] {
					t.Fatalf("filter %q, from segment %d: segment %d is %+v, want %+v", opts.Filter, i, k, got[k], want[k])
				}
			}
		}
	}
}

// TestMarkOnlyWherePossible: no mark for what cannot be read from the
// middle: pcapng, gzip, several files, standard input, a count.
func TestMarkOnlyWherePossible(t *testing.T) {
	le := binary.LittleEndian
	dir := t.TempDir()
	pcap := pcapFile(le, false, LinkEthernet, 65535, threePackets(t))
	plain := writeFile(t, dir, "a.pcap", pcap)
	cases := []struct {
		name  string
		names []string
		opts  FileOptions
		want  bool
	}{
		{"pcap", []string{plain}, FileOptions{}, true},
		{"pcapng", []string{writeFile(t, dir, "b.pcapng", pcapngFile(le, threePackets(t)))}, FileOptions{}, false},
		{"gzip", []string{writeFile(t, dir, "c.pcap.gz", gzipped(pcap))}, FileOptions{}, false},
		{"two files", []string{plain, writeFile(t, dir, "d.pcap", pcap)}, FileOptions{}, false},
		{"stdin", []string{"-"}, FileOptions{Stdin: strings.NewReader(string(pcap))}, false},
		{"count", []string{plain}, FileOptions{Count: 5}, false},
	}
	for _, c := range cases {
		src, err := Open(c.names, c.opts)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := src.Mark(); ok {
			t.Errorf("%s: a mark before any read", c.name)
		}
		var seg tracker.Segment
		if err := src.Next(&seg); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if _, ok := src.Mark(); ok != c.want {
			t.Errorf("%s: mark %v, want %v", c.name, ok, c.want)
		}
		src.Close()
	}
	if _, err := OpenAt(Mark{File: plain, Offset: 3}, FileOptions{}); err == nil || !strings.Contains(err.Error(), "a.pcap") {
		t.Errorf("a mark inside the header: %v", err)
	}
}
