package report

import (
	"bufio"
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"text/tabwriter"

	"github.com/wirestate/wirestate/internal/loghist"
	"github.com/wirestate/wirestate/tracker"
)

// MaxListeners bounds the listeners a Latency keeps apart; connections to
// any further listener count together under Other, so a capture of a
// million services costs no more than one of a few thousand.
const MaxListeners = 4096

// DefaultTopListeners is how many listeners the text report's latency view
// lists unless told otherwise (--top, --all).
const DefaultTopListeners = 5

// ListenerLatency sums up, for one listener (the responder's address and
// port), how long the connections to it took: the handshake's round trip
// at the capture point, the application's response time, and the share of
// segments retransmitted.
type ListenerLatency struct {
	// Listener is the responder's endpoint; zero for Other.
	Listener tracker.Endpoint
	// Conns counts the connections with latency figures (a complete
	// handshake or data); Handshakes those with a complete handshake.
	Conns, Handshakes uint64
	// Handshake holds each connection's handshake round trip.
	Handshake loghist.Hist
	// AppResponse holds each connection's mean application response
	// time (one value per connection that had a request answered).
	AppResponse loghist.Hist
	// Segments and Retrans count the connections' segments, both ways, and
	// the retransmitted ones among them.
	Segments, Retrans uint64
}

// RetransShare returns the share of segments retransmitted, 0 to 1.
func (l *ListenerLatency) RetransShare() float64 {
	if l.Segments == 0 {
		return 0
	}
	return float64(l.Retrans) / float64(l.Segments)
}

// Latency gathers ListenerLatency per listener from connection records.
// The zero value is ready. It is not safe for concurrent use; keep one per
// shard or worker and Merge them.
type Latency struct {
	byListener map[tracker.Endpoint]*ListenerLatency
	// Other gathers the listeners past MaxListeners.
	Other ListenerLatency
}

// Add counts the record r if it has latency figures.
func (l *Latency) Add(r *tracker.Record) {
	m := r.MetricsOrZero()
	if !m.On() {
		return
	}
	ll := l.listener(r.Conn.Resp)
	ll.Conns++
	if ns, ok := m.HandshakeRTT(); ok {
		ll.Handshakes++
		ll.Handshake.Add(ns)
	}
	if ns, ok := m.App.AvgNS(); ok {
		ll.AppResponse.Add(ns)
	}
	for s := range r.Conn.Peers {
		p := &r.Conn.Peers[s]
		ll.Segments += uint64(p.Pkts)
		ll.Retrans += uint64(p.Retrans)
	}
}

// listener returns the entry of e, making it unless MaxListeners are kept
// already (then Other).
func (l *Latency) listener(e tracker.Endpoint) *ListenerLatency {
	if ll := l.byListener[e]; ll != nil {
		return ll
	}
	if len(l.byListener) >= MaxListeners {
		return &l.Other
	}
	if l.byListener == nil {
		l.byListener = map[tracker.Endpoint]*ListenerLatency{}
	}
	ll := &ListenerLatency{Listener: e}
	l.byListener[e] = ll
	return ll
}

// Merge adds the figures of o to l.
func (l *Latency) Merge(o *Latency) {
	if o == nil {
		return
	}
	for e, ol := range o.byListener {
		mergeListener(l.listener(e), ol)
	}
	mergeListener(&l.Other, &o.Other)
}

func mergeListener(to, from *ListenerLatency) {
	to.Conns += from.Conns
	to.Handshakes += from.Handshakes
	to.Handshake.Merge(&from.Handshake)
	to.AppResponse.Merge(&from.AppResponse)
	to.Segments += from.Segments
	to.Retrans += from.Retrans
}

// Len returns the number of listeners kept apart.
func (l *Latency) Len() int {
	if l == nil {
		return 0
	}
	return len(l.byListener)
}

// Top returns up to n listeners (all when n < 0), the most connections
// first (then by endpoint), and how many were left out, Other included
// when it holds any.
func (l *Latency) Top(n int) (rows []*ListenerLatency, omitted int) {
	if l == nil {
		return nil, 0
	}
	for _, ll := range l.byListener {
		rows = append(rows, ll)
	}
	slices.SortFunc(rows, func(a, b *ListenerLatency) int {
		if c := cmp.Compare(b.Conns, a.Conns); c != 0 {
			return c
		}
		if a.Listener.Less(&b.Listener) {
			return -1
		}
		return 1
	})
	if n >= 0 && len(rows) > n {
		omitted = len(rows) - n
		rows = rows[:n]
	}
	if l.Other.Conns > 0 {
		omitted++
	}
	return rows, omitted
}

// appendLatency appends ns as a person reads a latency: µs below a
// millisecond, ms with up to one decimal below a second, else seconds.
func appendLatency(b []byte, ns int64) []byte {
	switch {
	case ns < 1e6:
		return append(strconv.AppendInt(b, (ns+500)/1e3, 10), "µs"...)
	case ns < 10e6:
		return append(strconv.AppendFloat(b, float64(ns)/1e6, 'f', 2, 64), "ms"...)
	case ns < 1e9:
		return append(strconv.AppendFloat(b, float64(ns)/1e6, 'f', 1, 64), "ms"...)
	default:
		return append(strconv.AppendFloat(b, float64(ns)/1e9, 'f', 2, 64), 's')
	}
}

// quantiles formats the 50th, 90th and 99th percentile of h as
// "p50 / p90 / p99", or "-" when h is empty.
func quantiles(h *loghist.Hist) string {
	if h.Count() == 0 {
		return "-"
	}
	var b []byte
	for i, q := range [3]float64{0.5, 0.9, 0.99} {
		if i > 0 {
			b = append(b, " / "...)
		}
		b = appendLatency(b, h.Quantile(q))
	}
	return string(b)
}

// writeLatency writes the latency view: per listener, the handshake round
// trip and the application response time percentiles and the
// retransmitted share, for the listeners with the most connections. It
// writes nothing when no connection has figures.
func writeLatency(w *bufio.Writer, res *Result, opt *Options) {
	rows, omitted := res.Latency.Top(opt.limit(DefaultTopListeners))
	if len(rows) == 0 {
		return
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Latency per listener, p50 / p90 / p99 over its connections:")
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "  listener\tconns\thandshake (SYN to ACK)\tresponse (mean per conn.)\tretransmitted")
	for _, l := range rows {
		fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\t%s\n", l.Listener, l.Conns, quantiles(&l.Handshake), quantiles(&l.AppResponse), percent(l.RetransShare()))
	}
	tw.Flush()
	if omitted > 0 {
		wrap(w, opt.width(), "  ", "    ", fmt.Sprintf("… and %d more listeners with fewer connections (see --top N, --all, or the JSON summary)", omitted))
	}
}

// percent formats a share (0 to 1) as a percentage with one decimal.
func percent(f float64) string {
	return strconv.FormatFloat(f*100, 'f', 1, 64) + "%"
}
