package tracker

// legalEdges lists the state changes RFC 793's diagram allows (section 3.2,
// figure 6), plus the ones an observer needs: any state to CLOSED on a RST,
// and TIME_WAIT to CLOSED when its timer fires.
var legalEdges = map[[2]State]bool{
	{Closed, SynSent}: true, {Closed, SynReceived}: true, {Listen, SynSent}: true, {Listen, SynReceived}: true,
	{SynSent, SynReceived}: true, {SynSent, Established}: true,
	{SynReceived, Established}: true, {SynReceived, FinWait1}: true, {SynReceived, CloseWait}: true,
	{Established, FinWait1}: true, {Established, CloseWait}: true,
	{FinWait1, FinWait2}: true, {FinWait1, Closing}: true, {FinWait1, TimeWait}: true,
	{FinWait2, TimeWait}: true, {Closing, TimeWait}: true,
	{CloseWait, LastAck}: true, {LastAck, Closed}: true, {TimeWait, Closed}: true,
}

// correctionEdges lists the ways an inference can be undone (see undo).
var correctionEdges = map[[2]State]bool{
	{Established, SynSent}: true, {Established, SynReceived}: true,
	{CloseWait, Established}: true, {Closing, FinWait1}: true,
	{TimeWait, Closing}: true, {TimeWait, FinWait1}: true, {FinWait2, FinWait1}: true,
}

// Legal reports whether transition tr follows an edge the tracker may take:
// an RFC 793 edge, a RST to CLOSED, or (for corrections) the undoing of an
// inference, which may leave CLOSED for the state last observed.
func (tr Transition) Legal() bool {
	e := [2]State{tr.From, tr.To}
	switch {
	case tr.To == Closed:
		return true // RST, final ACK, timer
	case tr.Correction:
		return correctionEdges[e] || tr.From == Closed
	}
	return legalEdges[e]
}
