package pipeline

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/wirestate/wirestate/tracker"
)

// TestSortKeys checks the two-goroutine sort and merge against a plain
// sort, on sizes around the threshold and with many equal start times.
func TestSortKeys(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{0, 1, 8191, 8192, 8193, 50001} {
		keys := make([]recordKey, n)
		for i := range keys {
			keys[i] = recordKey{start: r.Int64N(int64(n/4 + 1)), uid: tracker.UID(r.Uint64()), shard: uint32(i % 3), pos: int32(i)}
		}
		want := slices.Clone(keys)
		slices.SortFunc(want, compareKeys)
		if got := sortKeys(keys); !slices.Equal(got, want) {
			t.Errorf("%d keys: sortKeys differs from a plain sort", n)
		}
	}
}
