package tracker

// EndReason says why a connection left the flow table.
type EndReason uint8

// Reasons a connection record is emitted.
const (
	// EndCaptureEnd: the capture (or live run) ended with the connection
	// still in the table.
	EndCaptureEnd EndReason = iota
	// EndClosed: both endpoints closed and 2MSL passed.
	EndClosed
	// EndIdle: no packet for the idle timeout; still open as far as the
	// capture shows.
	EndIdle
	// EndEvicted: removed to keep memory bounded.
	EndEvicted
	// EndSuperseded: a new incarnation of the 4-tuple replaced it while at
	// least one endpoint still held it.
	EndSuperseded
)

var endReasonNames = [...]string{"capture-end", "closed", "idle", "evicted", "superseded"}

// String returns the reason's kebab-case name, as the JSON output prints it.
func (r EndReason) String() string {
	if int(r) < len(endReasonNames) {
		return endReasonNames[r]
	}
	return "unknown"
}

// TimelineEntry is one packet of a recorded connection, with both endpoints'
// states after it.
type TimelineEntry struct {
	Time  int64
	Frame uint64
	// From is the side that sent the packet.
	From  Side
	Flags uint8
	// Seq and Ack are relative to the sender's and receiver's ISN, as
	// Wireshark numbers them: for a side picked up mid-stream, to one less
	// than the first sequence number that showed it (its own, or the
	// other side's acknowledgement number).
	Seq, Ack uint32
	// Len is the payload length.
	Len uint32
	// Window is the advertised window in bytes (scaled where negotiated).
	Window uint32
	// Kind classifies the packet.
	Kind PacketKind
	// States holds the originator's and responder's states after the
	// packet, and Inferred whether each rests on assumed delivery.
	States   [2]State
	Inferred [2]bool
	// NTrans is how many entries of the record's Transitions this packet
	// caused (they carry its Frame).
	NTrans uint8
}

// Record is a connection leaving the tracker: a copy of its final Conn, why
// it left, and, when it was recorded, its timeline and transitions.
type Record struct {
	Conn   Conn
	Reason EndReason
	// Metrics is the connection's latency and loss, nil if it had none
	// (it never completed its handshake nor carried data) or if the
	// record's holder kept none. A record handed to a Sink points to the
	// tracker's storage, valid for the call: a sink that keeps the record
	// copies it (CloneMetrics).
	Metrics *Metrics
	// Timeline and Transitions are filled only for recorded connections.
	Timeline    []TimelineEntry
	Transitions []Transition
}

// noMetrics is the zero Metrics MetricsOrZero returns; never written.
var noMetrics Metrics

// MetricsOrZero returns r.Metrics, or a zero Metrics (On reports false)
// when r has none. The result is read-only.
func (r *Record) MetricsOrZero() *Metrics {
	if r.Metrics == nil {
		return &noMetrics
	}
	return r.Metrics
}

// CloneMetrics returns a copy of *m, or nil when m is nil.
func CloneMetrics(m *Metrics) *Metrics {
	if m == nil {
		return nil
	}
	c := *m
	return &c
}

// Severity ranks findings.
type Severity uint8

// Severities, least severe first.
const (
	SevInfo Severity = iota
	SevWarning
	SevCritical
)

var severityNames = [...]string{"info", "warning", "critical"}

// String returns "info", "warning" or "critical".
func (s Severity) String() string {
	if int(s) < len(severityNames) {
		return severityNames[s]
	}
	return "unknown"
}

// Evidence points at one packet that supports a finding.
type Evidence struct {
	Time  int64
	Frame uint64
	What  string
}

// Finding is one named failure on a connection, or on many connections of
// one listener or host (Scope and UIDs set).
type Finding struct {
	Kind     AnomalyKind
	Severity Severity
	Time     int64
	UID      UID
	Orig     Endpoint
	Resp     Endpoint
	Summary  string
	Evidence []Evidence
	Hint     string
	// Uncertain is set when the vantage point (or capture loss) leaves the
	// finding in doubt; Summary says why.
	Uncertain bool
	// Scope names the listener or host an aggregate finding is about, for
	// example "10.0.0.2:8080"; empty for a per-connection finding.
	Scope string
	// UIDs lists the member connections of an aggregate finding.
	UIDs []UID
	// Count is the number of member connections (or events) aggregated.
	Count int
	// First and Last bound the time span of an aggregate finding.
	First, Last int64
	// Peak is, for a load aggregate, the most at once (time-wait-load:
	// TIME_WAIT sockets); 0 when not measured. The text report ranks
	// aggregates by it.
	Peak int
}
