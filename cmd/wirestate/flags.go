package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/wirestate/wirestate/tracker/detect"
)

// Flags holds every command-line option, grouped as the help text shows
// them. It is registered on one pflag.FlagSet.
type Flags struct {
	// Input.
	Read   []string
	Strict bool

	// Output.
	Format    string
	Timeline  string
	Conns     []string
	Hosts     []string
	Ports     []uint
	At        string
	LocalTime bool
	Output    string
	// Rotate rotates the -o file this often (live; 0: never).
	Rotate time.Duration
	// Sensor names this sensor in every JSON record (--sensor).
	Sensor string
	// CommunityIDSeed seeds the Community ID of JSON records and conn.log
	// (--community-id-seed).
	CommunityIDSeed uint16

	// Tracker.
	MSL         time.Duration
	IdleTimeout time.Duration
	Shards      int
	MaxConns    int
	FoldAfter   int

	// Zeek-compatible output.
	Zeek ZeekFlags
	// Live capture.
	Live LiveFlags
	// HTML report.
	HTML HTMLFlags
	// Kafka output.
	Kafka KafkaFlags

	// Detectors.
	Detect   detect.Config
	Disabled map[string]*bool

	// Misc.
	Version    bool
	CPUProfile string
	MemProfile string

	// Filter is the BPF filter expression (positional arguments).
	Filter string
	// Numeric is -n/-nn, accepted for tcpdump's users: wirestate never
	// resolves names.
	Numeric int
	// Quiet prints the findings only (-q).
	Quiet bool
	// Top, All and Color shape the text report (term.go).
	Top   int
	All   bool
	Color string

	// Man and Completion print a man page or a shell completion script
	// generated from the flags (hidden; make install uses them).
	Man        bool
	Completion string

	// changed names the flags given on the command line; fs is the flag
	// set, for the help text.
	changed map[string]bool
	fs      *pflag.FlagSet
}

func newFlagSet(f *Flags) *pflag.FlagSet {
	fs := pflag.NewFlagSet("wirestate", pflag.ContinueOnError)
	fs.SortFlags = false
	fs.StringArrayVarP(&f.Read, "read", "r", nil, "read packets from `FILE` (pcap or pcapng, optionally gzipped; - for stdin; a directory or glob; repeat to merge files in time order)")
	fs.BoolVar(&f.Strict, "strict", false, "stop at the first malformed record or packet instead of counting and skipping it")

	fs.StringVar(&f.Format, "format", "text", "output format: text, json (JSON Lines) or zeek (Zeek conn.log)")
	fs.StringVar(&f.Timeline, "timeline", "anomalous", "print per-packet timelines for: anomalous, all or none connections")
	fs.StringArrayVar(&f.Conns, "conn", nil, "print the timeline of the connection with this `UID` (repeatable)")
	fs.StringArrayVar(&f.Hosts, "host", nil, "only report connections with this `ADDR` at either end (repeatable)")
	fs.Var((*portList)(&f.Ports), "port", "only report connections with this `PORT` at either end (repeatable)")
	fs.StringVar(&f.At, "at", "", "per-host states at `TIME` (RFC 3339, epoch seconds, or an offset from the capture start such as +12.5s) instead of at the end")
	fs.BoolVar(&f.LocalTime, "local-time", false, "print times in the local time zone instead of UTC")
	fs.StringVarP(&f.Output, "output", "o", "-", "write the report to `FILE`")
	registerRotateFlag(fs, &f.Rotate)
	fs.BoolVarP(&f.Quiet, "quiet", "q", false, "print the findings only (text report)")
	fs.IntVar(&f.Top, "top", 0, "text report: list `N` entries per finding group, host view and connection table (default 10 per finding group, 20 hosts, 20 connections with findings)")
	fs.BoolVar(&f.All, "all", false, "text report: list everything (every aggregate, host and connection)")
	fs.StringVar(&f.Color, "color", "auto", "text report colours: auto (on a terminal, unless NO_COLOR is set), always or never")
	fs.CountVarP(&f.Numeric, "numeric", "n", "accepted for tcpdump's -n and -nn: wirestate never resolves names")
	fs.StringVar(&f.Sensor, "sensor", hostname(), "`NAME` of this sensor, in every JSON and Kafka record (\"sensor\"), so that records of many sensors merge cleanly")
	fs.Uint16Var(&f.CommunityIDSeed, "community-id-seed", 0, "seed `N` (0-65535) of the Community ID v1 in JSON records and conn.log (\"community_id\"); use the seed your Zeek (CommunityID::seed) and Suricata (community-id-seed) use, so that records join")

	fs.DurationVar(&f.MSL, "msl", 30*time.Second, "maximum segment lifetime: closed connections are kept 2*MSL (TIME_WAIT), as Linux's 60 s")
	fs.DurationVar(&f.IdleTimeout, "idle-timeout", time.Hour, "expire connections with no packet for this long (reported as still open)")
	fs.IntVar(&f.Shards, "shards", 0, "flow-table shards, each with its own worker (default GOMAXPROCS); live with afpacket, each of the --workers has one")
	fs.IntVar(&f.MaxConns, "max-conns", 1<<20, "hold at most this many connections (about 256 bytes each); past it the longest-closed, then the least recently active are evicted and counted")

	fs.IntVar(&f.FoldAfter, "fold-after", 10000, "per victim, keep this many records of possible flood members (lone SYNs never completed, lone RSTs/ACKs for unknown connections) and count the rest, offline and live; 0 keeps every record (the default in Zeek mode)")

	registerLiveFlags(fs, &f.Live)
	registerHTMLFlags(fs, &f.HTML)
	registerZeekFlags(fs, &f.Zeek)
	registerKafkaFlags(fs, &f.Kafka)

	f.Detect = detect.Defaults()
	fs.DurationVar(&f.Detect.CloseWaitAfter, "close-wait-after", f.Detect.CloseWaitAfter, "report close-wait-stuck after this long in CLOSE_WAIT (packet time)")
	fs.IntVar(&f.Detect.SYNFloodMin, "syn-flood-min", f.Detect.SYNFloodMin, "syn-flood: unanswered SYN-ACKs on one listener within --syn-flood-window")
	fs.DurationVar(&f.Detect.SYNFloodWindow, "syn-flood-window", f.Detect.SYNFloodWindow, "syn-flood: the window those handshakes must fall in")
	fs.IntVar(&f.Detect.SYNFloodSources, "syn-flood-sources", f.Detect.SYNFloodSources, "syn-flood: distinct source addresses needed")
	fs.IntVar(&f.Detect.AbortBulk, "abort-bulk", f.Detect.AbortBulk, "abortive-close: server-side aborts on one listener that make a warning")
	fs.IntVar(&f.Detect.HalfOpenRetrans, "half-open-retrans", f.Detect.HalfOpenRetrans, "half-open: unanswered retransmissions in a row that mean the peer is gone")
	f.Disabled = map[string]*bool{}
	for _, k := range detectorKinds() {
		f.Disabled[k.String()] = fs.Bool("no-"+k.String(), false, "turn off the "+k.String()+" detector ("+k.Doc()+")")
	}

	fs.BoolVar(&f.Version, "version", false, "print the version and exit")
	fs.StringVar(&f.CPUProfile, "cpuprofile", "", "write a Go CPU profile of the run to `FILE` (for performance work)")
	fs.StringVar(&f.MemProfile, "memprofile", "", "write a Go heap profile (allocations) at the end of the run to `FILE` (for performance work)")
	fs.BoolVar(&f.Man, "man", false, "print the man page (roff) and exit")
	fs.StringVar(&f.Completion, "completion", "", "print the `SHELL` (bash or zsh) completion script and exit")
	fs.MarkHidden("man")
	fs.MarkHidden("completion")
	// Help goes to standard output (run prints it on ErrHelp); a usage
	// error is one line on standard error, not the whole help.
	fs.Usage = func() {}
	fs.SetOutput(io.Discard)
	return fs
}

// hostname is the default sensor name: the host's name, or "unknown".
func hostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "unknown"
	}
	return h
}

// parseFlags parses args into a Flags, with the BPF filter taken from the
// positional arguments as tcpdump does.
func parseFlags(args []string) (*Flags, error) {
	f := &Flags{changed: map[string]bool{}}
	fs := newFlagSet(f)
	f.fs = fs
	if err := fs.Parse(args); err != nil {
		return nil, userTerms(err)
	}
	fs.Visit(func(fl *pflag.Flag) { f.changed[fl.Name] = true })
	f.Filter = strings.Join(fs.Args(), " ")
	if len(f.Read) > 0 {
		if f.Live.Interface != "" {
			return nil, errors.New("give -r FILE or -i IFACE, not both")
		}
		for _, name := range liveOnlyFlags {
			if f.changed[name] {
				return nil, fmt.Errorf("--%s is for live capture (-i IFACE); it makes no sense with -r", name)
			}
		}
	}
	if zeekMode(f) && !fs.Changed("fold-after") {
		f.FoldAfter = 0 // conn.log has a row for every connection
	}
	if f.FoldAfter < 0 {
		return nil, fmt.Errorf("--fold-after %d: want 0 (keep every record) or more", f.FoldAfter)
	}
	switch f.Format {
	case "text", "json", "zeek":
	default:
		return nil, fmt.Errorf("--format %q: want text, json or zeek", f.Format)
	}
	if err := checkTextFlags(f); err != nil {
		return nil, err
	}
	if err := checkRotate(f); err != nil {
		return nil, err
	}
	switch f.Timeline {
	case "anomalous", "all", "none":
	default:
		return nil, fmt.Errorf("--timeline %q: want anomalous, all or none", f.Timeline)
	}
	if f.MSL <= 0 {
		return nil, fmt.Errorf("--msl must be positive")
	}
	if f.IdleTimeout <= 0 {
		return nil, fmt.Errorf("--idle-timeout must be positive")
	}
	f.Detect.MSL = f.MSL
	f.Detect.Disabled = map[string]bool{}
	for k, off := range f.Disabled {
		if *off {
			f.Detect.Disabled[k] = true
		}
	}
	return f, nil
}

// liveOnlyFlags are the options that only live capture reads.
var liveOnlyFlags = []string{"write", "file-size", "duration", "buffer-size", "snaplen", "no-promisc",
	"immediate-mode", "stats-interval", "metrics-addr", "report-conns", "evidence-packets", "list-interfaces",
	"capture-engine", "workers", "rotate"}

// portList is a repeatable --port flag whose errors speak the user's terms.
type portList []uint

func (p *portList) String() string {
	if len(*p) == 0 {
		return ""
	}
	parts := make([]string, len(*p))
	for i, v := range *p {
		parts[i] = strconv.FormatUint(uint64(v), 10)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func (p *portList) Set(s string) error {
	for _, part := range strings.Split(s, ",") {
		v, err := strconv.ParseUint(strings.TrimSpace(part), 10, 16)
		if err != nil || v == 0 {
			return fmt.Errorf("not a port number (1-65535)")
		}
		*p = append(*p, uint(v))
	}
	return nil
}

func (p *portList) Type() string { return "port" }

// pflagInvalid matches pflag's message for a value its flag rejected.
var pflagInvalid = regexp.MustCompile(`^invalid argument "(.*)" for "(.*)" flag: (.*)$`)

// userTerms rewrites pflag's errors in the user's terms: `--port http: not
// a port number (1-65535)` rather than Go's parser messages.
func userTerms(err error) error {
	m := pflagInvalid.FindStringSubmatch(err.Error())
	if m == nil {
		return err
	}
	name, val, msg := m[2], m[1], m[3]
	if i := strings.Index(name, "--"); i >= 0 {
		name = name[i:] // "-c, --count" → "--count"
	}
	switch {
	case strings.Contains(msg, "strconv.Parse"):
		msg = "not a whole number"
		if strings.Contains(err.Error(), "out of range") {
			msg = "out of range"
		}
	case strings.Contains(msg, "time: "):
		msg = "not a duration (like 500ms, 30s or 2m)"
	}
	return fmt.Errorf("%s %s: %s", name, val, msg)
}
