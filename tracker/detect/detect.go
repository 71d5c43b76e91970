// Package detect holds wirestate's detectors: small units that watch the
// tracker's analysis of each segment and name TCP failures with evidence,
// an explanation and a fix. Like the tracker, it is pure: packet time is its
// only clock, and it does no I/O.
//
// Each detector is registered in Registry with the kinds it reports (each
// kind's name, default severity and documentation are its row in tracker's
// kinds table; the name is also that of the flag that turns it off) and
// runs inside every tracker shard as part of an Engine, so it needs no
// locking. Findings about many connections (per listener or host) are made
// afterwards by Aggregate from the per-connection findings and records.
package detect

import (
	"fmt"
	"time"

	"github.com/wirestate/wirestate/tracker"
)

// Config holds the detectors' thresholds and switches. The zero value of a
// threshold selects its default (see Defaults).
type Config struct {
	// Disabled names the kinds (by name) whose detectors do not run.
	Disabled map[string]bool
	// MSL is the maximum segment lifetime (2*MSL is TIME_WAIT's length).
	MSL time.Duration
	// CloseWaitAfter is how long an endpoint may sit in CLOSE_WAIT before
	// close-wait-stuck is reported.
	CloseWaitAfter time.Duration
	// SYNFloodMin is how many unanswered SYN-ACKs one listener must have
	// within SYNFloodWindow, from at least SYNFloodSources sources, for a
	// syn-flood finding.
	SYNFloodMin     int
	SYNFloodWindow  time.Duration
	SYNFloodSources int
	// AbortBulk is how many server-side aborts one listener must make for
	// abortive-close to become a warning.
	AbortBulk int
	// HalfOpenRetrans is how many unanswered retransmissions in a row mark
	// the retransmitting side's peer as gone (half-open).
	HalfOpenRetrans int
	// MaxMembers bounds the member uids (and member records) listed per
	// aggregate finding.
	MaxMembers int
	// Live reports findings as soon as they can be decided rather than
	// when the connection ends (an unanswered SYN at its third attempt),
	// for live capture.
	Live bool
	// PortRange is the ephemeral port range assumed for clients
	// (Linux's default ip_local_port_range, 32768-60999).
	PortRange [2]int
}

// Defaults returns the documented default thresholds.
func Defaults() Config {
	return Config{
		MSL:             30 * time.Second,
		CloseWaitAfter:  5 * time.Second,
		SYNFloodMin:     100,
		SYNFloodWindow:  10 * time.Second,
		SYNFloodSources: 20,
		AbortBulk:       5,
		HalfOpenRetrans: 5,
		MaxMembers:      1000,
		PortRange:       [2]int{32768, 60999},
	}
}

func (c *Config) fill() {
	d := Defaults()
	if c.MSL <= 0 {
		c.MSL = d.MSL
	}
	if c.CloseWaitAfter <= 0 {
		c.CloseWaitAfter = d.CloseWaitAfter
	}
	if c.SYNFloodMin <= 0 {
		c.SYNFloodMin = d.SYNFloodMin
	}
	if c.SYNFloodWindow <= 0 {
		c.SYNFloodWindow = d.SYNFloodWindow
	}
	if c.SYNFloodSources <= 0 {
		c.SYNFloodSources = d.SYNFloodSources
	}
	if c.AbortBulk <= 0 {
		c.AbortBulk = d.AbortBulk
	}
	if c.HalfOpenRetrans <= 0 {
		c.HalfOpenRetrans = d.HalfOpenRetrans
	}
	if c.MaxMembers <= 0 {
		c.MaxMembers = d.MaxMembers
	}
	if c.PortRange[1] <= c.PortRange[0] {
		c.PortRange = d.PortRange
	}
}

// Enabled reports whether the detector of kind k runs.
func (c *Config) Enabled(k tracker.AnomalyKind) bool { return !c.Disabled[k.String()] }

// Unit is one detector inside one shard.
type Unit interface {
	// Packet sees each segment after the tracker applied it.
	Packet(a *tracker.Analysis)
	// Advance sees packet time move on.
	Advance(now int64)
	// Finish sees a connection leave the tracker, before its record is
	// emitted.
	Finish(c *tracker.Conn, reason tracker.EndReason)
}

// Spec registers a detector unit. Everything else about its kinds (name,
// default severity, documentation) is their row in tracker's kinds table.
type Spec struct {
	// Kinds lists the finding kinds the detector reports; each has its
	// own --no-KIND flag, and the unit runs while any is enabled.
	Kinds []tracker.AnomalyKind
	// New makes the detector for one shard.
	New func(env *Env) Unit
}

// Registry lists every per-connection detector. The aggregate kinds
// (tracker.AnomalyKind.Aggregate: syn-flood, time-wait-load,
// ephemeral-ports and the like) and the per-listener views are made by
// Aggregate.
var Registry = []Spec{
	{Kinds: []tracker.AnomalyKind{tracker.AnomSYNUnanswered, tracker.AnomConnectionRefused, tracker.AnomAcceptQueueOverflowRST, tracker.AnomAcceptQueueOverflowDrop, tracker.AnomScan},
		New: newHandshake},
	{Kinds: []tracker.AnomalyKind{tracker.AnomLostFinalACK}, New: newLostFinalACK},
	{Kinds: []tracker.AnomalyKind{tracker.AnomCloseWaitStuck}, New: newCloseWait},
	{Kinds: []tracker.AnomalyKind{tracker.AnomHalfOpen}, New: newHalfOpen},
	{Kinds: []tracker.AnomalyKind{tracker.AnomPortReuse, tracker.AnomStaleSegment}, New: newIncarnation},
	{Kinds: []tracker.AnomalyKind{tracker.AnomAbortiveClose}, New: newAbort},
	{Kinds: []tracker.AnomalyKind{tracker.AnomZeroWindow, tracker.AnomKeepalive}, New: newFlow},
	{Kinds: []tracker.AnomalyKind{tracker.AnomMiddleboxReset}, New: newMiddlebox},
}

// Env is what a detector unit shares with its engine.
type Env struct {
	Cfg *Config
	// Now is the latest packet time the engine has seen.
	Now  int64
	emit func(*tracker.Finding)
}

// Emit hands finding f to the sink and marks its kind on c, unless kind k
// is disabled.
func (e *Env) Emit(c *tracker.Conn, k tracker.AnomalyKind, f *tracker.Finding) {
	if !e.Cfg.Enabled(k) {
		return
	}
	f.Kind = k
	if c != nil && k.AbsenceBased() && c.Flags&tracker.ConnCaptureLoss != 0 && !f.Uncertain {
		// The capture lost packets of this connection (its receiver
		// acknowledged data never captured): the packet whose absence
		// the finding rests on may be one of them.
		f.Uncertain = true
		f.Summary += " (uncertain: the capture missed packets of this connection, acknowledged data it never saw, so the packet this rests on not seeing may have been sent)"
	}
	if c != nil {
		c.Mark(k)
		if f.UID == 0 {
			f.UID = c.UID
			f.Orig, f.Resp = c.Orig, c.Resp
		}
	}
	e.emit(f)
}

// Engine runs the enabled detectors of one shard; it is a tracker.Observer.
type Engine struct {
	env   Env
	units []Unit
}

// NewEngine returns the engine of one shard; emit receives its findings.
func NewEngine(cfg Config, emit func(*tracker.Finding)) *Engine {
	cfg.fill()
	e := &Engine{env: Env{Cfg: &cfg, emit: emit}}
	for _, s := range Registry {
		for _, k := range s.Kinds {
			if cfg.Enabled(k) {
				e.units = append(e.units, s.New(&e.env))
				break
			}
		}
	}
	return e
}

// Observers returns a tracker.Config.Observers function running the
// detectors configured by cfg in every shard.
func Observers(cfg Config) func(shard int, emit func(*tracker.Finding)) []tracker.Observer {
	return func(_ int, emit func(*tracker.Finding)) []tracker.Observer {
		return []tracker.Observer{NewEngine(cfg, emit)}
	}
}

// loudKinds are the segment classes some detector acts on by themselves.
const loudKinds = tracker.KindNewConn | tracker.KindRetransmission | tracker.KindSYNRetransmission |
	tracker.KindSYNACKRetransmission | tracker.KindFINRetransmission | tracker.KindKeepalive |
	tracker.KindWindowProbe | tracker.KindZeroWindow | tracker.KindRSTInWindow | tracker.KindRSTOutOfWindow |
	tracker.KindPrevIncarnation | tracker.KindNewIncarnation | tracker.KindCorrection | tracker.KindOddFlags

// quiet reports whether no detector can act on a: no SYN, FIN or RST, no
// class any detector starts from, no detector's notes on the connection,
// and a sender not in CLOSE_WAIT (where close-wait-stuck starts). Most
// segments of established connections are quiet; skipping the units for
// them is the detectors' fast path.
func quiet(a *tracker.Analysis) bool {
	return a.Seg.Flags&(tracker.FlagSYN|tracker.FlagFIN|tracker.FlagRST) == 0 && a.Kind&loudKinds == 0 &&
		!a.Conn.Watched() && a.Conn.Peers[a.From].State != tracker.CloseWait
}

// Packet implements tracker.Observer.
func (e *Engine) Packet(a *tracker.Analysis) {
	if a.Seg.Time > e.env.Now {
		e.env.Now = a.Seg.Time
	}
	if quiet(a) {
		return
	}
	for _, u := range e.units {
		u.Packet(a)
	}
}

// Advance implements tracker.Observer.
func (e *Engine) Advance(now int64) {
	if now > e.env.Now {
		e.env.Now = now
	}
	for _, u := range e.units {
		u.Advance(now)
	}
}

// Finish implements tracker.Observer.
func (e *Engine) Finish(c *tracker.Conn, reason tracker.EndReason) {
	for _, u := range e.units {
		u.Finish(c, reason)
	}
}

// Close implements tracker.Observer.
func (e *Engine) Close(now int64) {}

// ev makes an evidence item for segment seg.
func ev(seg *tracker.Segment, format string, args ...any) tracker.Evidence {
	return tracker.Evidence{Time: seg.Time, Frame: seg.Frame, What: fmt.Sprintf(format, args...)}
}

// secs formats a duration in nanoseconds as seconds for summaries.
func secs(ns int64) string {
	d := time.Duration(ns)
	switch {
	case d >= 10*time.Second:
		return fmt.Sprintf("%.0fs", d.Seconds())
	case d >= time.Second:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.0fms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.0fµs", float64(d)/1e3)
}

// times says how many times: "once", "twice", "3 times".
func times(n int) string {
	switch n {
	case 1:
		return "once"
	case 2:
		return "twice"
	}
	return fmt.Sprintf("%d times", n)
}

// plural returns "1 connection" or "n connections".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// nop provides empty Unit methods to embed.
type nop struct{}

func (nop) Packet(*tracker.Analysis)                {}
func (nop) Advance(int64)                           {}
func (nop) Finish(*tracker.Conn, tracker.EndReason) {}

// sideName says which endpoint a side is, in words.
func sideName(s tracker.Side) string {
	if s == tracker.Orig {
		return "the client (originator)"
	}
	return "the server (responder)"
}
