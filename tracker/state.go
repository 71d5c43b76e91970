package tracker

// State is the RFC 793 state of one endpoint of a TCP connection, as
// inferred from the segments observed at the capture point.
type State uint8

// The RFC 793 section 3.2 connection states. Closed is the zero value: an
// endpoint that has shown nothing yet (or has released the connection).
const (
	Closed State = iota
	Listen
	SynSent
	SynReceived
	Established
	FinWait1
	FinWait2
	Closing
	TimeWait
	CloseWait
	LastAck
	numStates
)

// NumStates is the number of distinct State values.
const NumStates = int(numStates)

var stateNames = [...]string{
	Closed:      "CLOSED",
	Listen:      "LISTEN",
	SynSent:     "SYN_SENT",
	SynReceived: "SYN_RECEIVED",
	Established: "ESTABLISHED",
	FinWait1:    "FIN_WAIT_1",
	FinWait2:    "FIN_WAIT_2",
	Closing:     "CLOSING",
	TimeWait:    "TIME_WAIT",
	CloseWait:   "CLOSE_WAIT",
	LastAck:     "LAST_ACK",
}

// ssNames are the names `ss -tan` prints in its State column.
var ssNames = [...]string{
	Closed:      "UNCONN",
	Listen:      "LISTEN",
	SynSent:     "SYN-SENT",
	SynReceived: "SYN-RECV",
	Established: "ESTAB",
	FinWait1:    "FIN-WAIT-1",
	FinWait2:    "FIN-WAIT-2",
	Closing:     "CLOSING",
	TimeWait:    "TIME-WAIT",
	CloseWait:   "CLOSE-WAIT",
	LastAck:     "LAST-ACK",
}

// String returns the RFC 793 name with underscores, as in the JSON output.
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "INVALID"
}

// SSName returns the name `ss -tan` prints for the state.
func (s State) SSName() string {
	if int(s) < len(ssNames) {
		return ssNames[s]
	}
	return "INVALID"
}

// ParseState returns the State named by its RFC name (as String prints it).
func ParseState(name string) (State, bool) {
	for i, n := range stateNames {
		if n == name {
			return State(i), true
		}
	}
	return Closed, false
}

// Synchronized reports whether the endpoint has completed its side of the
// handshake (RFC 793: ESTABLISHED and every state after it).
func (s State) Synchronized() bool { return s >= Established && s < numStates }

// Handshaking reports whether the endpoint is in SYN_SENT or SYN_RECEIVED.
func (s State) Handshaking() bool { return s == SynSent || s == SynReceived }

// SentFIN reports whether the endpoint has sent its FIN in this state.
func (s State) SentFIN() bool {
	switch s {
	case FinWait1, FinWait2, Closing, TimeWait, LastAck:
		return true
	}
	return false
}

// PeerClosed reports whether the endpoint has received its peer's FIN.
func (s State) PeerClosed() bool {
	switch s {
	case Closing, TimeWait, CloseWait, LastAck:
		return true
	}
	return false
}

// Open reports whether the endpoint still holds the connection as `ss` would
// list it: any state but CLOSED and LISTEN.
func (s State) Open() bool { return s != Closed && s != Listen && s < numStates }
