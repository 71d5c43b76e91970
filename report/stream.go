package report

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/wirestate/wirestate/tracker"
)

// Stream is one output of a run: the pipeline hands every output the same
// findings, status records and final result, live and offline alike, and
// several streams may run side by side (a report on stdout, JSON Lines in
// a file, an HTML report).
//
// Offline, the pipeline calls Finding for every finding, then Summary once,
// then Close. Live, Record and Finding come as connections end and findings
// are decided, Stats every status interval, then Summary with what the run
// kept (whose findings were all streamed already), then Close. Calls never
// overlap.
type Stream interface {
	// Needs says what the stream prints, so that the pipeline records it.
	Needs() Needs
	// Record is one connection's record as the connection ends (live).
	// Streams that list connections in the summary ignore it.
	Record(r *tracker.Record) error
	// Finding is one finding: as it is decided (live), or before the
	// summary (offline).
	Finding(f *tracker.Finding) error
	// Stats is a status record of a live run.
	Stats(s *Stats) error
	// Summary is the end of the report: totals, states, connections.
	Summary(res *Result) error
	// Close flushes what is buffered. It does not close the writer.
	Close() error
}

// Ticker is implemented by a stream with work to do on the clock during a
// live run: writing out the records it buffered, rotating its file. The
// pipeline calls Tick about ten times a second with the wall-clock time,
// between the stream's other calls (never overlapping them), from the
// first packet to the summary.
type Ticker interface {
	Tick(now time.Time) error
}

// Needs tells the pipeline what a stream shows beyond records and findings.
type Needs struct {
	// History keeps Zeek's history and conn_state in the records.
	History bool
	// Metrics measures every connection's latency and loss (tracker
	// Metrics); without it only capture loss is measured, except on the
	// connections whose timelines are recorded.
	Metrics bool
	// ExampleTimelines asks for the timelines of this many example
	// connections per warning or critical finding kind.
	ExampleTimelines int
	// WarningTimelines asks for the timelines of the connections of every
	// warning or critical finding, up to this many.
	WarningTimelines int
	// FindingTimelines asks for the timelines of the connections of every
	// finding, most severe first, up to this many.
	FindingTimelines int
	// States asks for every host's connection states over time
	// (Result.States).
	States bool
}

// StreamOptions configure a stream when it is made.
type StreamOptions struct {
	// Local prints times in the local zone instead of UTC.
	Local bool
	// Live streams findings and status records as they come.
	Live bool
	// Version is wirestate's version, for reports that name it.
	Version string
	// AllTimelines embeds every recorded timeline in the HTML report, not
	// only those of connections with findings.
	AllTimelines bool
	// Quiet makes the text report print the findings only.
	Quiet bool
	// Top, All, Width and Color shape the text report, as the fields of
	// Options of the same names.
	Top   int
	All   bool
	Width int
	Color bool
	// Sensor names the machine that captured the packets; every JSON
	// record carries it (right after its type), so that records of a
	// fleet merge cleanly.
	Sensor string
	// CommunityIDSeed seeds the Community ID of JSON records and of
	// conn.log's community_id column.
	CommunityIDSeed uint16
	// Open is when a live output was opened (conn.log's #open line);
	// zero means the time the stream is made, by Clock.
	Open time.Time
	// Clock returns the wall-clock time for a live output's stamps
	// (conn.log's #open and #close lines); nil means time.Now.
	Clock func() time.Time
}

// now returns the time by the options' clock.
func (o *StreamOptions) now() time.Time {
	if o.Clock != nil {
		return o.Clock()
	}
	return time.Now()
}

// Format is one registered output format.
type Format struct {
	// Name is what --format (or the flag of the output) calls it.
	Name string
	// Doc is a one-line description for --help.
	Doc string
	// New makes a stream writing to w.
	New func(w io.Writer, opt StreamOptions) Stream
}

// formats lists the output formats by name, in --help order.
var formats = []Format{
	{Name: "text", Doc: "a report for a person at a terminal", New: newTextStream},
	{Name: "json", Doc: "JSON Lines: anomaly, conn and summary records", New: newJSONStream},
	{Name: "zeek", Doc: "Zeek's conn.log", New: newZeekStream},
	{Name: "html", Doc: "one self-contained HTML file", New: newHTMLStream},
}

// FormatNames returns the registered format names, in order.
func FormatNames() []string {
	out := make([]string, len(formats))
	for i, f := range formats {
		out[i] = f.Name
	}
	return out
}

// NewStream returns a stream of the named format writing to w.
func NewStream(name string, w io.Writer, opt StreamOptions) (Stream, error) {
	for _, f := range formats {
		if f.Name == name {
			return f.New(w, opt), nil
		}
	}
	return nil, fmt.Errorf("unknown format %q: want %s", name, strings.Join(FormatNames(), ", "))
}

// Show says which connections' timelines and transitions a report prints;
// the pipeline sets it on the Result from what it recorded.
type Show struct {
	// Timelines selects the records whose timelines are printed.
	Timelines func(r *tracker.Record) bool
	// Transitions adds each connection's transitions to JSON records.
	Transitions bool
}

// options returns opt with the result's choices of timelines.
func (res *Result) options(opt Options) Options {
	opt.Timelines, opt.Transitions = res.Show.Timelines, res.Show.Transitions
	return opt
}

// textStream writes the text report; live, a line per finding and status.
type textStream struct {
	raw io.Writer
	bw  *bufio.Writer
	opt StreamOptions
}

func newTextStream(w io.Writer, opt StreamOptions) Stream {
	return &textStream{raw: w, bw: bufio.NewWriter(w), opt: opt}
}

// ExampleTimelinesPerKind is how many example timelines per finding kind
// the text report prints.
const ExampleTimelinesPerKind = 3

func (s *textStream) Needs() Needs {
	if s.opt.Quiet {
		return Needs{}
	}
	return Needs{ExampleTimelines: ExampleTimelinesPerKind}
}
func (s *textStream) Record(*tracker.Record) error { return nil }

// Finding writes, live, one line: time, severity, kind, uid, endpoints,
// summary; lines are flushed at each tick (a tenth of a second), not one
// write each. Offline, findings are printed grouped in the summary.
func (s *textStream) Finding(f *tracker.Finding) error {
	if !s.opt.Live {
		return nil
	}
	t := time.Unix(0, f.Time)
	if !s.opt.Local {
		t = t.UTC()
	}
	who := f.Scope
	if f.UID != 0 {
		who = fmt.Sprintf("%s %s → %s", f.UID, f.Orig, f.Resp)
	}
	opt := s.textOptions()
	fmt.Fprintf(s.bw, "%s %s %s %s: %s", t.Format("15:04:05.000000"), opt.severityLabel(f.Severity), f.Kind, who, f.Summary)
	if f.Uncertain {
		fmt.Fprint(s.bw, " [uncertain]")
	}
	fmt.Fprintln(s.bw)
	return nil // flushed at the next tick (Tick), as the JSON stream
}

// Tick flushes the findings written since the last tick.
func (s *textStream) Tick(time.Time) error { return s.bw.Flush() }

func (s *textStream) Stats(st *Stats) error {
	s.bw.WriteString(st.line(s.opt.Local))
	return s.bw.Flush()
}

func (s *textStream) Summary(res *Result) error {
	if err := s.bw.Flush(); err != nil {
		return err
	}
	return WriteText(s.raw, res, res.options(s.textOptions()))
}

// textOptions returns the text report's options.
func (s *textStream) textOptions() Options {
	o := &s.opt
	return Options{Local: o.Local, Quiet: o.Quiet, Top: o.Top, All: o.All, Width: o.Width, Color: o.Color}
}

func (s *textStream) Close() error { return s.bw.Flush() }

// MaxJSONTimelines bounds the connections whose transitions JSON output
// carries by default.
const MaxJSONTimelines = 10000

// jsonStream writes JSON Lines. Live, each connection record and finding is
// written as it is decided, buffered until the next tick (a tenth of a
// second) or status record, and the summary follows without repeating
// them; offline, the records come before the summary.
type jsonStream struct {
	jw   *JSONWriter
	live bool
}

func newJSONStream(w io.Writer, opt StreamOptions) Stream {
	jw := NewJSONWriter(w, Options{Local: opt.Local, Sensor: opt.Sensor, CommunityIDSeed: opt.CommunityIDSeed})
	return &jsonStream{jw: jw, live: opt.Live}
}

func (s *jsonStream) Needs() Needs {
	return Needs{History: true, Metrics: true, WarningTimelines: MaxJSONTimelines}
}

// Record writes, live, one connection record into the buffer (it reaches
// the writer at the next tick).
func (s *jsonStream) Record(r *tracker.Record) error {
	if !s.live {
		return nil
	}
	jw := s.jw
	jw.j.b = jw.j.b[:0]
	jw.j.conn(r, &jw.opt)
	jw.j.b = append(jw.j.b, '\n')
	_, err := jw.w.Write(jw.j.b)
	return err
}

func (s *jsonStream) Finding(f *tracker.Finding) error { return s.jw.Finding(f) }

// Tick writes out the buffered records.
func (s *jsonStream) Tick(time.Time) error { return s.jw.w.Flush() }

func (s *jsonStream) Stats(st *Stats) error {
	b, err := AppendStatsJSON(nil, st, &s.jw.opt)
	if err != nil {
		return err
	}
	if err := s.jw.emit(append(b, '\n')); err != nil {
		return err
	}
	return s.jw.w.Flush() // a status record goes out at once, with what was buffered
}

// AppendStatsJSON appends the status record st to b, the JSON object the
// json format writes on one line (without the newline), with the sensor
// of opt, and returns it.
func AppendStatsJSON(b []byte, st *Stats, opt *Options) ([]byte, error) {
	c := *st
	c.Sensor = opt.Sensor
	v, err := json.Marshal(&c)
	if err != nil {
		return b, err
	}
	return append(b, v...), nil
}

func (s *jsonStream) Summary(res *Result) error {
	s.jw.opt = res.options(s.jw.opt)
	if !s.live { // live, every record was written as its connection ended
		if err := s.jw.conns(res.Records); err != nil {
			return err
		}
	}
	return s.jw.Summary(res)
}

func (s *jsonStream) Close() error { return s.jw.Close() }

// zeekStream writes Zeek's conn.log. Offline it writes the file at the end
// of the run, sorted by start time, and the #open and #close lines carry
// the first and last packet times, so that a capture always gives the same
// file. Live, as Zeek does, it writes the header when it is made, a row as
// each connection ends (flushed at every tick), and #close when closed,
// stamped by the wall clock.
type zeekStream struct {
	w   io.Writer
	opt StreamOptions
	zw  *ZeekWriter // live
	err error       // live: the header's write error
	// closed is set once the live #close line is written.
	closed bool
}

func newZeekStream(w io.Writer, opt StreamOptions) Stream {
	s := &zeekStream{w: w, opt: opt}
	if opt.Live {
		open := opt.Open
		if open.IsZero() {
			open = opt.now()
		}
		s.zw, s.err = NewZeekWriter(w, ZeekOptions{Open: open.UnixNano(), Local: opt.Local, CommunityIDSeed: opt.CommunityIDSeed})
	}
	return s
}

func (s *zeekStream) Needs() Needs { return Needs{History: true} }

// Record writes, live, the connection's row into the buffer (it reaches
// the writer at the next tick).
func (s *zeekStream) Record(r *tracker.Record) error {
	if s.zw == nil {
		return nil
	}
	if s.err != nil {
		return s.err
	}
	return s.zw.Conn(r)
}

func (s *zeekStream) Finding(f *tracker.Finding) error { return nil }
func (s *zeekStream) Stats(*Stats) error               { return nil }

// Tick writes out the buffered rows.
func (s *zeekStream) Tick(time.Time) error {
	if s.zw == nil {
		return nil
	}
	if s.err != nil {
		return s.err
	}
	return s.zw.Flush()
}

func (s *zeekStream) Summary(res *Result) error {
	if s.zw != nil {
		return s.err // live, every row was written as its connection ended
	}
	return WriteZeek(s.w, res, ZeekOptions{Open: res.Input.First, Close: res.Input.Last, Local: s.opt.Local, CommunityIDSeed: s.opt.CommunityIDSeed})
}

// Close writes, live, the #close line and flushes, once.
func (s *zeekStream) Close() error {
	if s.zw == nil || s.err != nil || s.closed {
		return s.err
	}
	s.closed = true
	return s.zw.CloseAt(s.opt.now().UnixNano())
}

// MaxHTMLTimelines bounds the connections whose timelines are recorded for
// the HTML report.
const MaxHTMLTimelines = 20000

// htmlStream writes the HTML report at the end of the run.
type htmlStream struct {
	w   io.Writer
	opt StreamOptions
}

func newHTMLStream(w io.Writer, opt StreamOptions) Stream { return &htmlStream{w: w, opt: opt} }

func (s *htmlStream) Needs() Needs {
	return Needs{States: true, Metrics: true, FindingTimelines: MaxHTMLTimelines}
}
func (s *htmlStream) Record(*tracker.Record) error     { return nil }
func (s *htmlStream) Finding(f *tracker.Finding) error { return nil }
func (s *htmlStream) Stats(*Stats) error               { return nil }
func (s *htmlStream) Summary(res *Result) error {
	var names []string
	for _, src := range res.Input.Sources {
		names = append(names, filepath.Base(src))
	}
	title := "wirestate report"
	if len(names) > 0 {
		title = "wirestate: " + strings.Join(names, ", ")
	}
	bw := bufio.NewWriterSize(s.w, 1<<20)
	err := WriteHTML(bw, res, HTMLOptions{Title: title, Version: s.opt.Version, Local: s.opt.Local,
		MaxTimelines: MaxHTMLTimelines, AllTimelines: s.opt.AllTimelines})
	if err != nil {
		return err
	}
	return bw.Flush()
}
func (s *htmlStream) Close() error { return nil }

// Stats is a live run's status record: {"type":"stats",...} in JSON, a
// STATS line in text.
type Stats struct {
	Type string `json:"type"`
	// Sensor is set from the encoder's Options (AppendStatsJSON).
	Sensor      string            `json:"sensor"`
	TS          float64           `json:"ts"`
	Final       bool              `json:"final,omitempty"`
	Elapsed     float64           `json:"elapsed"`
	Packets     uint64            `json:"packets"`
	TCPPackets  uint64            `json:"tcp_packets"`
	Received    uint64            `json:"received"`
	Dropped     uint64            `json:"dropped"`
	IfDropped   uint64            `json:"if_dropped"`
	Connections int               `json:"connections"`
	Emitted     uint64            `json:"connections_ended"`
	Evicted     uint64            `json:"evicted"`
	IdleExpired uint64            `json:"idle_expired"`
	Hosts       []StatsHost       `json:"hosts"`
	Findings    map[string]uint64 `json:"findings"`
	// KafkaDropped counts the records the Kafka sink dropped so far
	// rather than stall the capture (absent without drops).
	KafkaDropped uint64 `json:"kafka_dropped,omitempty"`
	// Freezes counts the times an AF_PACKET ring was full and the kernel
	// froze it (0 for libpcap).
	Freezes uint64 `json:"freezes"`
	// Engine names the capture engine ("afpacket" or "libpcap").
	Engine string `json:"engine,omitempty"`
	// Workers breaks the counts down per capture worker when there are
	// several (afpacket fanout), each reading its own socket.
	Workers []StatsWorker `json:"workers,omitempty"`
	// Time is when the record was taken (Unix nanoseconds).
	Time int64 `json:"-"`
}

// StatsWorker is one capture worker's counts in a status record: what
// its socket read and the kernel counted for it, and the connections its
// tracker shard holds (0 in the final record).
type StatsWorker struct {
	Packets     uint64 `json:"packets"`
	TCPPackets  uint64 `json:"tcp_packets"`
	Received    uint64 `json:"received"`
	Dropped     uint64 `json:"dropped"`
	Freezes     uint64 `json:"freezes"`
	Connections int    `json:"connections"`
}

// StatsHost is one host's endpoints by state in a status record.
type StatsHost struct {
	Host   string         `json:"host"`
	States map[string]int `json:"states"`
}

// line formats a status record as one line of text.
func (rec *Stats) line(local bool) string {
	now := time.Unix(0, rec.Time)
	if !local {
		now = now.UTC()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s STATS    packets %d (%d TCP); capture: %d received, %d dropped, %d dropped by the interface",
		now.Format("15:04:05.000000"), rec.Packets, rec.TCPPackets, rec.Received, rec.Dropped, rec.IfDropped)
	if rec.Engine == "afpacket" {
		fmt.Fprintf(&b, ", %d ring freezes", rec.Freezes)
	}
	if len(rec.Workers) > 1 {
		b.WriteString(" (per worker:")
		for i, w := range rec.Workers {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, " %d/%d", w.Packets, w.Dropped)
		}
		b.WriteString(" packets/dropped)")
	}
	if rec.Final {
		fmt.Fprintf(&b, "; connections ended: %d", rec.Emitted)
	} else {
		fmt.Fprintf(&b, "; connections: %d held, %d ended", rec.Connections, rec.Emitted)
	}
	if rec.Evicted > 0 || rec.IdleExpired > 0 {
		fmt.Fprintf(&b, " (%d evicted, %d expired idle)", rec.Evicted, rec.IdleExpired)
	}
	for _, h := range rec.Hosts {
		fmt.Fprintf(&b, "; %s: %s", h.Host, stateCounts(h.States))
	}
	if len(rec.Findings) > 0 {
		kinds := make([]string, 0, len(rec.Findings))
		for k := range rec.Findings {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		parts := make([]string, len(kinds))
		for i, k := range kinds {
			parts[i] = fmt.Sprintf("%s %d", k, rec.Findings[k])
		}
		fmt.Fprintf(&b, "; findings: %s", strings.Join(parts, ", "))
	} else {
		b.WriteString("; findings: none")
	}
	b.WriteByte('\n')
	return b.String()
}

// stateCounts formats a host's states in RFC 793 order: "ESTABLISHED 3,
// TIME_WAIT 1".
func stateCounts(m map[string]int) string {
	var parts []string
	for s := tracker.State(0); int(s) < tracker.NumStates; s++ {
		if n := m[s.String()]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", s, n))
		}
	}
	return strings.Join(parts, ", ")
}
