package tracker

import "github.com/wirestate/wirestate/tracker/seqnum"

// PacketKind is a bit set classifying one segment within its connection.
type PacketKind uint32

// Packet kinds, set by the tracker on each segment's Analysis.
const (
	// KindNewConn marks the first segment of a connection.
	KindNewConn PacketKind = 1 << iota
	// KindNewData marks a segment that carries sequence space not sent before.
	KindNewData
	// KindRetransmission marks a segment whose sequence space (data, SYN or
	// FIN) was all sent before.
	KindRetransmission
	// KindSYNRetransmission marks a retransmitted SYN (same ISN).
	KindSYNRetransmission
	// KindSYNACKRetransmission marks a retransmitted SYN-ACK.
	KindSYNACKRetransmission
	// KindFINRetransmission marks a retransmitted FIN.
	KindFINRetransmission
	// KindGap marks a segment that starts beyond the highest sequence number
	// seen from its sender: earlier segments were not captured.
	KindGap
	// KindDupAck marks a duplicate acknowledgement.
	KindDupAck
	// KindKeepalive marks a keepalive probe (sequence number one below the
	// next, at most one byte).
	KindKeepalive
	// KindKeepaliveAck marks the answer to a keepalive probe.
	KindKeepaliveAck
	// KindWindowProbe marks a probe sent into a zero window.
	KindWindowProbe
	// KindZeroWindow marks a segment that advertises a zero window.
	KindZeroWindow
	// KindWindowUpdate marks a pure ACK that only opens the window.
	KindWindowUpdate
	// KindRSTInWindow marks a RST the receiver would accept.
	KindRSTInWindow
	// KindRSTOutOfWindow marks a RST the receiver would ignore.
	KindRSTOutOfWindow
	// KindAckAdvanced marks a segment whose ACK acknowledges new data.
	KindAckAdvanced
	// KindPrevIncarnation marks a segment that fits the previous incarnation
	// of the 4-tuple, not the current one; it was applied to the previous one.
	KindPrevIncarnation
	// KindNewIncarnation marks a SYN that began a new incarnation of a
	// 4-tuple the tracker still remembered.
	KindNewIncarnation
	// KindCorrection marks a segment that contradicted an inferred state of
	// its sender: the inference was undone.
	KindCorrection
	// KindBadChecksum marks a segment whose TCP checksum was wrong.
	KindBadChecksum
	// KindOddFlags marks a flag combination no TCP sends: SYN with FIN or
	// RST, or none of SYN, FIN, RST and ACK.
	KindOddFlags
	// KindRSTTTLMismatch marks a RST whose IP TTL (hop limit) differs from
	// the steady TTL of its claimed sender's other segments
	// (Peer.TTLSteady): something nearer or farther in the path made it
	// (tracker/detect's middlebox-reset).
	KindRSTTTLMismatch
)

var kindNames = [...]string{
	"new-conn", "new-data", "retransmission", "syn-retransmission", "synack-retransmission",
	"fin-retransmission", "gap", "dup-ack", "keepalive", "keepalive-ack", "window-probe",
	"zero-window", "window-update", "rst-in-window", "rst-out-of-window", "ack-advanced",
	"prev-incarnation", "new-incarnation", "correction", "bad-checksum", "odd-flags",
	"rst-ttl-mismatch",
}

// Names returns the names of the kinds set in k, in bit order.
func (k PacketKind) Names() []string {
	var out []string
	for i, n := range kindNames {
		if k&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return out
}

// Transition is one change of an endpoint's state.
type Transition struct {
	// Time and Frame identify the packet that caused the change (or, for a
	// timer, the time it fired and Frame zero).
	Time  int64
	Frame uint64
	// Side is the endpoint that changed.
	Side Side
	// From and To are the states before and after.
	From, To State
	// Inferred is set when the change rests on the assumed delivery of the
	// other side's segment, not on the endpoint's own packet.
	Inferred bool
	// Correction is set when the change undoes an earlier inference that the
	// endpoint's own packet contradicted.
	Correction bool
	// Timer is set when the change was made by a timer (TIME_WAIT expiry).
	Timer bool
}

// maxTransitions bounds the transitions one segment can cause.
const maxTransitions = 6

// Analysis is what the tracker learned from one segment. The tracker fills
// one per shard and reuses it; observers must copy what they keep.
type Analysis struct {
	// Conn is the connection the segment was applied to.
	Conn *Conn
	// Seg is the segment.
	Seg *Segment
	// From is the side that sent the segment.
	From Side
	// Kind classifies the segment.
	Kind PacketKind
	// Other is the other incarnation of the 4-tuple involved: for
	// KindNewIncarnation the previous one, for KindPrevIncarnation (when
	// Conn is the previous incarnation) the current one.
	Other *Conn
	// Trans holds the transitions the segment caused, NTrans of them.
	Trans  [maxTransitions]Transition
	NTrans int

	// prevNext is the sender's SND.MAX before the segment; prevAck and
	// hadAck its previous acknowledgement, set when the segment's ACK
	// advanced (KindAckAdvanced).
	prevNext, prevAck seqnum.Value
	hadAck            bool

	// skipHistory, set for the shard's life, skips Conn.Hist.
	skipHistory bool
}

// Transitions returns the transitions the segment caused.
func (a *Analysis) Transitions() []Transition { return a.Trans[:a.NTrans] }

func (a *Analysis) reset(seg *Segment) {
	a.Conn, a.Seg, a.Kind, a.Other, a.NTrans = nil, seg, 0, nil, 0
}
