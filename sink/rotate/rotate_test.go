package rotate

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wirestate/wirestate/report"
	"github.com/wirestate/wirestate/tracker"
)

func TestNext(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.DateTime, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		now      string
		interval time.Duration
		want     string
	}{
		{"2026-12-05 22:37:12", time.Hour, "2026-12-05 23:00:00"},
		{"2026-12-05 23:00:00", time.Hour, "2026-12-06 00:00:00"}, // on a boundary: the next one
		{"2026-12-05 23:59:59", time.Hour, "2026-12-06 00:00:00"},
		{"2026-12-05 22:37:12", time.Second, "2026-12-05 22:37:13"},
		{"2026-12-05 22:37:12", 15 * time.Minute, "2026-12-05 22:45:00"},
		{"2026-12-05 22:37:12", 24 * time.Hour, "2026-12-06 00:00:00"},
		// An interval that does not divide a day counts again from each
		// midnight, as Zeek's calc_next_rotate does.
		{"2026-12-05 20:00:00", 7 * time.Hour, "2026-12-05 21:00:00"},
		{"2026-12-05 21:00:00", 7 * time.Hour, "2026-12-06 04:00:00"},
		{"2026-12-06 04:00:00", 7 * time.Hour, "2026-12-06 07:00:00"},
	} {
		if got := Next(at(tc.now), tc.interval); !got.Equal(at(tc.want)) {
			t.Errorf("Next(%s, %v) = %s, want %s", tc.now, tc.interval, got.Format(time.DateTime), tc.want)
		}
	}
}

func TestArchiveName(t *testing.T) {
	open := time.Date(2026, 12, 5, 23, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		path string
		n    int
		want string
	}{
		{"conn.log", 0, "conn.2026-12-05-23-00-00.log"},
		{"/var/log/ws/conn.log", 0, "/var/log/ws/conn.2026-12-05-23-00-00.log"},
		{"flows.json", 0, "flows.2026-12-05-23-00-00.json"},
		{"conn.log", 2, "conn.2026-12-05-23-00-00-2.log"},
		{"out", 0, "out.2026-12-05-23-00-00"},
		{".hidden", 0, ".hidden.2026-12-05-23-00-00"},
		{"a.b.log", 0, "a.b.2026-12-05-23-00-00.log"},
	} {
		if got := ArchiveName(tc.path, open, tc.n); got != tc.want {
			t.Errorf("ArchiveName(%q, %d) = %q, want %q", tc.path, tc.n, got, tc.want)
		}
	}
}

// clock is a settable wall clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// record returns a connection record with the given uid.
func record(uid uint64) *tracker.Record {
	r := &tracker.Record{Reason: tracker.EndClosed}
	r.Conn.UID = tracker.UID(uid)
	r.Conn.Start = time.Date(2026, 12, 5, 22, 0, 0, 0, time.UTC).UnixNano() + int64(uid)*1e9
	r.Conn.Last = r.Conn.Start + 1e6
	r.Conn.Orig = tracker.Endpoint{Addr: tracker.AddrFrom4([4]byte{10, 0, 0, 1}), Port: uint16(40000 + uid)}
	r.Conn.Resp = tracker.Endpoint{Addr: tracker.AddrFrom4([4]byte{10, 0, 0, 2}), Port: 80}
	return r
}

// newRotating returns a rotating stream of format in dir, on clk, and the
// list the names of rotated files are appended to.
func newRotating(t *testing.T, format, path string, clk *clock) (*Stream, *[]string) {
	t.Helper()
	var rotated []string
	s, err := New(Config{Path: path, Interval: time.Hour, Now: clk.now,
		New: func(w io.Writer, open time.Time) report.Stream {
			st, err := report.NewStream(format, w, report.StreamOptions{Live: true, Open: open, Clock: clk.now, Sensor: "s"})
			if err != nil {
				t.Fatal(err)
			}
			return st
		},
		Rotated: func(name string) { rotated = append(rotated, filepath.Base(name)) }})
	if err != nil {
		t.Fatal(err)
	}
	return s, &rotated
}

// step is one call on a rotating stream: a record, a tick, the summary.
type step struct {
	at  string // the clock, 15:04:05.000 on 2026-12-05 (or +1d)
	uid uint64 // a record, or 0 for a tick
}

// TestRotation checks the names and contents of the files a rotating
// conn.log and JSON Lines output write: each record in the file open when
// it was handed over, every file with its header and #close, the boundary
// in the names and the #open lines, missed boundaries skipped, the last
// file rotated at Close.
func TestRotation(t *testing.T) {
	day := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	steps := []step{
		{"22:37:12.250", 0}, // the start (New)
		{"22:40:00.000", 1},
		{"22:59:59.900", 0},
		{"22:59:59.950", 2}, // the last of the first file
		{"23:00:00.080", 0}, // rotates
		{"23:00:00.090", 3},
		{"23:30:00.000", 0},
		{"25:00:00.120", 0}, // 01:00 the next day: 00:00 was missed
		{"25:10:00.000", 4},
		{"25:20:00.000", 5},
	}
	wantFiles := map[string][]uint64{
		"2026-12-05-22-37-12": {1, 2},
		"2026-12-05-23-00-00": {3},
		"2026-12-06-01-00-00": {4, 5},
	}
	wantClose := map[string]string{
		"2026-12-05-22-37-12": "2026-12-05-23-00-00",
		"2026-12-05-23-00-00": "2026-12-06-01-00-00",
		"2026-12-06-01-00-00": "2026-12-06-01-30-00",
	}
	for _, format := range []string{"zeek", "json"} {
		t.Run(format, func(t *testing.T) {
			dir := t.TempDir()
			ext := map[string]string{"zeek": ".log", "json": ".json"}[format]
			base := map[string]string{"zeek": "conn", "json": "flows"}[format]
			path := filepath.Join(dir, base+ext)
			clk := &clock{}
			setClock := func(s string) {
				hms, err := time.Parse("15:04:05.000", strings.Replace(s, "25:", "01:", 1))
				if err != nil {
					t.Fatal(err)
				}
				d := day
				if strings.HasPrefix(s, "25:") {
					d = d.AddDate(0, 0, 1)
				}
				clk.t = d.Add(time.Duration(hms.Hour())*time.Hour + time.Duration(hms.Minute())*time.Minute +
					time.Duration(hms.Second())*time.Second + time.Duration(hms.Nanosecond()))
			}
			setClock(steps[0].at)
			s, rotated := newRotating(t, format, path, clk)
			for _, st := range steps[1:] {
				setClock(st.at)
				var err error
				if st.uid == 0 {
					err = s.Tick(clk.t)
				} else {
					err = s.Record(record(st.uid))
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			setClock("25:30:00.000")
			if err := s.Summary(&report.Result{Connections: 5}); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Errorf("%s still exists after Close (%v): the last file is rotated too", path, err)
			}
			var stamps []string
			for stamp := range wantFiles {
				stamps = append(stamps, stamp)
			}
			slices.Sort(stamps)
			var want []string
			for _, stamp := range stamps {
				want = append(want, base+"."+stamp+ext)
			}
			if !slices.Equal(*rotated, want) {
				t.Errorf("rotated %v, want %v", *rotated, want)
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != len(want) {
				t.Errorf("%d files in the directory, want %d", len(entries), len(want))
			}
			for i, stamp := range stamps {
				uids, header := readFile(t, format, filepath.Join(dir, want[i]))
				if w := wantFiles[stamp]; !slices.Equal(uids, w) {
					t.Errorf("%s holds records %v, want %v", want[i], uids, w)
				}
				if format == "zeek" {
					if header.open != stamp || header.close != wantClose[stamp] {
						t.Errorf("%s: #open %s, #close %s; want %s, %s", want[i], header.open, header.close, stamp, wantClose[stamp])
					}
				} else if last := i == len(stamps)-1; header.summary != last {
					t.Errorf("%s: summary %v, want %v (only in the last file)", want[i], header.summary, last)
				}
			}
		})
	}
}

// fileInfo is what readFile found besides the records.
type fileInfo struct {
	open, close string // conn.log's #open and #close
	summary     bool   // a JSON summary record
}

// readFile returns the uids of the records in a conn.log or JSON Lines
// file, in order, checking the conn.log's layout: the header first, the
// #close line last.
func readFile(t *testing.T, format, name string) ([]uint64, fileInfo) {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var uids []uint64
	var info fileInfo
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	uidOf := func(s string) uint64 {
		for u := uint64(1); u < 100; u++ {
			if tracker.UID(u).String() == s {
				return u
			}
		}
		t.Fatalf("%s: unknown uid %q", name, s)
		return 0
	}
	if format == "zeek" {
		if len(lines) < 9 || lines[0] != "#separator \\x09" || !strings.HasPrefix(lines[len(lines)-1], "#close\t") {
			t.Fatalf("%s: not a whole conn.log:\n%s", name, strings.Join(lines, "\n"))
		}
		for _, l := range lines {
			if v, ok := strings.CutPrefix(l, "#open\t"); ok {
				info.open = v
			} else if v, ok := strings.CutPrefix(l, "#close\t"); ok {
				info.close = v
			} else if !strings.HasPrefix(l, "#") {
				uids = append(uids, uidOf(strings.Split(l, "\t")[1]))
			}
		}
		return uids, info
	}
	for _, l := range lines {
		var rec struct{ Type, UID string }
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("%s: %q: %v", name, l, err)
		}
		switch rec.Type {
		case "conn":
			uids = append(uids, uidOf(rec.UID))
		case "summary":
			info.summary = true
		}
	}
	return uids, info
}

// TestRotationKeepsExistingFiles checks that a rotation never replaces a
// file: the name taken gets a number.
func TestRotationKeepsExistingFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "conn.log")
	clk := &clock{time.Date(2026, 12, 5, 22, 59, 59, 0, time.UTC)}
	taken := filepath.Join(dir, "conn.2026-12-05-22-59-59.log")
	if err := os.WriteFile(taken, []byte("an earlier run's\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, rotated := newRotating(t, "zeek", path, clk)
	s.Record(record(1))
	clk.t = clk.t.Add(2 * time.Second)
	if err := s.Tick(clk.t); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(taken); string(b) != "an earlier run's\n" {
		t.Errorf("%s was replaced: %q", taken, b)
	}
	if want := []string{"conn.2026-12-05-22-59-59-1.log", "conn.2026-12-05-23-00-00.log"}; !slices.Equal(*rotated, want) {
		t.Errorf("rotated %v, want %v", *rotated, want)
	}
	if uids, _ := readFile(t, "zeek", filepath.Join(dir, "conn.2026-12-05-22-59-59-1.log")); !slices.Equal(uids, []uint64{1}) {
		t.Errorf("records %v, want [1]", uids)
	}
}

// TestRotationErrors checks that a failed rotation is an error that
// sticks, naming the file, and that bad configurations are refused.
func TestRotationErrors(t *testing.T) {
	if _, err := New(Config{Path: filepath.Join(t.TempDir(), "conn.log"), Interval: 500 * time.Millisecond}); err == nil || !strings.Contains(err.Error(), "at least 1s") {
		t.Errorf("a 500ms interval: %v, want an error", err)
	}
	if _, err := New(Config{Path: filepath.Join(t.TempDir(), "no", "such", "conn.log"), Interval: time.Second}); err == nil {
		t.Error("a file in a missing directory: no error")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "out", "conn.log")
	os.Mkdir(filepath.Dir(path), 0o755)
	clk := &clock{time.Date(2026, 12, 5, 22, 59, 59, 0, time.UTC)}
	s, _ := newRotating(t, "zeek", path, clk)
	if err := os.RemoveAll(filepath.Dir(path)); err != nil { // the rename will fail
		t.Fatal(err)
	}
	clk.t = clk.t.Add(2 * time.Second)
	err := s.Tick(clk.t)
	if err == nil || !strings.Contains(err.Error(), "conn.log") {
		t.Fatalf("rotation into a removed directory: %v, want an error naming the file", err)
	}
	if err2 := s.Record(record(1)); err2 != err {
		t.Errorf("after the failure Record returns %v, want the same error", err2)
	}
	if err2 := s.Close(); err2 != err {
		t.Errorf("Close returns %v, want the same error", err2)
	}
}
