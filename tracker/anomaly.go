package tracker

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
