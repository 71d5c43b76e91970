package report

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/wirestate/wirestate/internal/par"

	"github.com/wirestate/wirestate/tracker"
)

// jsonHosts bounds the JSON summary's per-host view (the busiest hosts).
const jsonHosts = 1000

// Options controls what the writers print.
type Options struct {
	// Timelines, when set, selects the records whose timelines are
	// printed (records without a recorded timeline are skipped).
	Timelines func(r *tracker.Record) bool
	// Transitions adds each connection's transitions to JSON records.
	Transitions bool
	// Local prints times in the local zone instead of UTC.
	Local bool
	// Quiet prints the findings only.
	Quiet bool
	// Top caps every list of the text report (each finding group's
	// aggregates, the per-host view, the connection table) at this many
	// entries; 0 keeps the defaults (DefaultTopFindings, DefaultTopHosts,
	// DefaultTopConns).
	Top int
	// All lists everything in the text report: every aggregate, host and
	// connection.
	All bool
	// Width is the column the text report wraps its prose at, and the
	// width its tables shrink to when they can; 0 means DefaultWidth.
	Width int
	// Color marks severities and states with ANSI colours.
	Color bool
	// Sensor names the capturing machine in JSON records ("sensor").
	Sensor string
	// CommunityIDSeed seeds the Community ID of JSON records
	// ("community_id"); 0 is the spec's and Zeek's and Suricata's default.
	CommunityIDSeed uint16
}

func (o *Options) stamp(ns int64) string {
	st := stamper{local: o.Local}
	return string(st.append(nil, ns))
}

// WriteText writes the report for a person at a terminal: totals, the
// per-host states, findings, one line per connection and the selected
// timelines.
func WriteText(w io.Writer, res *Result, opt Options) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	if opt.Quiet {
		writeFindings(bw, res, &opt)
		return bw.Flush()
	}
	writeTotals(bw, res, &opt)
	writeHosts(bw, res, &opt)
	writeLatency(bw, res, &opt)
	writeFindings(bw, res, &opt)
	writeConns(bw, res, &opt)
	for i := range res.Records {
		r := &res.Records[i]
		if len(r.Timeline) > 0 && opt.Timelines != nil && opt.Timelines(r) {
			writeTimeline(bw, r, res, &opt)
		}
	}
	return bw.Flush()
}

func writeTotals(w *bufio.Writer, res *Result, opt *Options) {
	in := &res.Input
	fmt.Fprintf(w, "wirestate: %s\n", strings.Join(in.Sources, ", "))
	for i, f := range in.Formats {
		if i < len(in.Sources) && len(in.Sources) > 1 {
			fmt.Fprintf(w, "  %s: %s\n", in.Sources[i], f)
		} else {
			fmt.Fprintf(w, "  format: %s\n", f)
		}
	}
	fmt.Fprintf(w, "  packets: %d read, %d TCP segments analysed", in.Packets, in.TCPSegments)
	if in.Dropped > 0 {
		fmt.Fprintf(w, ", %d dropped by the capture", in.Dropped)
	}
	fmt.Fprintln(w)
	if in.First != 0 {
		fmt.Fprintf(w, "  span: %s → %s (%s)\n", opt.stamp(in.First), opt.stamp(in.Last), fmtDur(in.Last-in.First))
	}
	if in.Filter != "" {
		fmt.Fprintf(w, "  filter: %s (%d packets did not match)\n", in.Filter, in.Filtered)
	}
	var skips []string
	var skipped uint64
	for _, s := range in.Skipped {
		if s.Count > 0 {
			skips = append(skips, fmt.Sprintf("%d %s", s.Count, s.Name))
			skipped += s.Count
		}
	}
	if skipped > 0 {
		fmt.Fprintf(w, "  skipped: %d (%s)\n", skipped, strings.Join(skips, ", "))
	} else {
		fmt.Fprintf(w, "  skipped: none\n")
	}
	if in.Backwards > 0 {
		fmt.Fprintf(w, "  timestamps going backwards: %d\n", in.Backwards)
	}
	st := &res.Tracker
	var extra []string
	for i := range res.Folded {
		f := &res.Folded[i]
		extra = append(extra, fmt.Sprintf("%d possible %s members to %s counted but not listed (--fold-after)", f.Count, f.Kind, f.Victim))
	}
	if st.Partial > 0 {
		extra = append(extra, fmt.Sprintf("%d picked up mid-stream", st.Partial))
	}
	if st.NewIncarnations > 0 {
		extra = append(extra, fmt.Sprintf("%d reused 4-tuples", st.NewIncarnations))
	}
	if st.IdleExpired > 0 {
		extra = append(extra, fmt.Sprintf("%d expired idle", st.IdleExpired))
	}
	if st.Evicted > 0 {
		extra = append(extra, fmt.Sprintf("%d evicted", st.Evicted))
	}
	if st.BadChecksum > 0 {
		extra = append(extra, fmt.Sprintf("%d segments with bad checksums", st.BadChecksum))
	}
	line := fmt.Sprintf("connections: %d", res.ConnCount())
	if len(extra) > 0 {
		line += fmt.Sprintf(" (%s)", strings.Join(extra, ", "))
	}
	wrap(w, opt.width(), "  ", "    ", line)
	if cl := CaptureLossOf(res.Records); cl.AcksForUnseen > 0 {
		wrap(w, opt.width(), "  ", "    ", fmt.Sprintf("capture loss: %d bytes acknowledged but never captured (%.3f%% of the data), %d ACKs for unseen data; findings that rest on an absent packet are uncertain on those connections",
			cl.MissedBytes, cl.Percent(), cl.AcksForUnseen))
	}
}

func writeHosts(w *bufio.Writer, res *Result, opt *Options) {
	hosts, omitted := BusiestHosts(res.Records, res.Snapshot, res.Folded, opt.limit(DefaultTopHosts))
	at := res.Input.Last
	what := "end of capture"
	if res.Snapshot != nil {
		at, what = res.At, "requested time"
	}
	fmt.Fprintln(w)
	wrap(w, opt.width(), "", "  ", fmt.Sprintf("Per host, what `ss -tan` would list at %s (%s):", opt.stamp(at), what))
	if len(hosts) == 0 {
		fmt.Fprintln(w, "  (no connections)")
		return
	}
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	inferred := false
	for _, h := range hosts {
		var parts []string
		if len(h.Listening) > 0 {
			ports := make([]string, len(h.Listening))
			for i, p := range h.Listening {
				ports[i] = ":" + strconv.Itoa(int(p))
			}
			parts = append(parts, opt.paint(stateColor(tracker.Listen), "LISTEN")+" "+strings.Join(ports, ","))
		}
		for st := tracker.State(0); int(st) < tracker.NumStates; st++ {
			if n := h.Counts[st]; n > 0 {
				p := fmt.Sprintf("%s %d", opt.paint(stateColor(st), st.SSName()), n)
				if h.Inferred[st] > 0 {
					inferred = true
					p += fmt.Sprintf(" (%d?)", h.Inferred[st])
				}
				parts = append(parts, p)
			}
		}
		if len(parts) == 0 {
			parts = append(parts, "no open connections")
		}
		fmt.Fprintf(tw, "  %s\t%s\n", h.Host, strings.Join(parts, "  "))
	}
	tw.Flush()
	if inferred {
		fmt.Fprintln(w, "  (n?) of them inferred from assumed delivery")
	}
	if omitted > 0 {
		wrap(w, opt.width(), "  ", "    ", fmt.Sprintf("… and %d more hosts with fewer connections (see --host, --top N, --all, or the JSON summary)", omitted))
	}
}

func writeConns(w *bufio.Writer, res *Result, opt *Options) {
	if len(res.Records) == 0 {
		return
	}
	rows, withFindings := pickConns(res, opt.limit(DefaultTopConns))
	n := len(res.Records)
	rec := func(i int) *tracker.Record { return &res.Records[i] }
	if rows != nil {
		n = len(rows)
		rec = func(i int) *tracker.Record { return &res.Records[rows[i]] }
		fmt.Fprintf(w, "\nConnections with findings:\n")
	} else {
		fmt.Fprintf(w, "\nConnections:\n")
	}
	if n > 0 {
		writeTable(w, n, rec, opt)
	}
	if rows == nil {
		return
	}
	if more := withFindings - len(rows); more > 0 {
		wrap(w, opt.width(), "  ", "    ", fmt.Sprintf("… and %d more connections with findings (--top N or --all lists them)", more))
	}
	if rest := len(res.Records) - withFindings; rest > 0 {
		wrap(w, opt.width(), "  ", "    ", fmt.Sprintf("… and %d connections without findings (--all lists them)", rest))
	}
}

// hasFindings reports whether c is marked with any finding kind.
func hasFindings(c *tracker.Conn) bool {
	for k := tracker.AnomalyKind(0); k < tracker.NumAnomalyKinds; k++ {
		if c.Has(k) {
			return true
		}
	}
	return false
}

// pickConns chooses the rows of the connection table: nil for every
// record (limit < 0, or no more records than limit); otherwise the
// indexes, in start order, of up to limit records with findings, taken in
// turn from each finding kind, most severe first, so that every kind has
// rows. withFindings counts the records with findings.
func pickConns(res *Result, limit int) (rows []int, withFindings int) {
	if limit < 0 || len(res.Records) <= limit {
		return nil, 0
	}
	// Each kind's first limit records: no kind needs more.
	var byKind [tracker.NumAnomalyKinds][]int
	for i := range res.Records {
		c := &res.Records[i].Conn
		if !hasFindings(c) {
			continue
		}
		withFindings++
		for k := tracker.AnomalyKind(0); k < tracker.NumAnomalyKinds; k++ {
			if c.Has(k) && len(byKind[k]) < limit {
				byKind[k] = append(byKind[k], i)
			}
		}
	}
	var order []tracker.AnomalyKind
	seen := map[tracker.AnomalyKind]bool{}
	for _, g := range GroupFindings(res.Findings) {
		order = append(order, g.Kind)
		seen[g.Kind] = true
	}
	for k := tracker.AnomalyKind(0); k < tracker.NumAnomalyKinds; k++ {
		if !seen[k] {
			order = append(order, k)
		}
	}
	chosen := map[int]bool{}
	rows = []int{}
	for round := 0; len(rows) < limit && len(rows) < withFindings; round++ {
		progress := false
		for _, k := range order {
			if round < len(byKind[k]) && len(rows) < limit {
				progress = true
				if i := byKind[k][round]; !chosen[i] {
					chosen[i] = true
					rows = append(rows, i)
				}
			}
		}
		if !progress {
			break
		}
	}
	slices.Sort(rows)
	return rows, withFindings
}

// writeTable writes the connection table of n rows, row i being rec(i). A
// table of possibly millions of rows: it measures the columns in one pass,
// then writes the rows in blocks (text/tabwriter would hold the whole table
// in memory). Both passes run on two goroutines. When the table fits the
// width without its notes, notes that would overflow it go to a line of
// their own.
func writeTable(w *bufio.Writer, n int, rec func(i int) *tracker.Record, opt *Options) {
	head := [...]string{"UID", "ORIG", "RESP", "START", "DURATION", "PKTS →/←", "BYTES →/←", "ORIG STATE", "RESP STATE", "NOTES"}
	const notes = len(head) - 1
	type cells [len(head)][]byte
	// fill formats r's cells; the last (notes) only when the row is
	// written, since its width is not measured.
	fill := func(cell *cells, st *stamper, r *tracker.Record, last bool) {
		c := &r.Conn
		o, p := &c.Peers[tracker.Orig], &c.Peers[tracker.Resp]
		for i := range cell {
			cell[i] = cell[i][:0]
		}
		cell[0] = c.UID.AppendTo(cell[0])
		cell[1] = c.Orig.AppendTo(cell[1])
		cell[2] = c.Resp.AppendTo(cell[2])
		cell[3] = st.append(cell[3], c.Start)
		cell[4] = append(appendSeconds(cell[4], c.Last-c.Start), 's')
		cell[5] = strconv.AppendUint(cell[5], uint64(o.Pkts), 10)
		cell[5] = append(cell[5], '/')
		cell[5] = strconv.AppendUint(cell[5], uint64(p.Pkts), 10)
		cell[6] = strconv.AppendUint(cell[6], o.Bytes, 10)
		cell[6] = append(cell[6], '/')
		cell[6] = strconv.AppendUint(cell[6], p.Bytes, 10)
		cell[7] = appendStateText(cell[7], o)
		cell[8] = appendStateText(cell[8], p)
		if last {
			cell[notes] = appendNotes(cell[notes], r)
		}
	}
	var width [len(head)]int
	for i, h := range head {
		width[i] = len([]rune(h))
	}
	var part [2][len(head)]int
	par.Halves(n, func(k, from, to int) {
		var cell cells
		st := stamper{local: opt.Local}
		for i := from; i < to; i++ {
			fill(&cell, &st, rec(i), false)
			for j := range cell[:notes] {
				part[k][j] = max(part[k][j], len(cell[j]))
			}
		}
	})
	for j := range width {
		width[j] = max(width[j], part[0][j], part[1][j])
	}
	// fixed is the table's width up to its notes.
	fixed := 0
	for j := range head[:notes] {
		fixed += 2 + width[j]
	}
	limit := opt.width()
	split := fixed <= limit
	// row appends one line; color(j) is the colour of cell j.
	row := func(line []byte, cell func(j int) []byte, runes func(j int) int, color func(j int) string) []byte {
		start := len(line)
		line = append(line, "  "...)
		last := notes
		if split && fixed+2+runes(notes) > limit {
			last = notes - 1
		}
		for j := range last + 1 {
			if c := color(j); c != "" {
				line = append(append(append(line, c...), cell(j)...), ansiReset...)
			} else {
				line = append(line, cell(j)...)
			}
			if j < last {
				for k := runes(j); k < width[j]+2; k++ {
					line = append(line, ' ')
				}
			}
		}
		for len(line) > start && line[len(line)-1] == ' ' {
			line = line[:len(line)-1]
		}
		line = append(line, '\n')
		if last < notes && runes(notes) > 0 {
			line = append(append(append(line, "      notes: "...), cell(notes)...), '\n')
		}
		return line
	}
	noColor := func(int) string { return "" }
	// The heading NOTES goes when the notes go to lines of their own.
	heading := func(j int) string {
		if j == notes && split && fixed+2+len(head[j]) > limit {
			return ""
		}
		return head[j]
	}
	w.Write(row(nil, func(j int) []byte { return []byte(heading(j)) }, func(j int) int { return len([]rune(heading(j))) }, noColor))
	inBlocks(n, func() func([]byte, int) []byte {
		var cell cells
		var r *tracker.Record
		st := stamper{local: opt.Local}
		get := func(j int) []byte { return cell[j] }
		size := func(j int) int { return len(cell[j]) }
		color := noColor
		if opt.Color {
			color = func(j int) string {
				switch j {
				case 7:
					return stateColor(r.Conn.Peers[tracker.Orig].State)
				case 8:
					return stateColor(r.Conn.Peers[tracker.Resp].State)
				}
				return ""
			}
		}
		return func(buf []byte, i int) []byte {
			r = rec(i)
			fill(&cell, &st, r, true)
			return row(buf, get, size, color)
		}
	}, func(b []byte) error { _, err := w.Write(b); return err })
}

// appendStateText appends p's state, marked "?" when inferred.
func appendStateText(b []byte, p *tracker.Peer) []byte {
	b = append(b, p.State.String()...)
	if p.Inferred() {
		b = append(b, '?')
	}
	return b
}

// appendNotes appends the connection table's notes on r, comma-separated.
func appendNotes(b []byte, r *tracker.Record) []byte {
	c := &r.Conn
	start := len(b)
	sep := func() {
		if len(b) > start {
			b = append(b, ", "...)
		}
	}
	if c.Partial() {
		b = append(b, "partial"...)
	}
	if c.PrevUID != 0 {
		sep()
		b = c.PrevUID.AppendTo(append(b, "reuses "...))
	}
	if r.Reason != tracker.EndCaptureEnd && r.Reason != tracker.EndClosed {
		sep()
		b = append(b, r.Reason.String()...)
	}
	if rt := c.Peers[0].Retrans + c.Peers[1].Retrans; rt > 0 {
		sep()
		b = append(strconv.AppendUint(b, uint64(rt), 10), " retrans"...)
	}
	return c.AppendAnomalyNames(b, start, ", ")
}

func writeTimeline(w *bufio.Writer, r *tracker.Record, res *Result, opt *Options) {
	c := &r.Conn
	end := ""
	if e := EndedBy(r); e != "" {
		end = ", " + e
	}
	fmt.Fprintf(w, "\nTimeline %s  %s → %s  (start %s%s)\n", c.UID, c.Orig, c.Resp, opt.stamp(c.Start), end)
	for _, l := range MetricsLines(r) {
		wrap(w, opt.width(), "  ", "    ", l)
	}
	var rows bytes.Buffer
	tw := tabwriter.NewWriter(&rows, 2, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "  TIME\tFRAME\t DIR \tFLAGS\tSEQ\tACK\tLEN\tWIN\t ORIG\t RESP\t NOTE\t")
	ti := 0
	for _, e := range r.Timeline {
		var moved [2]bool
		var tmarks [2]string
		for k := 0; k < int(e.NTrans) && ti < len(r.Transitions); k++ {
			tr := r.Transitions[ti]
			ti++
			moved[tr.Side] = true
			if tr.Correction {
				tmarks[tr.Side] = "!"
			}
		}
		dir := " →  "
		if e.From == tracker.Resp {
			dir = "  ← "
		}
		ack := "-"
		if e.Flags&tracker.FlagACK != 0 {
			ack = strconv.FormatUint(uint64(e.Ack), 10)
		}
		fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\t%d\t%s\t%d\t%d\t %s\t %s\t %s\t\n",
			fmtRel(e.Time-c.Start), e.Frame, dir, tracker.FlagString(e.Flags), e.Seq, ack, e.Len, e.Window,
			cell(e.States[0], e.Inferred[0], moved[0], tmarks[0]), cell(e.States[1], e.Inferred[1], moved[1], tmarks[1]),
			strings.Join(noteKinds(e.Kind), ","))
	}
	for ; ti < len(r.Transitions); ti++ {
		tr := r.Transitions[ti]
		if tr.Timer {
			fmt.Fprintf(tw, "  %s\t\t timer\t\t\t\t\t\t %s\t\t %s→%s after 2MSL\t\n", fmtRel(tr.Time-c.Start), tr.Side, tr.From, tr.To)
		}
	}
	tw.Flush()
	// Right-aligned cells pad the last column: no line ends in spaces.
	for _, line := range bytes.SplitAfter(rows.Bytes(), []byte("\n")) {
		w.Write(bytes.TrimRight(line, " \n"))
		if len(line) > 0 {
			w.WriteByte('\n')
		}
	}
	fmt.Fprintln(w, "  * state changed on this packet, ? inferred from assumed delivery, ! an earlier inference undone")
}

// cell formats one endpoint's state for a timeline row.
func cell(st tracker.State, inferred, moved bool, mark string) string {
	s := st.String()
	if inferred {
		s += "?"
	}
	if moved {
		s += "*"
	}
	return s + mark
}

// noteKinds lists the packet kinds worth showing in a timeline.
func noteKinds(k tracker.PacketKind) []string {
	k &^= tracker.KindNewData | tracker.KindAckAdvanced | tracker.KindNewConn | tracker.KindCorrection
	if k&(tracker.KindSYNRetransmission|tracker.KindSYNACKRetransmission|tracker.KindFINRetransmission) != 0 {
		k &^= tracker.KindRetransmission
	}
	return k.Names()
}

func fmtDur(ns int64) string {
	return string(append(appendSeconds(nil, ns), 's'))
}

func fmtRel(ns int64) string {
	return string(appendSeconds(nil, ns))
}
