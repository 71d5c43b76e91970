package pipeline

import (
	"sync"
	"sync/atomic"

	"github.com/wirestate/wirestate/capture"
	"github.com/wirestate/wirestate/tracker"
)

// Evidence for --write-findings: the reader goroutine keeps, for every
// 4-tuple, a ring of its last packets until the tracker emits the
// connection's record. When a finding of warning or critical severity names
// a connection, the ring is written to the findings pcap and every further
// packet of the connection follows it until its record is emitted.
//
// Memory is bounded twice: each ring holds at most --evidence-packets
// packets of at most the snapshot length, and all rings together at most
// evidenceBudget bytes; a connection that starts while the budget is spent
// gets no ring (counted in evidenceKeeper.unkept).

// evidenceBudget bounds the bytes all rings hold together.
const evidenceBudget = 64 << 20

// evidenceOp is a request from the sink to the reader goroutine.
type evidenceOp struct {
	key  tracker.FlowKey
	dump bool // write the ring out and follow the connection; else release it
}

// evidenceQueue carries requests from the sink (shard goroutines) to the
// keeper (reader goroutine), in order. A nil queue ignores requests.
type evidenceQueue struct {
	mu      sync.Mutex
	ops     []evidenceOp
	pending atomic.Bool
}

func (q *evidenceQueue) push(op evidenceOp) {
	if q == nil {
		return
	}
	q.mu.Lock()
	q.ops = append(q.ops, op)
	q.mu.Unlock()
	q.pending.Store(true)
}

// dump asks for the ring of key to be written out. Called with the sink's
// lock held.
func (q *evidenceQueue) dump(k tracker.FlowKey) { q.push(evidenceOp{key: k, dump: true}) }

// release says the connection of key has left the tracker.
func (q *evidenceQueue) release(k tracker.FlowKey) { q.push(evidenceOp{key: k}) }

// take returns the queued requests, swapping in spare as the new queue.
func (q *evidenceQueue) take(spare []evidenceOp) []evidenceOp {
	q.mu.Lock()
	ops := q.ops
	q.ops = spare[:0]
	q.pending.Store(false)
	q.mu.Unlock()
	return ops
}

// evPacket is one kept packet.
type evPacket struct {
	ts      int64
	wireLen int
	data    []byte
}

// evRing keeps the last packets of one 4-tuple.
type evRing struct {
	pkts []evPacket
	next int  // the slot the next packet goes to, once pkts is full
	hot  bool // a finding named it: packets go straight to the file
}

// evidenceKeeper owns the rings; only the reader goroutine uses it.
type evidenceKeeper struct {
	q       *evidenceQueue
	w       *capture.PcapWriter
	per     int
	snaplen int
	rings   map[tracker.FlowKey]*evRing
	bytes   int
	spare   []evidenceOp
	unkept  uint64 // connections without a ring (budget spent)
	err     error
}

func newEvidenceKeeper(w *capture.PcapWriter, perConn, snaplen int) *evidenceKeeper {
	return &evidenceKeeper{q: &evidenceQueue{}, w: w, per: max(perConn, 1), snaplen: snaplen,
		rings: map[tracker.FlowKey]*evRing{}}
}

// add keeps (or writes) one captured TCP segment's packet.
func (k *evidenceKeeper) add(seg *tracker.Segment, data []byte, wireLen int) {
	if k.q.pending.Load() {
		k.apply()
	}
	key, _ := tracker.MakeFlowKey(seg.Src, seg.Dst)
	r := k.rings[key]
	if r == nil {
		if k.bytes+k.per*k.snaplen > evidenceBudget {
			k.unkept++
			return
		}
		r = &evRing{pkts: make([]evPacket, 0, k.per)}
		k.rings[key] = r
		k.bytes += k.per * k.snaplen
	}
	if r.hot {
		k.write(seg.Time, wireLen, data)
		return
	}
	if len(r.pkts) < k.per {
		r.pkts = append(r.pkts, evPacket{ts: seg.Time, wireLen: wireLen, data: append(make([]byte, 0, k.snaplen), data...)})
		return
	}
	p := &r.pkts[r.next]
	p.ts, p.wireLen, p.data = seg.Time, wireLen, append(p.data[:0], data...)
	r.next = (r.next + 1) % k.per
}

// apply carries out the queued requests.
func (k *evidenceKeeper) apply() {
	ops := k.q.take(k.spare)
	for _, op := range ops {
		r := k.rings[op.key]
		if r == nil {
			continue
		}
		if !op.dump {
			delete(k.rings, op.key)
			k.bytes -= k.per * k.snaplen
			continue
		}
		if r.hot {
			continue
		}
		r.hot = true
		n := len(r.pkts)
		for i := 0; i < n; i++ {
			p := &r.pkts[(r.next+i)%n]
			k.write(p.ts, p.wireLen, p.data)
		}
		r.pkts = nil
	}
	k.spare = ops
}

func (k *evidenceKeeper) write(ts int64, wireLen int, data []byte) {
	if k.err == nil {
		k.err = k.w.WritePacket(ts, wireLen, data)
	}
}

// close applies the last requests and closes the file.
func (k *evidenceKeeper) close() error {
	k.apply()
	if err := k.w.Close(); k.err == nil {
		k.err = err
	}
	return k.err
}
