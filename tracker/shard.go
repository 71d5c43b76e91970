package tracker

import (
	"sync"

	"github.com/wirestate/wirestate/tracker/seqnum"
)

// batchSize is how many segments travel to a shard worker at once. Each
// hand-over can wake a sleeping worker: at 256 segments a batch those
// wake-ups cost a quarter of the run (BenchmarkTracker through 2 shards:
// 5.5 M segments/s at 256, 7.9 M at 2048, 8.0 M at 4096). A batch is
// 384 KiB; a shard has at most 8. Live capture delivers partial batches on
// every tick, so the size adds no latency there.
const batchSize = 4096

// batch carries segments from the reader to one shard worker.
type batch struct {
	segs      [batchSize]Segment
	hashes    [batchSize]uint64
	n         int
	watermark int64
	// done, when set, is closed once the worker has applied the batch.
	done chan struct{}
}

// doneEntry queues a connection that reached ConnDone, to be released when
// its 2MSL has passed.
type doneEntry struct {
	idx int32
	uid UID
	at  int64
}

// recording holds the timeline of one recorded connection.
type recording struct {
	entries []TimelineEntry
	trans   []Transition
	// base holds each side's base for relative sequence numbers, set as
	// Wireshark sets it (see record); haveBase says which are set.
	base     [2]seqnum.Value
	haveBase [2]bool
}

// shard owns a part of the flow table. Exactly one goroutine (its worker,
// or the caller in inline mode) writes to it; mu lets readers take
// consistent snapshots.
type shard struct {
	mu  sync.Mutex
	id  int
	cfg *Config

	hasher flowHasher
	table  flowTable
	slab   slab
	mets   blockSlab[metricsState]
	lats   blockSlab[latencyState] // the latency-only blocks (skipMetrics)
	// skipMetrics measures only capture loss on unrecorded connections.
	skipMetrics bool
	rares       blockSlab[rareState]
	rtt         rttTable

	clock     int64
	nextSweep int64
	nextTick  int64
	doneQ     []doneEntry
	doneHead  int

	an        Analysis
	observers []Observer
	recs      map[UID]*recording
	scratch   []int
	trBuf     []Transition

	rec    Record  // reused for every emitted record
	recMet Metrics // the emitted record's metrics, rec.Metrics when it has some

	snapTaken bool
	snapshot  []ConnState

	stats Stats

	maxLive int    // this shard's share of Config.MaxConns
	rng     uint64 // xorshift state for eviction sampling

	in   chan *batch
	free chan *batch
}

// tickEvery is the packet-time granularity of Observer.Advance calls.
const tickEvery = int64(100e6)

func newShard(id int, cfg *Config, h flowHasher) *shard {
	sh := &shard{id: id, cfg: cfg, hasher: h, table: newFlowTable()}
	sh.an.skipHistory = cfg.SkipHistory && cfg.Zeek == nil
	sh.skipMetrics = cfg.SkipMetrics
	sh.maxLive = (cfg.MaxConns + cfg.Shards - 1) / cfg.Shards
	if sh.maxLive < 2 {
		sh.maxLive = 2
	}
	sh.rtt = newRTTTable(rttSetsFor(sh.maxLive))
	sh.rng = uint64(id)*0x9e3779b97f4a7c15 | 1
	if cfg.Record != nil {
		sh.recs = make(map[UID]*recording)
	}
	if cfg.Observers != nil {
		sh.observers = cfg.Observers(id, func(f *Finding) { cfg.Sink.Finding(id, f) })
	}
	return sh
}

// process applies one segment (with key hash h) to the shard's table.
func (sh *shard) process(seg *Segment, h uint64) {
	if seg.Time > sh.clock {
		sh.advance(seg.Time)
	}
	sh.stats.Segments++
	a := &sh.an
	a.reset(seg)

	idx := sh.table.find(h, &seg.Src, &seg.Dst, &sh.slab)
	if idx >= 0 {
		if c := sh.slab.at(idx); sh.expired(c, seg.Time) || (sh.cfg.Zeek != nil && sh.zeekReuse(c, seg)) { // Zeek mode: IsReuse (zeek_lifetime.go)
			sh.finish(idx, sh.expiryReason(c, seg.Time))
			idx = -1
		}
	}
	var c *Conn
	if idx < 0 && sh.slab.live >= sh.maxLive {
		sh.evict(-1)
	}
	switch {
	case idx < 0:
		idx = sh.create(seg)
		sh.table.insert(h, idx)
		c = sh.slab.at(idx)
		if sh.cfg.Zeek != nil { // Zeek mode: Zeek's originator choice (zeek_lifetime.go)
			sh.zeekBegin(c, seg)
		}
		a.Kind |= KindNewConn
		c.apply(seg, c.SideOf(seg.Src), a)
		sh.measure(idx, c, a)
	default:
		c = sh.slab.at(idx)
		s := c.SideOf(seg.Src)
		switch {
		case sh.cfg.Zeek == nil && seg.Flags&(FlagSYN|FlagACK|FlagRST) == FlagSYN && c.startsNewIncarnation(seg, s): // Zeek mode: reuse is decided at lookup
			if sh.slab.live >= sh.maxLive {
				sh.evict(idx) // the new incarnation needs a slot too
			}
			old := c
			idx = sh.reincarnate(idx, h, seg)
			c = sh.slab.at(idx)
			a.Kind |= KindNewIncarnation | KindNewConn
			c.apply(seg, Orig, a)
			sh.measure(idx, c, a)
			a.Other = old
		case c.prev != 0 && !c.fits(seg, s):
			if p := sh.slab.at(int(c.prev) - 1); p.fits(seg, p.SideOf(seg.Src)) {
				if p.Done() {
					p.applyStale(seg, p.SideOf(seg.Src), a)
				} else {
					p.apply(seg, p.SideOf(seg.Src), a)
					sh.measure(int(c.prev)-1, p, a)
				}
				p.Flags |= ConnLateSegments
				a.Kind |= KindPrevIncarnation
				a.Other = c
				sh.stats.PrevIncarnation++
				c = p
				break
			}
			c.apply(seg, s, a)
			sh.measure(idx, c, a)
		default:
			c.apply(seg, s, a)
			sh.measure(idx, c, a)
		}
	}
	if sh.cfg.Zeek == nil && c.Done() && c.DoneAt == seg.Time && c.Flags&ConnReincarnated == 0 { // Zeek mode: no TIME_WAIT queue
		sh.doneQ = append(sh.doneQ, doneEntry{idx: int32(idx), uid: c.UID, at: c.DoneAt})
	}
	if a.Kind&KindBadChecksum != 0 {
		sh.stats.BadChecksum++
	}
	if a.Kind&KindOddFlags != 0 {
		sh.stats.OddFlags++
	}
	if c.Flags&ConnRecording != 0 {
		sh.record(c, a)
	}
	for _, o := range sh.observers {
		o.Packet(a)
	}
}

// evict makes room for one connection: the one closed longest ago if any,
// otherwise the least recently active of a few sampled from the table. The
// connection at slab index protect (or -1) is never chosen.
func (sh *shard) evict(protect int) {
	for sh.doneHead < len(sh.doneQ) {
		e := sh.doneQ[sh.doneHead]
		sh.doneHead++
		c := sh.slab.at(int(e.idx))
		if int(e.idx) != protect && c.UID == e.uid && c.Done() && c.DoneAt == e.at && c.Flags&ConnReincarnated == 0 {
			sh.finish(int(e.idx), EndEvicted)
			return
		}
	}
	const samples = 8
	best, bestLast := -1, int64(0)
	n := len(sh.table.slots)
	for tries := 0; tries < 64 && (best < 0 || tries < samples); tries++ {
		sh.rng ^= sh.rng << 13
		sh.rng ^= sh.rng >> 7
		sh.rng ^= sh.rng << 17
		v := sh.table.slots[sh.rng%uint64(n)]
		if v == 0 {
			continue
		}
		idx := int(uint32(v)) - 1
		if idx == protect {
			continue
		}
		if c := sh.slab.at(idx); best < 0 || c.Last < bestLast {
			best, bestLast = idx, c.Last
		}
	}
	if best < 0 {
		sh.table.each(func(idx int) {
			if best < 0 && idx != protect {
				best = idx
			}
		})
	}
	if best >= 0 {
		sh.finish(best, EndEvicted)
	}
}

// create allocates the connection that seg opens, choosing its originator.
func (sh *shard) create(seg *Segment) int {
	idx := sh.slab.alloc()
	c := sh.slab.at(idx)
	sh.stats.Conns++
	if live := sh.slab.live; live > sh.stats.MaxLive {
		sh.stats.MaxLive = live
	}
	c.Start, c.Last = seg.Time, seg.Time
	c.FirstFrame = seg.Frame
	if !seg.Src.Addr.Is4() {
		c.Flags |= ConnIPv6
	}
	f := seg.Flags
	switch {
	case f&(FlagSYN|FlagACK|FlagRST) == FlagSYN:
		c.Orig, c.Resp = seg.Src, seg.Dst
	case f&(FlagSYN|FlagACK|FlagRST) == FlagSYN|FlagACK:
		// The SYN was missed: the receiver of the SYN-ACK sent it. Its
		// SYN is inferred from the SYN-ACK's acknowledgement number.
		c.Orig, c.Resp = seg.Dst, seg.Src
		c.Flags |= ConnPartial | ConnFlipped
		o := &c.Peers[Orig]
		o.State, o.Observed = SynSent, SynSent
		o.ISN = seg.Ack - 1
		o.Next = seg.Ack
		o.flags |= peerSawSYN | peerHaveSeq | peerInferred
		sh.stats.Partial++
	default:
		// Picked up mid-stream: guess the originator from the ports
		// (see GuessOriginator) and start both sides ESTABLISHED; the
		// receiver's state is inferred until it sends.
		if GuessOriginator(seg.Src.Port, seg.Dst.Port) {
			c.Orig, c.Resp = seg.Src, seg.Dst
		} else {
			c.Orig, c.Resp = seg.Dst, seg.Src
		}
		c.Flags |= ConnPartial | ConnGuessedOrig
		for s := Orig; s <= Resp; s++ {
			p := &c.Peers[s]
			p.State, p.Observed = Established, Established
		}
		c.Peers[c.SideOf(seg.Dst)].flags |= peerInferred
		sh.stats.Partial++
	}
	c.UID = MakeUID(c.Orig, c.Resp, seg)
	if sh.cfg.Record != nil && sh.cfg.Record(c.UID) {
		c.Flags |= ConnRecording
		sh.recs[c.UID] = &recording{}
	}
	return idx
}

// reincarnate starts a new incarnation of the connection at idx (whose key
// hashes to h) for SYN segment seg; the old one is held as its predecessor.
func (sh *shard) reincarnate(idx int, h uint64, seg *Segment) int {
	old := sh.slab.at(idx)
	if old.prev != 0 {
		sh.finishDetached(int(old.prev) - 1)
		old.prev = 0
	}
	if !old.Done() {
		old.Flags |= ConnSuperseded
	}
	old.Flags |= ConnReincarnated // held by its successor, out of the table
	sh.stats.NewIncarnations++
	nidx := sh.create(seg)
	c := sh.slab.at(nidx)
	c.prev = uint32(idx) + 1
	c.PrevUID = old.UID
	sh.table.replace(h, idx, nidx)
	return nidx
}

// expired reports whether c should leave the table before a packet at now.
func (sh *shard) expired(c *Conn, now int64) bool {
	if sh.cfg.Zeek != nil { // Zeek mode: Zeek's timers (zeek_lifetime.go)
		return sh.zeekExpired(c, now)
	}
	if c.Done() && now-c.DoneAt >= 2*sh.cfg.MSL {
		return true
	}
	return now-c.Last >= sh.cfg.IdleTimeout
}

func (sh *shard) expiryReason(c *Conn, now int64) EndReason {
	if sh.cfg.Zeek != nil { // Zeek mode: Zeek's timers (zeek_lifetime.go)
		return sh.zeekExpiryReason(c, now)
	}
	if c.Done() && now-c.DoneAt >= 2*sh.cfg.MSL {
		return EndClosed
	}
	return EndIdle
}

// finish removes the connection at idx from the table and emits it.
func (sh *shard) finish(idx int, reason EndReason) {
	c := sh.slab.at(idx)
	sh.table.remove(sh.hasher.pair(&c.Orig, &c.Resp), idx)
	sh.emitWithPredecessor(idx, reason)
}

// emitWithPredecessor emits the connection at idx (out of the table or
// about to be), emitting the predecessor it holds first.
func (sh *shard) emitWithPredecessor(idx int, reason EndReason) {
	if c := sh.slab.at(idx); c.prev != 0 {
		sh.finishDetached(int(c.prev) - 1)
		c.prev = 0
	}
	sh.emit(idx, reason)
}

// finishDetached emits a predecessor incarnation held out of the table.
func (sh *shard) finishDetached(idx int) {
	c := sh.slab.at(idx)
	reason := EndCaptureEnd
	switch {
	case c.Flags&ConnSuperseded != 0:
		reason = EndSuperseded
	case c.Done() && sh.clock-c.DoneAt >= 2*sh.cfg.MSL:
		reason = EndClosed
	}
	sh.emit(idx, reason)
}

// emit hands the connection at idx to the observers and the sink, then frees
// its slot.
func (sh *shard) emit(idx int, reason EndReason) {
	c := sh.slab.at(idx)
	rec := &sh.rec
	*rec = Record{}
	if reason == EndClosed {
		sh.trBuf = c.expireTimeWait(sh.clock, 2*sh.cfg.MSL, sh.trBuf[:0])
	}
	// The blocks are finished (an open zero window runs to the last
	// packet) and freed.
	if sh.detach(idx, c, &sh.recMet) {
		rec.Metrics = &sh.recMet
	}
	for _, o := range sh.observers {
		o.Finish(c, reason)
	}
	switch reason {
	case EndIdle:
		c.Flags |= ConnExpiredIdle
		sh.stats.IdleExpired++
	case EndEvicted:
		c.Flags |= ConnEvicted
		sh.stats.Evicted++
	}
	rec.Conn = *c
	rec.Conn.prev = 0
	rec.Reason = reason
	if c.Flags&ConnRecording != 0 {
		if r := sh.recs[c.UID]; r != nil {
			rec.Timeline, rec.Transitions = r.entries, append(r.trans, sh.trBuf...)
			delete(sh.recs, c.UID)
		}
	}
	sh.stats.Emitted++
	if sh.cfg.Sink != nil {
		sh.cfg.Sink.Conn(sh.id, rec)
	}
	c.UID = 0
	sh.slab.release(idx)
}

// advance moves the shard clock to now, firing timers that came due.
func (sh *shard) advance(now int64) {
	if now <= sh.clock {
		return
	}
	sh.clock = now
	if at := sh.cfg.SnapshotAt; at != 0 && !sh.snapTaken && now > at {
		sh.takeSnapshot(at)
	}
	twoMSL := 2 * sh.cfg.MSL
	for sh.doneHead < len(sh.doneQ) && sh.doneQ[sh.doneHead].at+twoMSL <= now {
		e := sh.doneQ[sh.doneHead]
		sh.doneHead++
		c := sh.slab.at(int(e.idx))
		if c.UID == e.uid && c.Done() && c.DoneAt == e.at && c.Flags&ConnReincarnated == 0 {
			sh.finish(int(e.idx), EndClosed)
		}
	}
	if sh.doneHead > 4096 && sh.doneHead*2 > len(sh.doneQ) {
		n := copy(sh.doneQ, sh.doneQ[sh.doneHead:])
		sh.doneQ = sh.doneQ[:n]
		sh.doneHead = 0
	}
	if now >= sh.nextSweep {
		if sh.nextSweep != 0 {
			sh.sweep(now)
		}
		every := sh.cfg.SweepEvery
		if every <= 0 {
			every = min(sh.cfg.IdleTimeout/4, 60e9)
		}
		sh.nextSweep = now + every
	}
	if now >= sh.nextTick {
		for _, o := range sh.observers {
			o.Advance(now)
		}
		sh.nextTick = now + tickEvery
	}
}

// sweep expires idle connections.
func (sh *shard) sweep(now int64) {
	sh.scratch = sh.scratch[:0]
	sh.table.each(func(idx int) {
		if c := sh.slab.at(idx); now-c.Last >= sh.cfg.IdleTimeout || (sh.cfg.Zeek != nil && sh.expired(c, now)) { // Zeek mode: Zeek's timers
			sh.scratch = append(sh.scratch, idx)
		}
	})
	for _, idx := range sh.scratch {
		c := sh.slab.at(idx)
		reason := EndIdle
		if sh.cfg.Zeek != nil && sh.expired(c, now) { // Zeek mode: the timer's reason
			reason = sh.expiryReason(c, now)
		}
		sh.finish(idx, reason)
	}
}

// record appends segment a.Seg to c's timeline.
func (sh *shard) record(c *Conn, a *Analysis) {
	r := sh.recs[c.UID]
	if r == nil {
		return
	}
	seg, s := a.Seg, a.From
	// Relative sequence numbers as Wireshark gives them: a side's base is
	// fixed by the first segment that shows it, its own (its SYN's
	// sequence number, or one less than a later segment's) or the other
	// side's acknowledgement (one less than the acknowledgement number).
	// This is the sender's ISN, or one less than the first sequence
	// number for a side picked up mid-stream, except for a side first
	// acknowledged and then seen sending something else.
	if !r.haveBase[s] {
		r.base[s], r.haveBase[s] = seg.Seq, true
		if seg.Flags&FlagSYN == 0 {
			r.base[s] = seg.Seq.Add(^seqnum.Size(0))
		}
	}
	if o := s.Other(); !r.haveBase[o] && seg.Flags&FlagACK != 0 {
		r.base[o], r.haveBase[o] = seg.Ack.Add(^seqnum.Size(0)), true
	}
	e := TimelineEntry{
		Time: seg.Time, Frame: seg.Frame, From: s, Flags: seg.Flags,
		Seq: uint32(r.base[s].Size(seg.Seq)), Len: seg.PayloadLen, Window: c.segmentWindow(seg, s),
		Kind: a.Kind, NTrans: uint8(a.NTrans),
	}
	if seg.Flags&FlagACK != 0 {
		e.Ack = uint32(r.base[s.Other()].Size(seg.Ack))
	}
	for side := Orig; side <= Resp; side++ {
		e.States[side] = c.Peers[side].State
		e.Inferred[side] = c.Peers[side].Inferred()
	}
	r.entries = append(r.entries, e)
	r.trans = append(r.trans, a.Transitions()...)
}

// takeSnapshot records every held connection's states as of time at.
func (sh *shard) takeSnapshot(at int64) {
	sh.snapTaken = true
	twoMSL := 2 * sh.cfg.MSL
	for ci := range sh.slab.chunks {
		chunk := sh.slab.chunks[ci]
		for i := range chunk {
			c := &chunk[i]
			if c.UID == 0 || c.Start > at {
				continue
			}
			cs := ConnState{UID: c.UID, Orig: c.Orig, Resp: c.Resp, Partial: c.Partial()}
			for s := Orig; s <= Resp; s++ {
				cs.States[s] = c.Peers[s].State
				cs.Inferred[s] = c.Peers[s].Inferred()
				if cs.States[s] == TimeWait && c.Done() && at >= c.DoneAt+twoMSL {
					cs.States[s] = Closed
				}
			}
			sh.snapshot = append(sh.snapshot, cs)
		}
	}
}

// drain emits every connection left, at the end of the input.
func (sh *shard) drain() {
	if sh.cfg.SnapshotAt != 0 && !sh.snapTaken {
		sh.takeSnapshot(sh.cfg.SnapshotAt)
	}
	// Observers see the capture's last moment before the last connections
	// leave, whether or not a tick was due: what they say of a connection
	// held to the end then reaches the end of the capture.
	for _, o := range sh.observers {
		o.Advance(sh.clock)
	}
	sh.scratch = sh.scratch[:0]
	sh.table.each(func(idx int) { sh.scratch = append(sh.scratch, idx) })
	// Every connection leaves: the table is emptied at once rather than
	// entry by entry.
	sh.table = newFlowTable()
	for _, idx := range sh.scratch {
		sh.emitWithPredecessor(idx, EndCaptureEnd)
	}
	for _, o := range sh.observers {
		o.Close(sh.clock)
	}
}

// run is the shard worker: it applies batches until its input closes.
func (sh *shard) run(wg *sync.WaitGroup) {
	defer wg.Done()
	for b := range sh.in {
		sh.mu.Lock()
		for i := 0; i < b.n; i++ {
			sh.process(&b.segs[i], b.hashes[i])
		}
		if b.watermark > sh.clock {
			sh.advance(b.watermark)
		}
		sh.mu.Unlock()
		if b.done != nil {
			close(b.done)
			b.done = nil
		}
		b.n = 0
		sh.free <- b
	}
}
