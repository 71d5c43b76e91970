package tracker

// AnomalyKind names a kind of finding. The names are part of wirestate's
// interface (JSON "kind", flags, manifests); the bits index Conn.Anomalies.
type AnomalyKind uint8

// The finding kinds, in no particular order.
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
	// NumAnomalyKinds is the number of kinds; it must stay below 24.
	NumAnomalyKinds
)

var anomalyNames = [...]string{
	AnomSYNUnanswered:           "syn-unanswered",
	AnomConnectionRefused:       "connection-refused",
	AnomAcceptQueueOverflowRST:  "accept-queue-overflow-rst",
	AnomAcceptQueueOverflowDrop: "accept-queue-overflow-drop",
	AnomSYNFlood:                "syn-flood",
	AnomSYNACKUnanswered:        "synack-unanswered",
	AnomLostFinalACK:            "lost-final-ack",
	AnomCloseWaitStuck:          "close-wait-stuck",
	AnomHalfOpen:                "half-open",
	AnomPortReuse:               "port-reuse",
	AnomStaleSegment:            "stale-segment",
	AnomAbortiveClose:           "abortive-close",
	AnomZeroWindow:              "zero-window",
	AnomKeepalive:               "keepalive",
	AnomTimeWaitLoad:            "time-wait-load",
	AnomEphemeralPorts:          "ephemeral-ports",
	AnomRSTACKFlood:             "rst-ack-flood",
}

// String returns the kind's name, for example "lost-final-ack".
func (k AnomalyKind) String() string {
	if int(k) < len(anomalyNames) {
		return anomalyNames[k]
	}
	return "unknown"
}

// ParseAnomalyKind returns the kind with the given name.
func ParseAnomalyKind(name string) (AnomalyKind, bool) {
	for i, n := range anomalyNames {
		if n == name {
			return AnomalyKind(i), true
		}
	}
	return 0, false
}

// AnomalyKinds returns every kind in order.
func AnomalyKinds() []AnomalyKind {
	out := make([]AnomalyKind, NumAnomalyKinds)
	for i := range out {
		out[i] = AnomalyKind(i)
	}
	return out
}

// Mark sets kind k in c's anomaly set.
func (c *Conn) Mark(k AnomalyKind) { c.Anomalies |= 1 << k }

// Has reports whether kind k is in c's anomaly set.
func (c *Conn) Has(k AnomalyKind) bool { return c.Anomalies&(1<<k) != 0 }

// Anomalous reports whether any finding kind is in c's anomaly set
// (detectors' watch bits aside).
func (c *Conn) Anomalous() bool { return c.Anomalies&(1<<watchShift-1) != 0 }

// AnomalyNames returns the names of the kinds in c's anomaly set.
func (c *Conn) AnomalyNames() []string {
	var out []string
	c.eachAnomaly(func(k AnomalyKind) { out = append(out, k.String()) })
	return out
}

// AppendAnomalyNames appends the names of the kinds in c's anomaly set to
// b, each after sep when b already holds something past start.
func (c *Conn) AppendAnomalyNames(b []byte, start int, sep string) []byte {
	c.eachAnomaly(func(k AnomalyKind) {
		if len(b) > start {
			b = append(b, sep...)
		}
		b = append(b, k.String()...)
	})
	return b
}

// eachAnomaly calls fn for each kind in c's anomaly set, in kind order.
func (c *Conn) eachAnomaly(fn func(AnomalyKind)) {
	for k := AnomalyKind(0); k < NumAnomalyKinds; k++ {
		if c.Has(k) {
			fn(k)
		}
	}
}

// watchShift is where the detectors' watch bits start in Conn.Anomalies.
const watchShift = 24

// Watching reports whether detector watch bit b (0 to 7) is set: the
// detector keeps notes on c, so it must look them up.
func (c *Conn) Watching(b uint) bool { return c.Anomalies&(1<<(watchShift+b)) != 0 }

// Watched reports whether any detector keeps notes on c.
func (c *Conn) Watched() bool { return c.Anomalies>>watchShift != 0 }

// SetWatch sets detector watch bit b on c.
func (c *Conn) SetWatch(b uint) { c.Anomalies |= 1 << (watchShift + b) }

// ClearWatch clears detector watch bit b on c.
func (c *Conn) ClearWatch(b uint) { c.Anomalies &^= 1 << (watchShift + b) }
