package tracker

import "testing"

// TestZeekConnStateTable checks conn_state for each row of main.zeek's
// table, from the endpoint states (and, for RSTOS0, the history) alone.
func TestZeekConnStateTable(t *testing.T) {
	I, SS, SA, P, E, C, R := ZeekInactive, ZeekSynSent, ZeekSynAckSent, ZeekPartial, ZeekEstablished, ZeekClosed, ZeekReset
	cases := []struct {
		orig, resp ZeekEndpointState
		history    string
		want       string
	}{
		{SS, R, "Sr", "REJ"},
		{SA, R, "Hr", "REJ"},
		{R, R, "SRr", "REJ"},
		{I, R, "r", "RSTRH"},
		{P, R, "Dr", "RSTRH"},
		{E, R, "ShAr", "RSTR"},
		{R, I, "SR", "RSTOS0"},
		{R, I, "^SR", "RSTOS0"},
		{R, P, "SaR", "RSTOS0"},
		{R, I, "SAR", "OTH"},
		{R, I, "R", "OTH"},
		{R, E, "ShAR", "RSTO"},
		{C, C, "ShAFf", "SF"},
		{C, I, "SF", "SH"},
		{C, P, "Fa", "SH"},
		{C, E, "ShAF", "S2"},
		{I, C, "f", "SHR"},
		{P, C, "^fA", "SHR"},
		{E, C, "ShAf", "S3"},
		{SS, I, "S", "S0"},
		{E, E, "ShA", "S1"},
		{SA, I, "H", "OTH"},
		{P, P, "Dd", "OTH"},
		{I, I, "C", "OTH"},
		{SS, E, "S", "OTH"},
	}
	for _, tc := range cases {
		var c Conn
		c.Hist.ep[Orig] = uint8(tc.orig)
		c.Hist.ep[Resp] = uint8(tc.resp)
		for i := 0; i < len(tc.history); i++ {
			c.Hist.push(codeOf(tc.history[i]))
		}
		if got := c.ZeekState(); got != tc.want {
			t.Errorf("orig %s resp %s history %q: conn_state %s, want %s", tc.orig, tc.resp, tc.history, got, tc.want)
		}
	}
}

// codeOf returns the history code of character ch.
func codeOf(ch byte) uint8 {
	switch ch {
	case '^':
		return codeFlip
	case 'X':
		return codeLimit
	}
	if ch >= 'a' && ch <= 'z' {
		return histCode(ch-'a'+'A', Resp)
	}
	return histCode(ch, Orig)
}

func TestMatchRSTOS0(t *testing.T) {
	for _, tc := range []struct {
		h    string
		want bool
	}{
		{"SR", true}, {"^SR", true}, {"SsR", true}, {"StR", true}, {"SRr", true}, {"SaR", true},
		{"R", false}, {"ShR", true}, {"SHR", false}, {"SAR", false}, {"SDR", true}, {"S", false}, {"^R", false}, {"", false},
	} {
		if got := matchRSTOS0(tc.h); got != tc.want {
			t.Errorf("matchRSTOS0(%q) = %v, want %v", tc.h, got, tc.want)
		}
	}
}
