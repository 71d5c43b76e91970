package capture

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wirestate/wirestate/tracker"
)

func TestCompileFilter(t *testing.T) {
	for _, tc := range []struct {
		expr string
		ok   bool
		msg  string
	}{
		{"", true, ""},
		{"   ", true, ""},
		{"tcp", true, ""},
		{"tcp port 443 and host 10.0.0.1", true, ""},
		{"tcp port foo", false, "foo"},
		{"tcp and (", false, "syntax error"},
		{"nosuchkeyword", false, ""},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			err := CompileFilter(tc.expr, LinkEthernet, 0)
			if tc.ok {
				if err != nil {
					t.Fatalf("CompileFilter(%q) = %v, want nil", tc.expr, err)
				}
				return
			}
			if !errors.Is(err, ErrBadFilter) {
				t.Fatalf("CompileFilter(%q) = %v, want a bad-filter error", tc.expr, err)
			}
			if !strings.Contains(err.Error(), tc.expr) || !strings.Contains(err.Error(), tc.msg) || strings.Count(err.Error(), "\n") > 0 {
				t.Errorf("message %q: want one line naming %q and %q", err, tc.expr, tc.msg)
			}
		})
	}
}

func TestOpenLiveErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts LiveOptions
		want error
	}{
		{"missing interface", LiveOptions{Interface: "wsnosuch0"}, ErrNoInterface},
		{"no interface", LiveOptions{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := OpenLive(tc.opts)
			if err == nil {
				s.Close()
				t.Fatal("OpenLive succeeded")
			}
			var le *LiveError
			if !errors.As(err, &le) {
				t.Fatalf("error %T %v, want *LiveError", err, err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("error %v, want %v", err, tc.want)
			}
			if tc.opts.Interface != "" && !strings.HasPrefix(err.Error(), tc.opts.Interface+": ") {
				t.Errorf("error %q does not start with the interface name", err)
			}
		})
	}
}

func TestClassifyPcapError(t *testing.T) {
	for _, tc := range []struct {
		msg  string
		want error
	}{
		{"No Such Device", ErrNoInterface},
		{"Permission Denied", ErrPermission},
		{"Error: socket: Operation not permitted", ErrPermission},
		{"Error: You don't have permission to perform this capture on that device", ErrPermission},
		{"Interface Not Up", ErrInterfaceDown},
	} {
		if got := classifyPcapError(errors.New(tc.msg)); got != tc.want {
			t.Errorf("classifyPcapError(%q) = %v, want %v", tc.msg, got, tc.want)
		}
	}
	if got := classifyPcapError(errors.New("Error: something else")); got.Error() != "something else" {
		t.Errorf("unclassified error = %q, want libpcap's message without its prefix", got)
	}
}

func TestWidenCounters(t *testing.T) {
	for _, tc := range []struct {
		name  string
		polls [][4]uint32
		want  CaptureCounters
	}{
		{"steady", [][4]uint32{{10, 1, 0, 0}, {20, 3, 1, 2}}, CaptureCounters{20, 3, 1, 2}},
		{"wrap", [][4]uint32{{0xfffffff0, 0, 0, 0xffffffff}, {0x10, 0, 0, 1}}, CaptureCounters{0x100000010, 0, 0, 0x100000001}},
		{"unchanged", [][4]uint32{{5, 5, 5, 5}, {5, 5, 5, 5}}, CaptureCounters{5, 5, 5, 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var w widener
			for _, p := range tc.polls {
				w.widen(p)
			}
			if w.wide != tc.want {
				t.Errorf("got %+v, want %+v", w.wide, tc.want)
			}
		})
	}
}

func TestPcapWriterRotation(t *testing.T) {
	for _, tc := range []struct {
		name     string
		maxBytes int64
		packets  int
		files    int
	}{
		{"one file", 0, 10, 1},
		// 24-byte header + 16-byte record headers + 60-byte packets:
		// three packets fit in 324 bytes.
		{"rotated", 324, 10, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := filepath.Join(t.TempDir(), "out.pcap")
			w, err := CreatePcap(name, LinkEthernet, 256, tc.maxBytes)
			if err != nil {
				t.Fatal(err)
			}
			pkt := make([]byte, 60)
			for i := 0; i < tc.packets; i++ {
				if err := w.WritePacket(int64(i+1)*1e9, 1514, pkt); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			files := w.Files()
			if len(files) != tc.files {
				t.Fatalf("files %v, want %d", files, tc.files)
			}
			for i, f := range files {
				want := name
				if i > 0 {
					want = fmt.Sprintf("%s%d", name, i)
				}
				if f != want {
					t.Errorf("file %d is %s, want %s", i, f, want)
				}
				if fi, err := os.Stat(f); err != nil || (tc.maxBytes > 0 && fi.Size() > tc.maxBytes) {
					t.Errorf("%s: %v, size over %d", f, err, tc.maxBytes)
				}
			}
			src, err := Open(files, FileOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			var seg tracker.Segment
			for src.Next(&seg) != io.EOF {
			}
			if st := src.Stats(); st.Packets != uint64(tc.packets) || st.Bytes != uint64(tc.packets)*1514 {
				t.Errorf("read back %d packets, %d bytes; want %d packets of 1514 bytes", st.Packets, st.Bytes, tc.packets)
			}
		})
	}
}
