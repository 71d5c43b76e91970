package report

import (
	"bufio"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/wirestate/wirestate/internal/loghist"
	"github.com/wirestate/wirestate/tracker"
)

// jsonBuf appends JSON values with a fixed field order and no reflection.
type jsonBuf struct {
	b     []byte
	first bool
}

// begin starts a record of the given type, appending to j.b: the type,
// then the sensor that captured it.
func (j *jsonBuf) begin(typ, sensor string) {
	j.b = append(j.b, `{"type":`...)
	j.b = appendString(j.b, typ)
	j.b = append(j.b, `,"sensor":`...)
	j.b = appendString(j.b, sensor)
	j.first = false
}

func (j *jsonBuf) key(k string) {
	if j.first {
		j.first = false
	} else {
		j.b = append(j.b, ',')
	}
	j.b = append(j.b, '"')
	j.b = append(j.b, k...)
	j.b = append(j.b, '"', ':')
}

func (j *jsonBuf) str(k, v string) { j.key(k); j.b = appendString(j.b, v) }
func (j *jsonBuf) uint(k string, v uint64) {
	j.key(k)
	if v < 10 { // most counts of most connections
		j.b = append(j.b, byte('0'+v))
		return
	}
	j.b = strconv.AppendUint(j.b, v, 10)
}
func (j *jsonBuf) bool(k string, v bool) { j.key(k); j.b = strconv.AppendBool(j.b, v) }
func (j *jsonBuf) secs(k string, ns int64) {
	j.key(k)
	j.b = appendSecs(j.b, ns)
}
func (j *jsonBuf) null(k string) { j.key(k); j.b = append(j.b, "null"...) }

// uid, addr and history write values whose text needs no escaping
// without making strings of them.
func (j *jsonBuf) uid(k string, u tracker.UID) {
	j.key(k)
	j.b = append(u.AppendTo(append(j.b, '"')), '"')
}

func (j *jsonBuf) addr(k string, a *tracker.Addr) {
	j.key(k)
	j.b = append(a.AppendTo(append(j.b, '"')), '"')
}

func (j *jsonBuf) history(k string, h *tracker.History) {
	j.key(k)
	j.b = append(h.AppendTo(append(j.b, '"')), '"')
}

// communityID writes the "community_id" of the TCP flow between a and b.
func (j *jsonBuf) communityID(a, b *tracker.Endpoint, seed uint16) {
	j.key("community_id")
	j.b = append(j.b, '"')
	j.b = AppendCommunityID(j.b, a, b, seed)
	j.b = append(j.b, '"')
}

func (j *jsonBuf) end() { j.b = append(j.b, '}') }

// open starts a nested object or array value under key k.
func (j *jsonBuf) open(k string, c byte) {
	j.key(k)
	j.b = append(j.b, c)
	j.first = true
}

// elem starts an element of an array of objects.
func (j *jsonBuf) elem() {
	if !j.first {
		j.b = append(j.b, ',')
	}
	j.b = append(j.b, '{')
	j.first = true
}

func (j *jsonBuf) close(c byte) {
	j.b = append(j.b, c)
	j.first = false
}

// appendSecs formats ns nanoseconds as seconds with microsecond precision,
// as Zeek writes ts and duration.
func appendSecs(b []byte, ns int64) []byte {
	if ns >= 0 && ns < 1e9 {
		// Under a second (round trips, response times, zero-window
		// time): "0." and six digits, without division by 10 per digit.
		us := ns / 1e3
		return append(b, '0', '.', byte('0'+us/1e5), byte('0'+us/1e4%10), byte('0'+us/1e3%10),
			byte('0'+us/100%10), byte('0'+us/10%10), byte('0'+us%10))
	}
	if ns < 0 {
		b = append(b, '-')
		ns = -ns
	}
	return appendMicros(strconv.AppendInt(b, ns/1e9, 10), ns%1e9/1e3)
}

func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			b = append(b, c)
			i++
			continue
		}
		if c < utf8.RuneSelf {
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, `\u00`...)
				b = append(b, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&15])
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// JSONWriter writes JSON Lines records one at a time (for streaming),
// buffered until Close or the stream's tick.
type JSONWriter struct {
	w   *bufio.Writer
	j   jsonBuf
	opt Options
}

// NewJSONWriter returns a JSONWriter on w.
func NewJSONWriter(w io.Writer, opt Options) *JSONWriter {
	return &JSONWriter{w: bufio.NewWriterSize(w, 64<<10), opt: opt}
}

func (jw *JSONWriter) emit(b []byte) error {
	_, err := jw.w.Write(b)
	return err
}

// line emits the record formatted into jw.j.b as one line.
func (jw *JSONWriter) line() error {
	jw.j.b = append(jw.j.b, '\n')
	return jw.emit(jw.j.b)
}

// Conn writes one connection record.
func (jw *JSONWriter) Conn(r *tracker.Record) error {
	jw.j.b = jw.j.b[:0]
	jw.j.conn(r, &jw.opt)
	return jw.line()
}

// AppendConnJSON appends r's connection record to b, the JSON object the
// json format writes on one line (without the newline), and returns it.
func AppendConnJSON(b []byte, r *tracker.Record, opt *Options) []byte {
	j := jsonBuf{b: b}
	j.conn(r, opt)
	return j.b
}

// conn appends one connection record to j.b.
func (j *jsonBuf) conn(r *tracker.Record, opt *Options) {
	c := &r.Conn
	o, p := &c.Peers[tracker.Orig], &c.Peers[tracker.Resp]
	j.begin("conn", opt.Sensor)
	j.uid("uid", c.UID)
	j.secs("ts", c.Start)
	j.addr("orig_h", &c.Orig.Addr)
	j.uint("orig_p", uint64(c.Orig.Port))
	j.addr("resp_h", &c.Resp.Addr)
	j.uint("resp_p", uint64(c.Resp.Port))
	j.communityID(&c.Orig, &c.Resp, opt.CommunityIDSeed)
	j.secs("duration", c.Last-c.Start)
	j.uint("orig_pkts", uint64(o.Pkts))
	j.uint("resp_pkts", uint64(p.Pkts))
	j.uint("orig_bytes", o.Bytes)
	j.uint("resp_bytes", p.Bytes)
	j.uint("orig_ip_bytes", o.IPBytes)
	j.uint("resp_ip_bytes", p.IPBytes)
	j.str("orig_state", o.State.String())
	j.str("resp_state", p.State.String())
	j.bool("orig_state_inferred", o.Inferred())
	j.bool("resp_state_inferred", p.Inferred())
	j.bool("partial", c.Partial())
	if c.PrevUID != 0 {
		j.uid("prev_uid", c.PrevUID)
	} else {
		j.null("prev_uid")
	}
	j.str("end", r.Reason.String())
	j.uint("orig_retrans", uint64(o.Retrans))
	j.uint("resp_retrans", uint64(p.Retrans))
	j.uint("orig_dup_acks", uint64(o.DupAcks))
	j.uint("resp_dup_acks", uint64(p.DupAcks))
	j.uint("orig_keepalives", uint64(o.Keepalives))
	j.uint("resp_keepalives", uint64(p.Keepalives))
	j.uint("orig_zero_windows", uint64(o.ZeroWindows))
	j.uint("resp_zero_windows", uint64(p.ZeroWindows))
	j.str("conn_state", c.ZeekState()) // Zeek's conn_state and history (tracker/zeek.go)
	j.history("history", &c.Hist)
	j.metrics(r)
	j.open("anomalies", '[')
	for k := tracker.AnomalyKind(0); k < tracker.NumAnomalyKinds; k++ {
		if !c.Has(k) {
			continue
		}
		if !j.first {
			j.b = append(j.b, ',')
		}
		j.first = false
		j.b = appendString(j.b, k.String())
	}
	j.close(']')
	if opt.Transitions && (len(r.Transitions) > 0 || len(r.Timeline) > 0) {
		j.open("transitions", '[')
		for _, tr := range r.Transitions {
			j.elem()
			j.secs("ts", tr.Time)
			j.uint("frame", tr.Frame)
			j.str("side", tr.Side.String())
			j.str("from", tr.From.String())
			j.str("to", tr.To.String())
			j.bool("inferred", tr.Inferred)
			if tr.Correction {
				j.bool("correction", true)
			}
			if tr.Timer {
				j.bool("timer", true)
			}
			j.close('}')
		}
		j.close(']')
	}
	j.end()
}

// metrics appends the connection's latency and loss fields (tracker
// Metrics; docs/metrics.md).
func (j *jsonBuf) metrics(r *tracker.Record) {
	m, c := r.MetricsOrZero(), &r.Conn
	for _, f := range [...]struct {
		k  string
		fn func() (int64, bool)
	}{{"handshake_rtt", m.HandshakeRTT}, {"handshake_rtt_resp", m.HandshakeRTTResp}, {"handshake_rtt_orig", m.HandshakeRTTOrig}} {
		if ns, ok := f.fn(); ok {
			j.secs(f.k, ns)
		} else {
			j.null(f.k)
		}
	}
	j.summaryStats("rtt_to_resp", &m.RTT[tracker.Orig])
	j.summaryStats("rtt_to_orig", &m.RTT[tracker.Resp])
	j.summaryStats("app_response", &m.App)
	j.loss("orig_loss", &m.Loss[tracker.Orig])
	j.loss("resp_loss", &m.Loss[tracker.Resp])
	acks, missed := m.CaptureLoss()
	j.uint("missed_bytes", missed)
	j.uint("acks_for_unseen", acks)
	j.secs("orig_zero_window_s", m.ZeroWindowNS[tracker.Orig])
	j.secs("resp_zero_window_s", m.ZeroWindowNS[tracker.Resp])
	j.uint("orig_window_full", uint64(m.Loss[tracker.Orig].WindowFull))
	j.uint("resp_window_full", uint64(m.Loss[tracker.Resp].WindowFull))
	if s, ok := c.ClosedBy(); ok {
		j.str("closed_by", s.String())
	} else {
		j.null("closed_by")
	}
	if by := c.ResetBy(); by != "" {
		j.str("reset_by", by)
	} else {
		j.null("reset_by")
	}
}

// summaryStats appends a {min, avg, max, samples} object (seconds), or
// null without samples.
func (j *jsonBuf) summaryStats(k string, s *tracker.Summary) {
	if s.N == 0 {
		j.null(k)
		return
	}
	j.open(k, '{')
	lo, _ := s.MinNS()
	avg, _ := s.AvgNS()
	hi, _ := s.MaxNS()
	j.secs("min", lo)
	j.secs("avg", avg)
	j.secs("max", hi)
	j.uint("samples", uint64(s.N))
	j.close('}')
}

// loss appends one direction's loss counts.
func (j *jsonBuf) loss(k string, l *tracker.Loss) {
	if l.RetransSegs == 0 && l.RetransBytes == 0 && l.LostBeyond == 0 && l.LostBefore == 0 && l.Spurious == 0 && l.OutOfOrder == 0 {
		// Most connections lose nothing: the same object each time.
		j.key(k)
		j.b = append(j.b, `{"retrans_segs":0,"retrans_bytes":0,"lost_beyond_capture":0,"lost_before_capture":0,"spurious":0,"out_of_order":0}`...)
		return
	}
	j.open(k, '{')
	j.uint("retrans_segs", uint64(l.RetransSegs))
	j.uint("retrans_bytes", l.RetransBytes)
	j.uint("lost_beyond_capture", uint64(l.LostBeyond))
	j.uint("lost_before_capture", uint64(l.LostBefore))
	j.uint("spurious", uint64(l.Spurious))
	j.uint("out_of_order", uint64(l.OutOfOrder))
	j.close('}')
}

// Finding writes one anomaly record.
func (jw *JSONWriter) Finding(f *tracker.Finding) error {
	jw.j.b = jw.j.b[:0]
	jw.j.finding(f, &jw.opt)
	return jw.line()
}

// AppendFindingJSON appends f's anomaly record to b, the JSON object the
// json format writes on one line (without the newline), and returns it.
func AppendFindingJSON(b []byte, f *tracker.Finding, opt *Options) []byte {
	j := jsonBuf{b: b}
	j.finding(f, opt)
	return j.b
}

// finding appends one anomaly record to j.b.
func (j *jsonBuf) finding(f *tracker.Finding, opt *Options) {
	j.begin("anomaly", opt.Sensor)
	j.str("kind", f.Kind.String())
	j.str("severity", f.Severity.String())
	j.secs("ts", f.Time)
	if f.UID != 0 {
		j.str("uid", f.UID.String())
	} else {
		j.null("uid")
	}
	j.str("orig_h", f.Orig.Addr.String())
	j.uint("orig_p", uint64(f.Orig.Port))
	j.str("resp_h", f.Resp.Addr.String())
	j.uint("resp_p", uint64(f.Resp.Port))
	if f.UID != 0 {
		j.communityID(&f.Orig, &f.Resp, opt.CommunityIDSeed)
	} else {
		j.null("community_id") // an aggregate: no one flow
	}
	j.str("summary", f.Summary)
	j.open("evidence", '[')
	for _, e := range f.Evidence {
		j.elem()
		j.secs("ts", e.Time)
		j.uint("frame", e.Frame)
		j.str("what", e.What)
		j.close('}')
	}
	j.close(']')
	j.str("hint", f.Hint)
	if f.Uncertain {
		j.bool("uncertain", true)
	}
	if f.Scope != "" {
		j.str("scope", f.Scope)
		j.uint("count", uint64(f.Count))
		j.secs("first", f.First)
		j.secs("last", f.Last)
		j.open("uids", '[')
		for _, u := range f.UIDs {
			if !j.first {
				j.b = append(j.b, ',')
			}
			j.first = false
			j.b = appendString(j.b, u.String())
		}
		j.close(']')
	}
	j.end()
}

// Summary writes the final summary record: totals and per-host states.
func (jw *JSONWriter) Summary(res *Result) error {
	jw.j.b = jw.j.b[:0]
	jw.j.summary(res, &jw.opt)
	return jw.line()
}

// AppendSummaryJSON appends res's summary record to b, the JSON object the
// json format writes on one line (without the newline), and returns it.
func AppendSummaryJSON(b []byte, res *Result, opt *Options) []byte {
	j := jsonBuf{b: b}
	j.summary(res, opt)
	return j.b
}

// summary appends the summary record to j.b.
func (j *jsonBuf) summary(res *Result, opt *Options) {
	in := &res.Input
	j.begin("summary", opt.Sensor)
	j.open("sources", '[')
	for _, s := range in.Sources {
		if !j.first {
			j.b = append(j.b, ',')
		}
		j.first = false
		j.b = appendString(j.b, s)
	}
	j.close(']')
	j.uint("packets", in.Packets)
	j.uint("tcp_packets", in.TCPSegments)
	j.uint("bytes", in.Bytes)
	j.uint("dropped", in.Dropped)
	if res.KafkaDropped > 0 {
		j.uint("kafka_dropped", res.KafkaDropped)
	}
	j.uint("connections", uint64(res.ConnCount()))
	j.uint("folded", uint64(FoldedCount(res.Folded)))
	j.open("folded_floods", '[')
	for i := range res.Folded {
		f := &res.Folded[i]
		j.elem()
		j.str("kind", f.Kind.String())
		j.str("victim", f.Victim.String())
		j.uint("count", uint64(f.Count))
		j.secs("first_ts", f.First)
		j.secs("last_ts", f.Last)
		j.uint("sources_estimate", uint64(f.Sources.Estimate()))
		j.close('}')
	}
	j.close(']')
	j.uint("partial", res.Tracker.Partial)
	j.uint("reused_tuples", res.Tracker.NewIncarnations)
	j.uint("idle_expired", res.Tracker.IdleExpired)
	j.uint("evicted", res.Tracker.Evicted)
	j.uint("max_held", uint64(res.Tracker.MaxLive))
	j.uint("bad_checksums", res.Tracker.BadChecksum)
	j.uint("odd_flags", res.Tracker.OddFlags)
	cl := CaptureLossOf(res.Records)
	j.open("capture_loss", '{')
	j.uint("acks_for_unseen", cl.AcksForUnseen)
	j.uint("missed_bytes", cl.MissedBytes)
	j.key("percent")
	j.b = strconv.AppendFloat(j.b, cl.Percent(), 'f', 3, 64)
	j.close('}')
	j.uint("rtt_table_evicted", res.Tracker.RTTEvicted)
	j.uint("timestamps_backwards", in.Backwards)
	if in.First != 0 {
		j.secs("first_ts", in.First)
		j.secs("last_ts", in.Last)
	} else {
		j.null("first_ts")
		j.null("last_ts")
	}
	if in.Filter != "" {
		j.str("filter", in.Filter)
		j.uint("filtered", in.Filtered)
	}
	j.open("skipped", '{')
	for _, s := range in.Skipped {
		if s.Count > 0 {
			j.uint(s.Name, s.Count)
		}
	}
	j.close('}')
	findings := map[tracker.AnomalyKind]int{}
	var kinds []tracker.AnomalyKind
	for i := range res.Findings {
		k := res.Findings[i].Kind
		if findings[k] == 0 {
			kinds = append(kinds, k)
		}
		findings[k]++
	}
	j.open("findings", '{')
	for _, k := range kinds {
		j.uint(k.String(), uint64(findings[k]))
	}
	j.close('}')
	at := in.Last
	if res.Snapshot != nil {
		at = res.At
	}
	if at != 0 {
		j.secs("states_at", at)
	} else {
		j.null("states_at")
	}
	hosts, omitted := BusiestHosts(res.Records, res.Snapshot, res.Folded, jsonHosts)
	j.uint("hosts_omitted", uint64(omitted))
	j.open("hosts", '[')
	for _, h := range hosts {
		j.elem()
		j.str("host", h.Host.String())
		j.open("states", '{')
		for st := tracker.State(0); int(st) < tracker.NumStates; st++ {
			if h.Counts[st] > 0 {
				j.uint(st.String(), uint64(h.Counts[st]))
			}
		}
		j.close('}')
		j.open("listening", '[')
		for _, p := range h.Listening {
			if !j.first {
				j.b = append(j.b, ',')
			}
			j.first = false
			j.b = strconv.AppendUint(j.b, uint64(p), 10)
		}
		j.close(']')
		j.close('}')
	}
	j.close(']')
	listeners, omitted := res.Latency.Top(jsonHosts)
	j.uint("listeners_omitted", uint64(omitted))
	j.open("listeners", '[')
	for _, l := range listeners {
		j.elem()
		j.str("listener", l.Listener.String())
		j.uint("conns", l.Conns)
		j.uint("handshakes", l.Handshakes)
		j.percentiles("handshake_rtt", &l.Handshake)
		j.percentiles("app_response", &l.AppResponse)
		j.key("retransmitted_share")
		j.b = strconv.AppendFloat(j.b, l.RetransShare(), 'f', 6, 64)
		j.close('}')
	}
	j.close(']')
	j.end()
}

// percentiles appends h's p50, p90, p99, maximum (seconds) and sample
// count as an object, or null when h is empty.
func (j *jsonBuf) percentiles(k string, h *loghist.Hist) {
	if h.Count() == 0 {
		j.null(k)
		return
	}
	j.open(k, '{')
	j.secs("p50", h.Quantile(0.5))
	j.secs("p90", h.Quantile(0.9))
	j.secs("p99", h.Quantile(0.99))
	j.secs("max", h.Max())
	j.uint("samples", h.Count())
	j.close('}')
}

// conns writes the connection records rs, many of them formatted by two
// goroutines (see inBlocks).
func (jw *JSONWriter) conns(rs []tracker.Record) error {
	return inBlocks(len(rs), func() func([]byte, int) []byte {
		var j jsonBuf
		return func(buf []byte, i int) []byte {
			j.b = buf
			j.conn(&rs[i], &jw.opt)
			return append(j.b, '\n')
		}
	}, jw.emit)
}

// Close flushes buffered output.
func (jw *JSONWriter) Close() error { return jw.w.Flush() }

// Finish writes every connection record of res and the summary, and
// flushes: the end of a JSON Lines report whose findings were written
// already (streamed, in live capture).
func (jw *JSONWriter) Finish(res *Result) error {
	if err := jw.conns(res.Records); err != nil {
		return err
	}
	if err := jw.Summary(res); err != nil {
		return err
	}
	return jw.Close()
}
