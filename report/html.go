package report

import (
	"encoding/json"
	"net/netip"
	"sort"
	"strings"

	"github.com/wirestate/wirestate/internal/loghist"
	"github.com/wirestate/wirestate/tracker"
)

// HTMLOptions controls what the HTML report embeds.
type HTMLOptions struct {
	// Title heads the page; default "wirestate report".
	Title string
	// Version is the wirestate version printed in the footer.
	Version string
	// Local shows times in the browser's time zone instead of UTC.
	Local bool
	// MaxConns bounds the connections listed (connections with findings
	// come first); default 250,000.
	MaxConns int
	// MaxTimelines bounds the connections whose packet timelines are
	// embedded; default 20,000.
	MaxTimelines int
	// MaxTimelinePackets bounds the packets embedded per timeline: past
	// it, the middle of the connection is elided, keeping the packets
	// that changed a state, the evidence and their neighbours; default
	// 2,000.
	MaxTimelinePackets int
	// MaxHosts bounds the hosts of the states chart; default 40.
	MaxHosts int
	// AllTimelines embeds every recorded timeline; by default only those
	// of connections with findings are.
	AllTimelines bool
}

func (o *HTMLOptions) fill() {
	if o.Title == "" {
		o.Title = "wirestate report"
	}
	if o.MaxConns <= 0 {
		o.MaxConns = 250000
	}
	if o.MaxTimelines <= 0 {
		o.MaxTimelines = 20000
	}
	if o.MaxTimelinePackets <= 0 {
		o.MaxTimelinePackets = 2000
	}
	if o.MaxHosts <= 0 {
		o.MaxHosts = 40
	}
}

// htmlDoc is the JSON document the HTML report embeds. Times are integer
// microseconds: T0 since the epoch, every other one relative to T0 (or, in
// a timeline, to its connection's start). Per-connection and per-finding
// data are columnar arrays indexed by connection or finding number.
type htmlDoc struct {
	Version    int            `json:"v"`
	Title      string         `json:"title"`
	Tool       string         `json:"tool"`
	Local      bool           `json:"local"`
	T0         int64          `json:"t0"`
	Input      htmlInput      `json:"input"`
	Tracker    htmlTracker    `json:"tracker"`
	StateNames []string       `json:"stateNames"`
	PktKinds   []string       `json:"pktKinds"`
	Reasons    []string       `json:"reasons"`
	Kinds      []htmlKind     `json:"kinds"`
	Hints      []string       `json:"hints"`
	Affected   htmlAffected   `json:"affected"`
	Addrs      []string       `json:"addrs"`
	Conns      htmlConns      `json:"conns"`
	Findings   htmlFindings   `json:"findings"`
	Timelines  []htmlTimeline `json:"timelines"`
	States     *htmlStates    `json:"states"`
	Limits     htmlLimits     `json:"limits"`
	Latency    []htmlLatency  `json:"latency"`
}

// htmlLatency is one listener's latency: percentiles p50, p90, p99 and the
// maximum in microseconds (empty without samples).
type htmlLatency struct {
	Listener  string  `json:"l"`
	Conns     uint64  `json:"n"`
	Handshake []int64 `json:"hs"`
	Response  []int64 `json:"app"`
	Retrans   float64 `json:"rtx"`
}

// htmlQuantiles returns h's p50, p90, p99 and maximum in microseconds, or
// nil when h is empty.
func htmlQuantiles(h *loghist.Hist) []int64 {
	if h.Count() == 0 {
		return nil
	}
	return []int64{h.Quantile(0.5) / 1e3, h.Quantile(0.9) / 1e3, h.Quantile(0.99) / 1e3, h.Max() / 1e3}
}

type htmlInput struct {
	Sources   []string    `json:"sources"`
	Formats   []string    `json:"formats"`
	Packets   uint64      `json:"packets"`
	Segments  uint64      `json:"segments"`
	Bytes     uint64      `json:"bytes"`
	Span      int64       `json:"span"`
	Skipped   []htmlCount `json:"skipped"`
	Backwards uint64      `json:"backwards"`
	Dropped   uint64      `json:"dropped"`
}

type htmlCount struct {
	Name  string `json:"name"`
	Count uint64 `json:"n"`
}

type htmlTracker struct {
	Conns           uint64 `json:"conns"`
	Partial         uint64 `json:"partial"`
	NewIncarnations uint64 `json:"reused"`
	IdleExpired     uint64 `json:"idle"`
	Evicted         uint64 `json:"evicted"`
	BadChecksum     uint64 `json:"badChecksum"`
	Records         int    `json:"records"`
	// Folded counts flood members counted instead of listed (in Records).
	Folded int `json:"folded"`
}

// htmlKind summarises the findings of one kind.
type htmlKind struct {
	Name     string `json:"name"`
	Severity int    `json:"sev"`
	Count    int    `json:"n"`
	Conns    int    `json:"conns"`
	First    int64  `json:"first"`
	Last     int64  `json:"last"`
	Hint     int    `json:"hint"`
}

// htmlAffected lists the listeners and hosts with the most findings.
type htmlAffected struct {
	Listeners []htmlPlace `json:"listeners"`
	Hosts     []htmlPlace `json:"hosts"`
}

// htmlPlace is one listener or host with its findings counted by kind
// (pairs of kind index and count, most frequent first).
type htmlPlace struct {
	Name     string   `json:"name"`
	Severity int      `json:"sev"`
	Count    int      `json:"n"`
	Kinds    [][2]int `json:"kinds"`
}

// htmlConns holds the listed connections, one array element each.
type htmlConns struct {
	UID       []string `json:"uid"`
	OrigAddr  []int    `json:"oa"`
	OrigPort  []uint16 `json:"op"`
	RespAddr  []int    `json:"ra"`
	RespPort  []uint16 `json:"rp"`
	Start     []int64  `json:"start"`
	Dur       []int64  `json:"dur"`
	OrigState []int    `json:"os"`
	RespState []int    `json:"rs"`
	OrigPkts  []uint32 `json:"opk"`
	RespPkts  []uint32 `json:"rpk"`
	OrigBytes []uint64 `json:"ob"`
	RespBytes []uint64 `json:"rb"`
	Retrans   []uint32 `json:"retr"`
	// Metrics holds the latency, loss and who-ended-it lines of the text
	// view (MetricsLines, EndedBy), joined; empty for most connections.
	Metrics  []string `json:"met"`
	Flags    []int    `json:"fl"`
	Reason   []int    `json:"reason"`
	Timeline []int    `json:"tl"`
}

// Connection flag bits (htmlConns.Flags).
const (
	htmlPartial  = 1
	htmlIPv6     = 2
	htmlReuses   = 4
	htmlFlipped  = 8
	htmlInferred = 16 // added to a state: it rests on assumed delivery
)

// htmlFindings holds every finding, one array element each.
type htmlFindings struct {
	Kind      []int      `json:"kind"`
	Severity  []int      `json:"sev"`
	Time      []int64    `json:"t"`
	Conn      []int      `json:"conn"`
	Summary   []string   `json:"sum"`
	Hint      []int      `json:"hint"`
	Uncertain []int      `json:"unc"`
	Scope     []string   `json:"scope"`
	Count     []int      `json:"count"`
	First     []int64    `json:"first"`
	Last      []int64    `json:"last"`
	Members   [][]int    `json:"members"`
	EvFrame   [][]uint64 `json:"evf"`
	EvTime    [][]int64  `json:"evt"`
	EvWhat    [][]string `json:"evw"`
}

// htmlTimeline is one connection's packets. States packs both endpoints'
// states after the packet: orig + 16*resp, plus 256 when the orig state is
// inferred and 512 when the resp state is. Trans holds the transitions as
// [frame, time, side, from, to, flags] with flags 1 inferred, 2 correction,
// 4 timer. Elided lists [index, count]: count packets were left out before
// the packet at index.
type htmlTimeline struct {
	Conn   int        `json:"c"`
	Time   []int64    `json:"t"`
	Frame  []uint64   `json:"f"`
	From   []int      `json:"d"`
	Flags  []int      `json:"fl"`
	Seq    []uint32   `json:"seq"`
	Ack    []uint32   `json:"ack"`
	Len    []uint32   `json:"len"`
	Window []uint32   `json:"win"`
	Kind   []uint32   `json:"k"`
	States []int      `json:"st"`
	Trans  [][6]int64 `json:"tr"`
	Elided [][2]int   `json:"elided"`
}

// htmlStates is the states chart: per host, per state, the peak count in
// each bucket.
type htmlStates struct {
	Start int64       `json:"start"`
	Step  int64       `json:"step"`
	N     int         `json:"n"`
	Hosts []htmlSerie `json:"hosts"`
	// AllHosts counts the hosts seen, charted or not.
	AllHosts int `json:"allHosts"`
}

type htmlSerie struct {
	Host   string             `json:"host"`
	Conns  int                `json:"conns"`
	Series map[string][]int32 `json:"series"`
}

type htmlLimits struct {
	ConnsOmitted     int `json:"connsOmitted"`
	TimelinesOmitted int `json:"timelinesOmitted"`
	MaxTimelines     int `json:"maxTimelines"`
}

// htmlListeners bounds the listeners in the latency view.
const htmlListeners = 50

// HTMLData builds the JSON document the HTML report embeds: the capture's
// totals, the findings by kind, the listeners and hosts most affected,
// columnar arrays of connections and findings, the packet timelines of
// connections with findings (as recorded), and, when res.States is set,
// the per-host states over time.
func HTMLData(res *Result, opt HTMLOptions) ([]byte, error) {
	opt.fill()
	doc := buildHTMLDoc(res, &opt)
	return json.Marshal(doc)
}

func buildHTMLDoc(res *Result, opt *HTMLOptions) *htmlDoc {
	in := &res.Input
	t0 := in.First
	if t0 == 0 && len(res.Records) > 0 {
		t0 = res.Records[0].Conn.Start
	}
	t0 -= t0 % 1000
	us := func(ns int64) int64 {
		if ns == 0 {
			return 0
		}
		return (ns - t0) / 1000
	}
	tool := "wirestate"
	if opt.Version != "" {
		tool += " " + opt.Version
	}
	doc := &htmlDoc{
		Version: 1, Title: opt.Title, Tool: tool, Local: opt.Local, T0: t0 / 1000,
		Input: htmlInput{
			Sources: nonNil(in.Sources), Formats: nonNil(in.Formats),
			Packets: in.Packets, Segments: in.TCPSegments, Bytes: in.Bytes,
			Backwards: in.Backwards, Dropped: in.Dropped, Skipped: []htmlCount{},
		},
		Tracker: htmlTracker{
			Conns: res.Tracker.Conns, Partial: res.Tracker.Partial, NewIncarnations: res.Tracker.NewIncarnations,
			IdleExpired: res.Tracker.IdleExpired, Evicted: res.Tracker.Evicted, BadChecksum: res.Tracker.BadChecksum,
			Records: res.ConnCount(), Folded: FoldedCount(res.Folded),
		},
		Hints:     []string{},
		Addrs:     []string{},
		Timelines: []htmlTimeline{},
	}
	if in.Last > in.First && in.First != 0 {
		doc.Input.Span = (in.Last - in.First) / 1000
	}
	for _, s := range in.Skipped {
		if s.Count > 0 {
			doc.Input.Skipped = append(doc.Input.Skipped, htmlCount(s))
		}
	}
	for s := tracker.State(0); int(s) < tracker.NumStates; s++ {
		doc.StateNames = append(doc.StateNames, s.String())
	}
	doc.PktKinds = tracker.PacketKind(^uint32(0)).Names()
	for r := tracker.EndReason(0); r.String() != "unknown"; r++ {
		doc.Reasons = append(doc.Reasons, r.String())
	}

	// Kinds, most severe first, then most frequent; hints deduplicated.
	hintIdx := map[string]int{}
	hint := func(h string) int {
		if h == "" {
			return -1
		}
		i, ok := hintIdx[h]
		if !ok {
			i = len(doc.Hints)
			hintIdx[h] = i
			doc.Hints = append(doc.Hints, h)
		}
		return i
	}
	kindIdx := map[tracker.AnomalyKind]int{}
	for _, g := range GroupFindings(res.Findings) {
		k := htmlKind{Name: g.Kind.String(), Severity: int(g.Severity), Count: len(g.Conn) + len(g.Scoped),
			Conns: len(g.Conn), First: us(g.First), Last: us(g.Last), Hint: -1}
		switch {
		case len(g.Conn) > 0:
			k.Hint = hint(g.Conn[0].Hint)
		case len(g.Scoped) > 0:
			k.Hint = hint(g.Scoped[0].Hint)
		}
		kindIdx[g.Kind] = len(doc.Kinds)
		doc.Kinds = append(doc.Kinds, k)
	}
	if doc.Kinds == nil {
		doc.Kinds = []htmlKind{}
	}

	// Connections: those with findings first (all of them, within the
	// bound), then the rest in record order.
	findingUIDs := map[tracker.UID]bool{}
	for i := range res.Findings {
		if u := res.Findings[i].UID; u != 0 {
			findingUIDs[u] = true
		}
	}
	order := make([]int, 0, len(res.Records))
	for i := range res.Records {
		if findingUIDs[res.Records[i].Conn.UID] {
			order = append(order, i)
		}
	}
	for i := range res.Records {
		if !findingUIDs[res.Records[i].Conn.UID] {
			order = append(order, i)
		}
	}
	if len(order) > opt.MaxConns {
		doc.Limits.ConnsOmitted = len(order) - opt.MaxConns
		order = order[:opt.MaxConns]
	}
	sort.Ints(order) // record order: by start time, then uid
	addrIdx := map[tracker.Addr]int{}
	addr := func(a tracker.Addr) int {
		i, ok := addrIdx[a]
		if !ok {
			i = len(doc.Addrs)
			addrIdx[a] = i
			doc.Addrs = append(doc.Addrs, a.String())
		}
		return i
	}
	connIdx := make(map[tracker.UID]int, len(order))
	cs := &doc.Conns
	doc.Limits.MaxTimelines = opt.MaxTimelines
	for _, ri := range order {
		r := &res.Records[ri]
		c := &r.Conn
		connIdx[c.UID] = len(cs.UID)
		o, p := &c.Peers[tracker.Orig], &c.Peers[tracker.Resp]
		cs.UID = append(cs.UID, c.UID.String())
		cs.OrigAddr = append(cs.OrigAddr, addr(c.Orig.Addr))
		cs.OrigPort = append(cs.OrigPort, c.Orig.Port)
		cs.RespAddr = append(cs.RespAddr, addr(c.Resp.Addr))
		cs.RespPort = append(cs.RespPort, c.Resp.Port)
		cs.Start = append(cs.Start, us(c.Start))
		cs.Dur = append(cs.Dur, (c.Last-c.Start)/1000)
		cs.OrigState = append(cs.OrigState, packState(o.State, o.Inferred()))
		cs.RespState = append(cs.RespState, packState(p.State, p.Inferred()))
		cs.OrigPkts = append(cs.OrigPkts, o.Pkts)
		cs.RespPkts = append(cs.RespPkts, p.Pkts)
		cs.OrigBytes = append(cs.OrigBytes, o.Bytes)
		cs.RespBytes = append(cs.RespBytes, p.Bytes)
		cs.Retrans = append(cs.Retrans, o.Retrans+p.Retrans)
		met := MetricsLines(r)
		if e := EndedBy(r); e != "" {
			met = append(met, e)
		}
		cs.Metrics = append(cs.Metrics, strings.Join(met, " · "))
		fl := 0
		if c.Partial() {
			fl |= htmlPartial
		}
		if c.Flags&tracker.ConnIPv6 != 0 {
			fl |= htmlIPv6
		}
		if c.PrevUID != 0 {
			fl |= htmlReuses
		}
		if c.Flags&tracker.ConnFlipped != 0 {
			fl |= htmlFlipped
		}
		cs.Flags = append(cs.Flags, fl)
		cs.Reason = append(cs.Reason, int(r.Reason))
		tl := -1
		if len(r.Timeline) > 0 && (opt.AllTimelines || findingUIDs[c.UID]) {
			if len(doc.Timelines) < opt.MaxTimelines {
				tl = len(doc.Timelines)
				doc.Timelines = append(doc.Timelines, buildTimeline(r, connIdx[c.UID], res.Findings, opt))
			} else {
				doc.Limits.TimelinesOmitted++
			}
		}
		cs.Timeline = append(cs.Timeline, tl)
	}
	if cs.UID == nil {
		*cs = htmlConns{UID: []string{}, OrigAddr: []int{}, OrigPort: []uint16{}, RespAddr: []int{}, RespPort: []uint16{},
			Start: []int64{}, Dur: []int64{}, OrigState: []int{}, RespState: []int{}, OrigPkts: []uint32{}, RespPkts: []uint32{},
			OrigBytes: []uint64{}, RespBytes: []uint64{}, Retrans: []uint32{}, Metrics: []string{}, Flags: []int{}, Reason: []int{}, Timeline: []int{}}
	}

	// Findings.
	fs := &doc.Findings
	*fs = htmlFindings{Kind: []int{}, Severity: []int{}, Time: []int64{}, Conn: []int{}, Summary: []string{}, Hint: []int{},
		Uncertain: []int{}, Scope: []string{}, Count: []int{}, First: []int64{}, Last: []int64{}, Members: [][]int{},
		EvFrame: [][]uint64{}, EvTime: [][]int64{}, EvWhat: [][]string{}}
	const maxMembers = 500
	for i := range res.Findings {
		f := &res.Findings[i]
		fs.Kind = append(fs.Kind, kindIdx[f.Kind])
		fs.Severity = append(fs.Severity, int(f.Severity))
		fs.Time = append(fs.Time, us(f.Time))
		ci := -1
		if j, ok := connIdx[f.UID]; ok && f.UID != 0 {
			ci = j
		}
		fs.Conn = append(fs.Conn, ci)
		fs.Summary = append(fs.Summary, f.Summary)
		fs.Hint = append(fs.Hint, hint(f.Hint))
		fs.Uncertain = append(fs.Uncertain, b2i(f.Uncertain))
		fs.Scope = append(fs.Scope, f.Scope)
		fs.Count = append(fs.Count, f.Count)
		fs.First = append(fs.First, us(f.First))
		fs.Last = append(fs.Last, us(f.Last))
		members := []int{}
		for _, u := range f.UIDs {
			if j, ok := connIdx[u]; ok && len(members) < maxMembers {
				members = append(members, j)
			}
		}
		fs.Members = append(fs.Members, members)
		evf, evt, evw := []uint64{}, []int64{}, []string{}
		for _, e := range f.Evidence {
			evf = append(evf, e.Frame)
			evt = append(evt, us(e.Time))
			evw = append(evw, e.What)
		}
		fs.EvFrame = append(fs.EvFrame, evf)
		fs.EvTime = append(fs.EvTime, evt)
		fs.EvWhat = append(fs.EvWhat, evw)
	}

	doc.Affected = affected(res.Findings, kindIdx, doc.Kinds)
	listeners, _ := res.Latency.Top(htmlListeners)
	doc.Latency = []htmlLatency{}
	for _, l := range listeners {
		doc.Latency = append(doc.Latency, htmlLatency{Listener: l.Listener.String(), Conns: l.Conns,
			Handshake: htmlQuantiles(&l.Handshake), Response: htmlQuantiles(&l.AppResponse), Retrans: l.RetransShare()})
	}

	if res.States != nil {
		var pin []tracker.Addr
		seen := map[tracker.Addr]bool{}
		for _, h := range mostAffectedAddrs(res.Findings) {
			if !seen[h] {
				seen[h] = true
				pin = append(pin, h)
			}
		}
		if len(pin) > opt.MaxHosts/2 {
			pin = pin[:opt.MaxHosts/2]
		}
		first, last := in.First, in.Last
		if first == 0 && len(res.Records) > 0 {
			first, last = res.Records[0].Conn.Start, res.Records[0].Conn.Last
			for i := range res.Records {
				last = max(last, res.Records[i].Conn.Last)
			}
		}
		tl := res.States.Timeline(first, last, opt.MaxHosts, pin)
		st := &htmlStates{Start: (tl.Start - t0) / 1000, Step: tl.Step / 1000, N: tl.N, Hosts: []htmlSerie{},
			AllHosts: res.States.NumHosts()}
		for _, h := range tl.Hosts {
			s := htmlSerie{Host: h.Host.String(), Conns: h.Conns, Series: map[string][]int32{}}
			for k, p := range h.Peak {
				if p != nil {
					s.Series[tracker.State(k).String()] = p
				}
			}
			st.Hosts = append(st.Hosts, s)
		}
		doc.States = st
	}
	return doc
}

func packState(s tracker.State, inferred bool) int {
	v := int(s)
	if inferred {
		v |= htmlInferred
	}
	return v
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// buildTimeline converts a record's timeline, eliding the middle of long
// ones.
func buildTimeline(r *tracker.Record, ci int, findings []tracker.Finding, opt *HTMLOptions) htmlTimeline {
	c := &r.Conn
	tl := htmlTimeline{Conn: ci, Trans: [][6]int64{}, Elided: [][2]int{}}
	keep := make([]bool, len(r.Timeline))
	if len(r.Timeline) <= opt.MaxTimelinePackets {
		for i := range keep {
			keep[i] = true
		}
	} else {
		ev := map[uint64]bool{}
		for i := range findings {
			if findings[i].UID == c.UID {
				for _, e := range findings[i].Evidence {
					ev[e.Frame] = true
				}
			}
		}
		mark := func(i, around int) {
			for j := max(0, i-around); j <= min(len(keep)-1, i+around); j++ {
				keep[j] = true
			}
		}
		head := opt.MaxTimelinePackets / 4
		for i := 0; i < head; i++ {
			keep[i] = true
			keep[len(keep)-1-i] = true
		}
		budget := opt.MaxTimelinePackets - 2*head
		for i, e := range r.Timeline {
			if budget <= 0 {
				break
			}
			if ev[e.Frame] || e.NTrans > 0 {
				mark(i, 2)
				budget -= 5
			}
		}
	}
	// Transitions carry the frame of the packet that caused them.
	ti := 0
	gap := 0
	kept := 0
	for i, e := range r.Timeline {
		n := int(e.NTrans)
		if !keep[i] {
			gap++
			ti += n
			continue
		}
		if gap > 0 {
			tl.Elided = append(tl.Elided, [2]int{kept, gap})
			gap = 0
		}
		kept++
		tl.Time = append(tl.Time, (e.Time-c.Start)/1000)
		tl.Frame = append(tl.Frame, e.Frame)
		tl.From = append(tl.From, int(e.From))
		tl.Flags = append(tl.Flags, int(e.Flags))
		tl.Seq = append(tl.Seq, e.Seq)
		tl.Ack = append(tl.Ack, e.Ack)
		tl.Len = append(tl.Len, e.Len)
		tl.Window = append(tl.Window, e.Window)
		tl.Kind = append(tl.Kind, uint32(e.Kind))
		st := int(e.States[0]) + 16*int(e.States[1])
		if e.Inferred[0] {
			st |= 256
		}
		if e.Inferred[1] {
			st |= 512
		}
		tl.States = append(tl.States, st)
		for k := 0; k < n && ti < len(r.Transitions); k++ {
			tl.Trans = append(tl.Trans, transRow(&r.Transitions[ti], c.Start))
			ti++
		}
	}
	if gap > 0 {
		tl.Elided = append(tl.Elided, [2]int{kept, gap})
	}
	for ; ti < len(r.Transitions); ti++ {
		if r.Transitions[ti].Timer {
			tl.Trans = append(tl.Trans, transRow(&r.Transitions[ti], c.Start))
		}
	}
	return tl
}

func transRow(tr *tracker.Transition, start int64) [6]int64 {
	fl := int64(0)
	if tr.Inferred {
		fl |= 1
	}
	if tr.Correction {
		fl |= 2
	}
	if tr.Timer {
		fl |= 4
	}
	return [6]int64{int64(tr.Frame), (tr.Time - start) / 1000, int64(tr.Side), int64(tr.From), int64(tr.To), fl}
}

// affected ranks listeners (the responder endpoint of each finding's
// connection, or an aggregate's scope) and hosts (either address) by their
// findings at warning or above, or of any severity when there are none.
func affected(fs []tracker.Finding, kindIdx map[tracker.AnomalyKind]int, kinds []htmlKind) htmlAffected {
	minSev := tracker.SevWarning
	hasWarn := false
	for i := range fs {
		if fs[i].Severity >= tracker.SevWarning {
			hasWarn = true
			break
		}
	}
	if !hasWarn {
		minSev = tracker.SevInfo
	}
	type acc struct {
		sev   int
		n     int
		kinds map[int]int
	}
	listeners, hosts := map[string]*acc{}, map[string]*acc{}
	bump := func(m map[string]*acc, name string, f *tracker.Finding) {
		a := m[name]
		if a == nil {
			a = &acc{kinds: map[int]int{}}
			m[name] = a
		}
		a.n++
		a.sev = max(a.sev, int(f.Severity))
		a.kinds[kindIdx[f.Kind]]++
	}
	for i := range fs {
		f := &fs[i]
		if f.Severity < minSev {
			continue
		}
		if f.Scope != "" {
			if _, err := netip.ParseAddrPort(f.Scope); err == nil {
				bump(listeners, f.Scope, f)
			} else {
				bump(hosts, f.Scope, f)
			}
			continue
		}
		bump(listeners, f.Resp.String(), f)
		bump(hosts, f.Resp.Addr.String(), f)
		if f.Orig.Addr != f.Resp.Addr {
			bump(hosts, f.Orig.Addr.String(), f)
		}
	}
	rank := func(m map[string]*acc) []htmlPlace {
		out := []htmlPlace{}
		for name, a := range m {
			p := htmlPlace{Name: name, Severity: a.sev, Count: a.n}
			for k, n := range a.kinds {
				p.Kinds = append(p.Kinds, [2]int{k, n})
			}
			sort.Slice(p.Kinds, func(i, j int) bool {
				if p.Kinds[i][1] != p.Kinds[j][1] {
					return p.Kinds[i][1] > p.Kinds[j][1]
				}
				return p.Kinds[i][0] < p.Kinds[j][0]
			})
			out = append(out, p)
		}
		sort.Slice(out, func(i, j int) bool {
			if out[i].Severity != out[j].Severity {
				return out[i].Severity > out[j].Severity
			}
			if out[i].Count != out[j].Count {
				return out[i].Count > out[j].Count
			}
			return out[i].Name < out[j].Name
		})
		if len(out) > 10 {
			out = out[:10]
		}
		return out
	}
	return htmlAffected{Listeners: rank(listeners), Hosts: rank(hosts)}
}

// mostAffectedAddrs returns the addresses of the endpoints of per-connection
// findings at warning or above, the responder's first, most findings first.
func mostAffectedAddrs(fs []tracker.Finding) []tracker.Addr {
	n := map[tracker.Addr]int{}
	for i := range fs {
		f := &fs[i]
		if f.UID == 0 || f.Severity < tracker.SevWarning {
			continue
		}
		n[f.Resp.Addr] += 2
		n[f.Orig.Addr]++
	}
	out := make([]tracker.Addr, 0, len(n))
	for a := range n {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool {
		if n[out[i]] != n[out[j]] {
			return n[out[i]] > n[out[j]]
		}
		return out[i].Netip().Less(out[j].Netip())
	})
	return out
}
