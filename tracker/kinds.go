package tracker

import "iter"

// AnomalyKind names a kind of finding. The names are part of wirestate's
// interface (JSON "kind", flags, manifests); the bits index Conn.Anomalies.
// Everything else known about a kind is its row in the kinds table below.
type AnomalyKind uint8

// The finding kinds, in no particular order. The values are bits of
// Conn.Anomalies, whose names are listed in this order: append new kinds
// at the end.
const (
	AnomSYNUnanswered AnomalyKind = iota
	AnomConnectionRefused
	AnomAcceptQueueOverflowRST
	AnomAcceptQueueOverflowDrop
	AnomSYNFlood
	AnomSYNACKUnanswered
	AnomLostFinalACK
	AnomCloseWaitStuck
	AnomHalfOpen
	AnomPortReuse
	AnomStaleSegment
	AnomAbortiveClose
	AnomZeroWindow
	AnomKeepalive
	AnomTimeWaitLoad
	AnomEphemeralPorts
	AnomRSTACKFlood
	AnomScan
	AnomMiddleboxReset
	// NumAnomalyKinds is the number of kinds; it must stay below 24.
	NumAnomalyKinds
)

// kindInfo is one row of the kinds table.
type kindInfo struct {
	// name is the kind's name in every output and its --no-KIND flag.
	name string
	// severity is the default severity of the kind's findings; detectors
	// raise it for some findings (the README section says when).
	severity Severity
	// absence marks kinds that rest on a packet not being seen: capture
	// loss during their evidence can fake them.
	absence bool
	// aggregate marks kinds only detect.Aggregate reports (from the
	// per-connection findings and records), no per-connection unit.
	aggregate bool
	// section is the anchor of the README section documenting the kind.
	section string
	// doc is a one-line description, for --help.
	doc string
}

// kinds is the table of finding kinds. Adding a kind is a constant above,
// a row here, a detector in tracker/detect and a test row.
var kinds = [NumAnomalyKinds]kindInfo{
	AnomSYNUnanswered: {name: "syn-unanswered", severity: SevWarning, absence: true,
		section: "syn-unanswered-warning",
		doc:     "a client retransmitted its SYN and saw no SYN-ACK"},
	AnomConnectionRefused: {name: "connection-refused", severity: SevWarning,
		section: "connection-refused-warning",
		doc:     "a SYN answered by a RST: nothing listens on the port, or a firewall rejects"},
	AnomAcceptQueueOverflowRST: {name: "accept-queue-overflow-rst", severity: SevCritical,
		section: "accept-queue-overflow-rst-critical-aggregated-per-listener",
		doc:     "a listener reset a connection right after its handshake: full accept queue, tcp_abort_on_overflow=1"},
	AnomAcceptQueueOverflowDrop: {name: "accept-queue-overflow-drop", severity: SevCritical, absence: true,
		section: "accept-queue-overflow-drop-critical-aggregated-per-listener",
		doc:     "a listener dropped the handshake's ACK and retransmitted its SYN-ACK: full accept queue, tcp_abort_on_overflow=0"},
	AnomSYNFlood: {name: "syn-flood", severity: SevCritical, aggregate: true,
		section: "syn-flood-critical-per-listener-synack-unanswered-info-warning-inside-a-flood",
		doc:     "many handshakes to one listener left half-open, from many sources in a short window"},
	AnomSYNACKUnanswered: {name: "synack-unanswered", severity: SevInfo, absence: true, aggregate: true,
		section: "syn-flood-critical-per-listener-synack-unanswered-info-warning-inside-a-flood",
		doc:     "a listener's SYN-ACK was never acknowledged"},
	AnomLostFinalACK: {name: "lost-final-ack", severity: SevWarning, absence: true,
		section: "lost-final-ack-warning",
		doc:     "the passive closer retransmits its FIN from LAST_ACK"},
	AnomCloseWaitStuck: {name: "close-wait-stuck", severity: SevWarning, absence: true,
		section: "close-wait-stuck-warning-aggregated-per-service",
		doc:     "an endpoint acknowledged its peer's FIN but never sent its own"},
	AnomHalfOpen: {name: "half-open", severity: SevCritical, absence: true,
		section: "half-open-critical",
		doc:     "one endpoint lost the connection the other still holds"},
	AnomPortReuse: {name: "port-reuse", severity: SevInfo,
		section: "port-reuse-info-warning-inside-2msl-and-stale-segment-critical",
		doc:     "a new connection on a 4-tuple whose previous incarnation is open or closed less than 2MSL ago"},
	AnomStaleSegment: {name: "stale-segment", severity: SevCritical,
		section: "port-reuse-info-warning-inside-2msl-and-stale-segment-critical",
		doc:     "a segment of a 4-tuple's previous incarnation arrived while the new one is open"},
	AnomAbortiveClose: {name: "abortive-close", severity: SevInfo,
		section: "abortive-close-info-warning-for-server-side-aborts-in-bulk",
		doc:     "an established connection ended by a RST"},
	AnomZeroWindow: {name: "zero-window", severity: SevInfo,
		section: "zero-window-keepalive-info-time-wait-load-ephemeral-ports-per-host",
		doc:     "a receiver advertised a zero window: it stopped reading"},
	AnomKeepalive: {name: "keepalive", severity: SevInfo,
		section: "zero-window-keepalive-info-time-wait-load-ephemeral-ports-per-host",
		doc:     "keepalive probes and their interval"},
	AnomTimeWaitLoad: {name: "time-wait-load", severity: SevInfo, aggregate: true,
		section: "zero-window-keepalive-info-time-wait-load-ephemeral-ports-per-host",
		doc:     "the TIME_WAIT sockets a host held over time, and who closed first"},
	AnomEphemeralPorts: {name: "ephemeral-ports", severity: SevInfo, aggregate: true,
		section: "zero-window-keepalive-info-time-wait-load-ephemeral-ports-per-host",
		doc:     "the source ports a client used towards one server within 2MSL, against the ephemeral range"},
	AnomRSTACKFlood: {name: "rst-ack-flood", severity: SevCritical, aggregate: true,
		section: "rst-ack-flood-critical-per-target",
		doc:     "many lone RSTs or ACKs for connections never seen, from many sources"},
	AnomScan: {name: "scan", severity: SevInfo,
		section: "scan-info-counted-per-source",
		doc:     "a handshake no real client makes: the SYN-ACK reset by the SYN's own host (a stateless scanner, a spoofed SYN), or a FIN in the handshake's ACK"},
	AnomMiddleboxReset: {name: "middlebox-reset", severity: SevWarning,
		section: "middlebox-reset-warning",
		doc:     "a RST made by something in the path (firewall, IPS, load balancer): its IP TTL differs from the claimed sender's other packets"},
}

// unknownKind is the row of a value that is no kind.
var unknownKind = kindInfo{name: "unknown"}

// row returns k's row of the kinds table.
func (k AnomalyKind) row() *kindInfo {
	if k < NumAnomalyKinds {
		return &kinds[k]
	}
	return &unknownKind
}

// String returns the kind's name, for example "lost-final-ack".
func (k AnomalyKind) String() string { return k.row().name }

// DefaultSeverity returns the severity of the kind's findings unless the
// detector raises it for a finding (a flood, a bulk, inside 2MSL).
func (k AnomalyKind) DefaultSeverity() Severity { return k.row().severity }

// AbsenceBased reports whether the kind rests on a packet not being seen,
// so that capture loss during its evidence can fake it.
func (k AnomalyKind) AbsenceBased() bool { return k.row().absence }

// Aggregate reports whether only detect.Aggregate reports the kind (from
// the per-connection findings and records) rather than a detector unit
// watching each connection.
func (k AnomalyKind) Aggregate() bool { return k.row().aggregate }

// Section returns the anchor of the README section documenting the kind,
// for example "lost-final-ack-warning" (README.md#lost-final-ack-warning).
func (k AnomalyKind) Section() string { return k.row().section }

// Doc returns a one-line description of the kind, for --help.
func (k AnomalyKind) Doc() string { return k.row().doc }

// AllKinds yields every kind in order.
func AllKinds() iter.Seq[AnomalyKind] {
	return func(yield func(AnomalyKind) bool) {
		for k := AnomalyKind(0); k < NumAnomalyKinds; k++ {
			if !yield(k) {
				return
			}
		}
	}
}

// ParseAnomalyKind returns the kind with the given name.
func ParseAnomalyKind(name string) (AnomalyKind, bool) {
	for k := range AllKinds() {
		if k.String() == name {
			return k, true
		}
	}
	return 0, false
}
