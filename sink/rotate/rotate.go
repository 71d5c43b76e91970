// Package rotate writes a live output to a file that is closed and renamed
// at fixed intervals of the wall clock, as Zeek rotates its logs, so that
// tools that follow Zeek's logs can follow a long capture.
//
// The file being written always has the name it was given (conn.log). At
// each boundary the stream of that file is closed (conn.log gets its
// #close line), the file is synced, closed and renamed to the name Zeek's
// ASCII writer gives a rotated log by default — the name, then the time
// the file was opened in Log::default_rotation_date_format,
// %Y-%m-%d-%H-%M-%S, then the extension: conn.2026-12-05-23-00-00.log —
// and a new file with the original name is opened, with a new stream (and
// a new header). Boundaries are aligned as Zeek aligns them
// (calc_next_rotate with the default rotation base time of 0:00): at
// multiples of the interval from midnight, so that a one-hour interval
// rotates on the hour. The last file is rotated too when the stream is
// closed, as Zeek rotates its logs at shutdown.
//
// Calls are serialised by the caller (the pipeline's live sink): a record
// goes to the file that is open when it is handed over, so no record is
// lost or written twice across a rotation.
package rotate

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/wirestate/wirestate/report"
	"github.com/wirestate/wirestate/tracker"
)

// MinInterval is the shortest rotation interval.
const MinInterval = time.Second

// DateFormat is the time in a rotated file's name: Zeek's
// Log::default_rotation_date_format, %Y-%m-%d-%H-%M-%S.
const DateFormat = "2006-01-02-15-04-05"

// Config configures a rotating output.
type Config struct {
	// Path is the file written (-o), for example conn.log.
	Path string
	// Interval is the time between rotations, at least MinInterval.
	Interval time.Duration
	// Local aligns the boundaries to local midnight and names the files
	// in local time, instead of UTC.
	Local bool
	// New makes the stream that writes one file, opened at open.
	New func(w io.Writer, open time.Time) report.Stream
	// Now is the wall clock; nil means time.Now.
	Now func() time.Time
	// Rotated, when set, is called with the new name of every file
	// rotated, the last one (at Close) included.
	Rotated func(name string)
}

// Stream is a report.Stream that writes to a file rotated at fixed
// intervals (see the package documentation). Its Tick rotates when a
// boundary has passed; the pipeline calls it about ten times a second.
type Stream struct {
	cfg    Config
	f      *os.File
	cur    report.Stream
	opened time.Time // when the current file was opened
	next   time.Time // the next boundary
	err    error     // the first error, which sticks
	closed bool
}

// New creates cfg.Path (truncating it) and returns a Stream writing to it.
func New(cfg Config) (*Stream, error) {
	if cfg.Interval < MinInterval {
		return nil, fmt.Errorf("rotation interval %v: want at least %v", cfg.Interval, MinInterval)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Stream{cfg: cfg}
	if err := s.open(s.now()); err != nil {
		return nil, err
	}
	return s, nil
}

// now returns the clock's time in the zone of the names.
func (s *Stream) now() time.Time { return s.zone(s.cfg.Now()) }

func (s *Stream) zone(t time.Time) time.Time {
	if s.cfg.Local {
		return t.Local()
	}
	return t.UTC()
}

// open creates the file and its stream, opened at t.
func (s *Stream) open(t time.Time) error {
	f, err := os.Create(s.cfg.Path)
	if err != nil {
		return err
	}
	s.f, s.opened = f, t
	s.cur = s.cfg.New(f, t)
	s.next = Next(t, s.cfg.Interval)
	return nil
}

// Next returns the first rotation boundary after t for the interval: as
// Zeek computes it, the next multiple of the interval from the start of
// t's day (in t's location).
func Next(t time.Time, interval time.Duration) time.Time {
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, t.Location())
	return day.Add((t.Sub(day)/interval + 1) * interval)
}

// prev returns the last boundary at or before t within t's day.
func prev(t time.Time, interval time.Duration) time.Time {
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, t.Location())
	return day.Add(t.Sub(day) / interval * interval)
}

// ArchiveName returns the name a file written as path and opened at open
// takes when rotated: conn.log opened at 23:00:00 on 5 December 2026
// becomes conn.2026-12-05-23-00-00.log, in the same directory. n, when
// not 0, is added to tell apart files that would take the same name
// (conn.2026-12-05-23-00-00-1.log).
func ArchiveName(path string, open time.Time, n int) string {
	dir, base := filepath.Split(path)
	ext := filepath.Ext(base)
	if ext == base {
		ext = "" // .hidden has no extension
	}
	stamp := open.Format(DateFormat)
	if n > 0 {
		stamp += fmt.Sprintf("-%d", n)
	}
	return dir + strings.TrimSuffix(base, ext) + "." + stamp + ext
}

// Tick rotates the file when a boundary has passed, then lets the current
// stream flush.
func (s *Stream) Tick(now time.Time) error {
	if s.err != nil {
		return s.err
	}
	if now = s.zone(now); !now.Before(s.next) {
		// The new file is opened at the boundary passed (the last one,
		// should ticks have missed some), so that its name and header
		// carry the aligned time.
		at := s.next
		if p := prev(now, s.cfg.Interval); p.After(at) {
			at = p
		}
		if s.err = s.archive(); s.err != nil {
			return s.err
		}
		if s.err = s.open(at); s.err != nil {
			return s.err
		}
		s.next = Next(now, s.cfg.Interval)
	}
	if t, ok := s.cur.(report.Ticker); ok {
		s.err = t.Tick(now)
	}
	return s.err
}

// archive closes the current stream and file and renames the file.
func (s *Stream) archive() error {
	err := s.cur.Close()
	if err == nil {
		err = s.f.Sync()
	}
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	name, err := s.rename()
	if err != nil {
		return err
	}
	if s.cfg.Rotated != nil {
		s.cfg.Rotated(name)
	}
	return nil
}

// rename gives the closed file its archive name, never replacing a file:
// a name already taken gets a number.
func (s *Stream) rename() (string, error) {
	for n := 0; ; n++ {
		name := ArchiveName(s.cfg.Path, s.opened, n)
		if _, err := os.Lstat(name); err == nil {
			continue
		} else if !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
		return name, os.Rename(s.cfg.Path, name)
	}
}

// Needs implements report.Stream.
func (s *Stream) Needs() report.Needs { return s.cur.Needs() }

// Record implements report.Stream.
func (s *Stream) Record(r *tracker.Record) error {
	if s.err != nil {
		return s.err
	}
	return s.cur.Record(r)
}

// Finding implements report.Stream.
func (s *Stream) Finding(f *tracker.Finding) error {
	if s.err != nil {
		return s.err
	}
	return s.cur.Finding(f)
}

// Stats implements report.Stream.
func (s *Stream) Stats(st *report.Stats) error {
	if s.err != nil {
		return s.err
	}
	return s.cur.Stats(st)
}

// Summary implements report.Stream: the summary goes to the current file.
func (s *Stream) Summary(res *report.Result) error {
	if s.err != nil {
		return s.err
	}
	return s.cur.Summary(res)
}

// Close implements report.Stream: it closes and rotates the current file,
// as Zeek rotates its logs at shutdown. It closes the file even after an
// error, which it returns.
func (s *Stream) Close() error {
	if s.closed {
		return s.err
	}
	s.closed = true
	if s.err != nil {
		s.f.Close()
		return s.err
	}
	s.err = s.archive()
	return s.err
}
