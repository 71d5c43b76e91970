package report

import (
	"strconv"
	"time"
)

// stampLayout is how the text report writes an absolute packet time.
const stampLayout = "2006-01-02 15:04:05.000000"

// stamper formats packet times as the text report shows them. It keeps the
// date and clock of the last second it formatted, so that the rows of a
// large table (sorted by time, thousands to a second) cost a few digits
// each instead of a time.Format. One stamper serves one goroutine.
type stamper struct {
	local  bool
	sec    int64
	prefix []byte // "2006-01-02 15:04:05" of sec, empty until first use
}

// append appends packet time ns (nanoseconds since the epoch) to b, as
// time.Format(stampLayout) writes it, or "-" for 0 (no time).
func (s *stamper) append(b []byte, ns int64) []byte {
	if ns == 0 {
		return append(b, '-')
	}
	if ns < 0 { // before 1970: leave the arithmetic of it to package time
		t := time.Unix(0, ns)
		if !s.local {
			t = t.UTC()
		}
		return t.AppendFormat(b, stampLayout)
	}
	sec := ns / 1e9
	if len(s.prefix) == 0 || sec != s.sec {
		t := time.Unix(sec, 0)
		if !s.local {
			t = t.UTC()
		}
		s.sec, s.prefix = sec, t.AppendFormat(s.prefix[:0], stampLayout[:19])
	}
	// Format truncates to the microsecond.
	return appendMicros(append(b, s.prefix...), ns%1e9/1e3)
}

// appendMicros appends a point and us (0 to 999,999) as six digits:
// 1e6+us has seven, whose leading 1 becomes the point.
func appendMicros(b []byte, us int64) []byte {
	b = strconv.AppendInt(b, us+1e6, 10)
	b[len(b)-7] = '.'
	return b
}

// appendSeconds appends ns nanoseconds as seconds with six decimals,
// rounded to the microsecond: exactly what strconv's 'f' formatting with
// precision 6 makes of float64(ns)/1e9, in integer arithmetic where that
// is certain to agree (below 10^6 s, the float's error is under a
// nanosecond, so only exact half-microsecond ties could round apart).
func appendSeconds(b []byte, ns int64) []byte {
	if ns < 0 || ns >= 1e15 || ns%1000 == 500 {
		return strconv.AppendFloat(b, float64(ns)/1e9, 'f', 6, 64)
	}
	us := (ns + 500) / 1000
	return appendMicros(strconv.AppendInt(b, us/1e6, 10), us%1e6)
}
