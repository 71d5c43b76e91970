package tracker

import (
	"hash/maphash"
	"sync"
)

// Observer watches the tracker's work from inside one shard. Every shard has
// its own observers, called only from that shard's worker, so an Observer
// needs no locking. Detectors are observers.
type Observer interface {
	// Packet is called after each segment is applied. a is reused: copy
	// what you keep.
	Packet(a *Analysis)
	// Advance is called as packet time moves on (at most every 100 ms of
	// packet time), for findings that rest on time passing.
	Advance(now int64)
	// Finish is called when a connection leaves the table, before its
	// record is emitted; it may mark anomalies on c.
	Finish(c *Conn, reason EndReason)
	// Close is called once at the end of the input.
	Close(now int64)
}

// Sink receives what the tracker emits. Its methods are called from shard
// workers, concurrently for different shards; pointers are only valid
// during the call.
type Sink interface {
	Conn(shard int, r *Record)
	Finding(shard int, f *Finding)
}

// Config configures a Tracker. The zero value of each field selects the
// documented default.
type Config struct {
	// Shards is the number of flow-table shards, each with its own worker;
	// default GOMAXPROCS. With Inline set it is forced to 1.
	Shards int
	// Inline processes segments on the caller's goroutine (one shard, no
	// workers): the right choice for tests and small inputs.
	Inline bool
	// External leaves the choice of shard to the caller, which drives each
	// of the Shards shards from a goroutine of its own through Shard(i):
	// no workers are started, and Tracker.Feed, Advance, Tick and Flush
	// are not used. The caller must send both directions of a connection
	// to the same shard (live capture's kernel fanout hashes flows
	// symmetrically). Each shard's packet time is its own clock; Close
	// moves every shard to the latest of them before draining. Inline
	// wins over External.
	External bool
	// MSL is the maximum segment lifetime in nanoseconds; closed
	// connections are kept 2*MSL (TIME_WAIT). Default 30 s, as Linux.
	MSL int64
	// IdleTimeout expires connections with no packet for that long, in
	// nanoseconds. Default 1 hour.
	IdleTimeout int64
	// SnapshotAt, when non-zero, takes a snapshot of every connection's
	// states as of that packet time (nanoseconds since the epoch).
	SnapshotAt int64
	// Record, when set, selects the connections whose timelines are kept.
	Record func(UID) bool
	// Observers, when set, makes the observers of one shard; emit hands a
	// finding to the sink.
	Observers func(shard int, emit func(*Finding)) []Observer
	// Sink receives connection records and findings.
	Sink Sink
	// Seed fixes the hash seed (tests); by default each run draws one.
	Seed *maphash.Seed
	// Zeek, when set, ends connections by Zeek's rules instead of the
	// tracker's own, so that records match Zeek's conn.log rows (see
	// ZeekConfig and zeek_lifetime.go).
	Zeek *ZeekConfig
	// MaxConns bounds the connections held at once (split evenly over the
	// shards); 0 means DefaultMaxConns. Past it, the connection closed
	// longest ago goes first, then the least recently active of a random
	// sample (an approximate LRU); each eviction is counted and its record
	// emitted with EndEvicted.
	MaxConns int
	// SkipHistory leaves Conn.Hist unkept: the Zeek-style history and
	// conn_state (Conn.ZeekState, ZeekStates, ZeekOrig, ZeekBytes), which
	// only the JSON and conn.log outputs show, are then meaningless. It
	// saves about a sixth of the work per packet. Zeek mode keeps them.
	SkipHistory bool
	// SweepEvery is how often, in packet time (nanoseconds), the table is
	// swept for connections idle past IdleTimeout and, in Zeek mode, for
	// those Zeek's timers remove (a close delay of 5 s); 0 means a quarter
	// of IdleTimeout, at most a minute. Live capture in Zeek mode sweeps
	// every second, so that conn.log rows come when Zeek would write them.
	SweepEvery int64
	// SkipMetrics measures only capture loss (Metrics.Loss's
	// AcksForUnseen and MissedBytes, ConnCaptureLoss), the handshake's
	// round trip and the application's response time, except on recorded
	// connections (Config.Record), which are measured in full: for
	// outputs that show data round trips and losses only in timelines
	// (the text report's latency view needs no more).
	SkipMetrics bool
}

// Defaults for Config fields.
const (
	DefaultMSL         = int64(30e9)
	DefaultIdleTimeout = int64(3600e9)
	// DefaultMaxConns bounds memory to roughly 256 MiB of connections.
	DefaultMaxConns = 1 << 20
)

// ConnState is one connection's pair of states in a snapshot.
type ConnState struct {
	UID        UID
	Orig, Resp Endpoint
	States     [2]State
	Inferred   [2]bool
	Partial    bool
}

// Stats counts what the tracker did.
type Stats struct {
	Segments        uint64
	Conns           uint64
	Partial         uint64
	NewIncarnations uint64
	PrevIncarnation uint64
	Emitted         uint64
	IdleExpired     uint64
	Evicted         uint64
	BadChecksum     uint64
	OddFlags        uint64
	// RTTEvicted counts segments in flight the RTT table dropped for room
	// before their ACK came (or before they aged out): samples possibly
	// lost. An ACK that covers a segment without ending at it leaves it
	// in the table too, so this overcounts under load.
	RTTEvicted uint64
	// MaxLive is the largest number of connections one shard held at once
	// (summed over shards in Tracker.Stats).
	MaxLive int
}

func (s *Stats) add(o Stats) {
	s.Segments += o.Segments
	s.Conns += o.Conns
	s.Partial += o.Partial
	s.NewIncarnations += o.NewIncarnations
	s.PrevIncarnation += o.PrevIncarnation
	s.Emitted += o.Emitted
	s.IdleExpired += o.IdleExpired
	s.Evicted += o.Evicted
	s.BadChecksum += o.BadChecksum
	s.OddFlags += o.OddFlags
	s.RTTEvicted += o.RTTEvicted
	s.MaxLive += o.MaxLive
}

// Tracker is the sharded flow table. Feed, Tick and Close must be called
// from one goroutine (the capture reader); the shards run on their own
// workers unless Config.Inline is set.
type Tracker struct {
	cfg       Config
	hasher    flowHasher
	shards    []*shard
	cur       []*batch
	watermark int64
	wg        sync.WaitGroup
	closed    bool
	ext       []Shard // External mode: the shards' handles
}

// New returns a Tracker configured by cfg and starts its workers.
func New(cfg Config) *Tracker {
	if cfg.MSL <= 0 {
		cfg.MSL = DefaultMSL
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.Inline {
		cfg.Shards = 1
		cfg.External = false
	}
	if cfg.Shards <= 0 {
		cfg.Shards = defaultShards()
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	seed := maphash.MakeSeed()
	if cfg.Seed != nil {
		seed = *cfg.Seed
	}
	t := &Tracker{cfg: cfg, hasher: newFlowHasher(seed)}
	t.shards = make([]*shard, cfg.Shards)
	for i := range t.shards {
		t.shards[i] = newShard(i, &t.cfg, t.hasher)
	}
	if cfg.External {
		t.ext = make([]Shard, cfg.Shards)
		for i, sh := range t.shards {
			t.ext[i] = Shard{sh: sh}
		}
	} else if !cfg.Inline {
		t.cur = make([]*batch, cfg.Shards)
		for i, sh := range t.shards {
			sh.in = make(chan *batch, 4)
			sh.free = make(chan *batch, 8)
			for j := 0; j < 7; j++ {
				sh.free <- new(batch)
			}
			t.cur[i] = new(batch)
			t.wg.Add(1)
			go sh.run(&t.wg)
		}
	}
	return t
}

// Feed hands one segment to the tracker. The segment is copied. An
// External tracker is fed through its shards' handles instead.
func (t *Tracker) Feed(seg *Segment) {
	if t.ext != nil {
		panic("tracker: Feed on an External tracker; feed Shard(i)")
	}
	h := t.hasher.pair(&seg.Src, &seg.Dst)
	if seg.Time > t.watermark {
		t.watermark = seg.Time
	}
	if t.cfg.Inline {
		sh := t.shards[0]
		sh.mu.Lock()
		sh.process(seg, h)
		sh.mu.Unlock()
		return
	}
	i := int(((h >> 32) * uint64(len(t.shards))) >> 32)
	b := t.cur[i]
	b.segs[b.n] = *seg
	b.hashes[b.n] = h
	b.n++
	if b.n == batchSize {
		t.send(i)
	}
}

func (t *Tracker) send(i int) {
	b := t.cur[i]
	b.watermark = t.watermark
	sh := t.shards[i]
	sh.in <- b
	t.cur[i] = <-sh.free
}

// Advance moves packet time to now without a segment (for a packet the
// caller chose not to feed), so that timers due by now fire when the
// shards next run. Unlike Tick it delivers nothing.
func (t *Tracker) Advance(now int64) {
	if now > t.watermark {
		t.watermark = now
	}
}

// Tick moves packet time to now when no packet has (a quiet wire in live
// capture) and delivers every pending segment, so timers fire on time.
func (t *Tracker) Tick(now int64) {
	if now > t.watermark {
		t.watermark = now
	}
	if t.ext != nil {
		panic("tracker: Tick on an External tracker; tick Shard(i)")
	}
	if t.cfg.Inline {
		sh := t.shards[0]
		sh.mu.Lock()
		sh.advance(t.watermark)
		sh.mu.Unlock()
		return
	}
	for i := range t.shards {
		t.send(i)
	}
}

// Flush delivers every pending segment and waits until the workers have
// applied them, so that Each and the shard state reflect everything fed.
func (t *Tracker) Flush() {
	if t.cfg.Inline || t.ext != nil {
		return
	}
	dones := make([]chan struct{}, len(t.shards))
	for i := range t.shards {
		dones[i] = make(chan struct{})
		t.cur[i].done = dones[i]
		t.send(i)
	}
	for _, d := range dones {
		<-d
	}
}

// Close delivers every pending segment, waits for the workers, emits every
// connection still held (EndCaptureEnd) and returns the totals.
func (t *Tracker) Close() Stats {
	if !t.closed {
		t.closed = true
		for i := range t.ext {
			// Every shard ends at the latest packet time any of them saw,
			// as one reader's watermark would.
			t.watermark = max(t.watermark, t.ext[i].watermark)
		}
		if !t.cfg.Inline && t.ext == nil {
			for i, sh := range t.shards {
				if t.cur[i].n > 0 {
					t.send(i)
				}
				close(sh.in)
			}
			t.wg.Wait()
		}
		// Each shard empties its table on a goroutine of its own, as its
		// worker would: observers and the sink are per shard.
		var wg sync.WaitGroup
		for _, sh := range t.shards {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sh.mu.Lock()
				sh.advance(t.watermark)
				sh.drain()
				sh.mu.Unlock()
			}()
		}
		wg.Wait()
	}
	var st Stats
	for _, sh := range t.shards {
		sh.stats.RTTEvicted = sh.rtt.evicted
		st.add(sh.stats)
	}
	return st
}

// Snapshot returns the snapshot taken at Config.SnapshotAt; call it after
// Close.
func (t *Tracker) Snapshot() []ConnState {
	var out []ConnState
	for _, sh := range t.shards {
		out = append(out, sh.snapshot...)
	}
	return out
}

// Each calls fn with every connection currently held, shard by shard
// under the shard's lock (for live views). fn must neither modify c nor
// keep it past its return: c is the tracker's own, not a copy (copying
// every connection doubled the walk, which holds up the shard's packets).
func (t *Tracker) Each(fn func(c *Conn)) {
	for _, sh := range t.shards {
		sh.mu.Lock()
		for ci := range sh.slab.chunks {
			chunk := sh.slab.chunks[ci]
			for i := range chunk {
				if chunk[i].UID != 0 {
					fn(&chunk[i])
				}
			}
		}
		sh.mu.Unlock()
	}
}

// Watermark returns the latest packet time fed (after Close, for an
// External tracker).
func (t *Tracker) Watermark() int64 { return t.watermark }

// Shards returns the number of shards.
func (t *Tracker) Shards() int { return len(t.shards) }

// Shard returns the handle of shard i of an External tracker (nil for
// another mode). Each handle is used by one goroutine at a time; handles
// of different shards run concurrently. Close must be called after every
// handle's last use.
func (t *Tracker) Shard(i int) *Shard {
	if t.ext == nil {
		return nil
	}
	return &t.ext[i]
}

// Shard is one shard of an External tracker, driven on its caller's
// goroutine: the segments it is fed and the times it is ticked to make its
// own packet clock, independent of the other shards'.
type Shard struct {
	sh        *shard
	watermark int64
}

// Feed applies one segment to the shard at once. Both directions of a
// connection must be fed to the same shard.
func (s *Shard) Feed(seg *Segment) {
	if seg.Time > s.watermark {
		s.watermark = seg.Time
	}
	sh := s.sh
	h := sh.hasher.pair(&seg.Src, &seg.Dst)
	sh.mu.Lock()
	sh.process(seg, h)
	sh.mu.Unlock()
}

// Tick moves the shard's packet time to now when no packet has (a quiet
// wire in live capture), so that its timers fire on time; times earlier
// than the shard's are ignored.
func (s *Shard) Tick(now int64) {
	if now > s.watermark {
		s.watermark = now
	}
	sh := s.sh
	sh.mu.Lock()
	sh.advance(s.watermark)
	sh.mu.Unlock()
}

// Watermark returns the shard's packet time: the latest segment fed or
// time ticked to.
func (s *Shard) Watermark() int64 { return s.watermark }

// Held returns the number of connections the shard holds now (its
// predecessor incarnations included). Safe to call from any goroutine.
func (s *Shard) Held() int {
	s.sh.mu.Lock()
	defer s.sh.mu.Unlock()
	return s.sh.slab.live
}
