package tracker_test

import (
	"testing"

	. "github.com/wirestate/wirestate/tracker"
	"github.com/wirestate/wirestate/tracker/seqnum"
	tt "github.com/wirestate/wirestate/tracker/trackertest"
)

// invariantObserver checks, after every segment, what must always hold.
type invariantObserver struct {
	t  *testing.T
	tr *Tracker
	// ends holds what each endpoint of each connection sent, kept from the
	// segments themselves rather than from the tracker's bookkeeping.
	ends map[endKey]*endSent
}

type endKey struct {
	uid  UID
	side Side
}

// endSent is what one endpoint sent, for the handshake invariants.
type endSent struct {
	// synOnly: its first segment was a SYN (without ACK), in a connection
	// that was not picked up mid-stream, and it has sent nothing but SYNs
	// since.
	synOnly bool
	// syn and haveSYN: the sequence number of its last SYN.
	syn     seqnum.Value
	haveSYN bool
	// maxAck and haveAck: the highest acknowledgement it sent.
	maxAck  seqnum.Value
	haveAck bool
	// held: it retransmitted its SYN-ACK after the peer had acknowledged
	// it, and has sent no segment without SYN since: it holds
	// SYN_RECEIVED until its own segment says otherwise.
	held bool
}

// synOnlyMask picks the flags that make a segment more than a SYN (or its
// retransmission): a SYN carrying a FIN, an ACK or a RST is a segment sent
// after the SYN. ECE and CWR (ECN set-up) and PSH do not count.
const synOnlyMask = FlagSYN | FlagACK | FlagRST | FlagFIN

// sent updates what the endpoint sending segment a.Seg has sent.
func (o *invariantObserver) sent(a *Analysis) {
	if o.ends == nil {
		o.ends = map[endKey]*endSent{}
	}
	seg, p := a.Seg, &a.Conn.Peers[a.From]
	k := endKey{a.Conn.UID, a.From}
	e := o.ends[k]
	if e == nil {
		e = &endSent{}
		o.ends[k] = e
		// Only in a connection the tracker saw open: one picked up
		// mid-stream starts both endpoints ESTABLISHED.
		e.synOnly = !a.Conn.Partial() && p.Pkts == 1 && seg.Flags&synOnlyMask == FlagSYN && !seg.BadChecksum
	} else if seg.Flags&synOnlyMask != FlagSYN {
		e.synOnly = false
	}
	if seg.BadChecksum {
		return // moves no state (see Conn.apply)
	}
	peer := o.ends[endKey{a.Conn.UID, a.From.Other()}]
	if seg.Flags&FlagSYN != 0 {
		if seg.Flags&FlagACK != 0 && e.haveSYN && seg.Seq == e.syn && peer != nil && peer.haveAck && peer.maxAck.GreaterThan(e.syn) {
			e.held = true
		}
		e.syn, e.haveSYN = seg.Seq, true
	} else {
		e.held = false
	}
	if seg.Flags&FlagACK != 0 && (!e.haveAck || seg.Ack.GreaterThan(e.maxAck)) {
		e.maxAck, e.haveAck = seg.Ack, true
	}
}

func (o *invariantObserver) Packet(a *Analysis) {
	o.sent(a)
	for _, tr := range a.Transitions() {
		if !tr.Legal() {
			o.t.Fatalf("frame %d: illegal transition %v %v→%v (inferred %v, correction %v)",
				tr.Frame, tr.Side, tr.From, tr.To, tr.Inferred, tr.Correction)
		}
		if tr.To != Established {
			continue
		}
		// An endpoint that sent nothing after its SYN is never
		// ESTABLISHED; one that retransmitted its SYN-ACK after it was
		// acknowledged is not inferred ESTABLISHED from its peer's
		// segments until its own segment proves it.
		if e := o.ends[endKey{a.Conn.UID, tr.Side}]; e != nil {
			if e.synOnly {
				o.t.Fatalf("frame %d: %v moved to ESTABLISHED having sent nothing after its SYN", tr.Frame, tr.Side)
			}
			if e.held && tr.Inferred {
				o.t.Fatalf("frame %d: %v inferred ESTABLISHED after retransmitting its acknowledged SYN-ACK", tr.Frame, tr.Side)
			}
		}
	}
	for s := Orig; s <= Resp; s++ {
		if st := a.Conn.Peers[s].State; int(st) >= NumStates {
			o.t.Fatalf("frame %d: invalid state %d", a.Seg.Frame, st)
		}
	}
	if o.tr == nil {
		return
	}
	if err := o.tr.CheckShard(0); err != nil {
		o.t.Fatalf("frame %d: %v", a.Seg.Frame, err)
	}
}

func (o *invariantObserver) Advance(int64)           {}
func (o *invariantObserver) Finish(*Conn, EndReason) {}
func (o *invariantObserver) Close(int64)             {}

// segmentsFromBytes turns fuzz input into segments among a few endpoints:
// each 8-byte record picks the direction and 4-tuple, the flags, small
// offsets of seq and ack from two per-side bases, a payload length and a
// time step.
func segmentsFromBytes(data []byte) []Segment {
	eps := [3]Endpoint{
		{Addr: AddrFrom4([4]byte{10, 0, 0, 1}), Port: 40000},
		{Addr: AddrFrom4([4]byte{10, 0, 0, 2}), Port: 80},
		{Addr: AddrFrom4([4]byte{10, 0, 0, 1}), Port: 40001},
	}
	bases := [2]uint32{0xfffffff0, 1 << 31}
	var out []Segment
	now := int64(1e18)
	for i := 0; i+8 <= len(data) && len(out) < 256; i += 8 {
		r := data[i : i+8]
		a, b := eps[0], eps[1]
		if r[0]&2 != 0 {
			a = eps[2]
		}
		from := int(r[0] & 1)
		if from == 1 {
			a, b = b, a
		}
		now += int64(r[7]) * int64(1+int(r[0]>>5)*int(1e8))
		s := Segment{
			Time: now, Frame: uint64(len(out) + 1), Src: a, Dst: b,
			Flags:      r[1],
			Seq:        seqnum.Value(bases[from] + uint32(r[2]) + uint32(r[0]&0x10)<<20),
			Ack:        seqnum.Value(bases[1-from] + uint32(r[3])),
			Window:     uint16(r[4]) << (r[0] >> 2 & 3),
			PayloadLen: uint32(r[5] & 0x3f),
			IPLen:      40 + uint32(r[5]&0x3f),
		}
		if r[6]&1 != 0 {
			s.Opts |= OptWScale
			s.WScale = r[6] >> 4
		}
		if r[6]&2 != 0 {
			s.Opts |= OptTimestamp
		}
		if r[6]&4 != 0 {
			s.BadChecksum = true
		}
		out = append(out, s)
	}
	return out
}

// FuzzTracker feeds arbitrary segment sequences to the tracker and checks
// its invariants after every segment: states move only along legal edges,
// the slab and the table agree, every held connection is found under its
// key, and every connection is emitted exactly once. Two handshake
// invariants hold too: an endpoint that sent nothing after its SYN is never
// ESTABLISHED (no transition to it, no final state), and an endpoint that
// retransmitted its SYN-ACK after the peer acknowledged it is not inferred
// ESTABLISHED until its own segment without SYN.
func FuzzTracker(f *testing.F) {
	f.Add([]byte{0, 2, 0, 0, 100, 0, 1, 1, 1, 18, 0, 1, 100, 0, 1, 1, 0, 16, 1, 1, 100, 0, 0, 1})
	f.Add([]byte{0, 2, 0, 0, 100, 0, 1, 1, 1, 20, 0, 1, 0, 0, 0, 1, 0, 17, 1, 1, 0, 0, 0, 9, 1, 17, 1, 2, 0, 0, 0, 9})
	// A SYN answered by a SYN-ACK, retransmitted unanswered.
	f.Add([]byte{0, 2, 0, 0, 100, 0, 1, 1, 1, 18, 0, 1, 100, 0, 1, 1, 1, 18, 0, 1, 100, 0, 1, 200})
	// The SYN-ACK retransmitted after the handshake's ACK, then the
	// client's ACK and data again (a listener with a full accept queue).
	f.Add([]byte{0, 2, 0, 0, 100, 0, 1, 1, 1, 18, 0, 1, 100, 0, 1, 1, 0, 16, 1, 1, 100, 0, 0, 1,
		1, 18, 0, 1, 100, 0, 1, 200, 0, 16, 1, 1, 100, 0, 0, 1, 0, 24, 1, 1, 100, 10, 0, 100})
	f.Fuzz(func(t *testing.T, data []byte) {
		segs := segmentsFromBytes(data)
		inv := &invariantObserver{t: t}
		col := &tt.Collector{}
		tr := New(Config{Inline: true, MaxConns: 3, MSL: 1e8, IdleTimeout: 1e10, Sink: col,
			Observers: func(int, func(*Finding)) []Observer { return []Observer{inv} }})
		inv.tr = tr
		for i := range segs {
			tr.Feed(&segs[i])
		}
		st := tr.Close()
		if uint64(len(col.Recs)) != st.Conns {
			t.Fatalf("%d records for %d connections", len(col.Recs), st.Conns)
		}
		seen := map[UID]bool{}
		for _, r := range col.Recs {
			if seen[r.Conn.UID] {
				t.Fatalf("connection %v emitted twice", r.Conn.UID)
			}
			seen[r.Conn.UID] = true
			for s := Orig; s <= Resp; s++ {
				if e := inv.ends[endKey{r.Conn.UID, s}]; e != nil && e.synOnly && r.Conn.Peers[s].State == Established {
					t.Fatalf("connection %v: %v ends ESTABLISHED having sent nothing after its SYN", r.Conn.UID, s)
				}
			}
		}
		if st.Segments != uint64(len(segs)) {
			t.Fatalf("%d segments counted, %d fed", st.Segments, len(segs))
		}
	})
}

func TestLegalTransitions(t *testing.T) {
	cases := []struct {
		tr   Transition
		want bool
	}{
		{Transition{From: Closed, To: SynSent}, true},
		{Transition{From: Established, To: FinWait1}, true},
		{Transition{From: LastAck, To: Closed}, true},
		{Transition{From: Closed, To: TimeWait}, false},
		{Transition{From: SynSent, To: CloseWait}, false},
		{Transition{From: TimeWait, To: Established}, false},
		{Transition{From: Established, To: SynReceived}, false},
		{Transition{From: Established, To: SynReceived, Correction: true}, true},
		{Transition{From: Closed, To: LastAck, Correction: true}, true},
		{Transition{From: FinWait2, To: Established, Correction: true}, false},
	}
	for _, c := range cases {
		if got := c.tr.Legal(); got != c.want {
			t.Errorf("%v→%v (correction %v): Legal() = %v, want %v", c.tr.From, c.tr.To, c.tr.Correction, got, c.want)
		}
	}
}
