package pipeline

import (
	"github.com/wirestate/wirestate/internal/par"
	"github.com/wirestate/wirestate/report"
	"github.com/wirestate/wirestate/tracker"
)

// latencyOf gathers the per-listener latency figures of records, the two
// halves on two goroutines.
func latencyOf(records []tracker.Record) *report.Latency {
	var halves [2]report.Latency
	par.Halves(len(records), func(half, lo, hi int) {
		for i := lo; i < hi; i++ {
			halves[half].Add(&records[i])
		}
	})
	halves[0].Merge(&halves[1])
	return &halves[0]
}
