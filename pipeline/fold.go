package pipeline

import (
	"cmp"
	"slices"

	"github.com/wirestate/wirestate/tracker"
)

// foldKey names one possible flood: its kind and victim.
type foldKey struct {
	kind   tracker.AnomalyKind
	victim tracker.Endpoint
}

// folder counts the possible members of floods per victim and, past the
// first limit of each, folds them into a tracker.Folded tally instead of
// letting them be kept as records (--fold-after). Offline each shard of the
// collector has one; live the sink has one, behind its lock.
type folder struct {
	// member tells whether a connection could be one member of a flood,
	// which, and its victim's side (detect.FloodMember).
	member func(c *tracker.Conn) (kind tracker.AnomalyKind, victim tracker.Side, ok bool)
	limit  int
	// maxVictims, when not 0, bounds the victims counted (live, where a
	// scan of many ports over hours would otherwise grow the counts
	// without end); see add.
	maxVictims int
	members    map[foldKey]int
	folded     map[foldKey]*tracker.Folded
	// forgotten counts the victims whose counts were dropped to stay
	// within maxVictims.
	forgotten uint64
}

// add counts conn, a record with no finding and no timeline, and reports
// whether it was folded: whether it is a possible flood member whose
// victim already had limit members.
func (f *folder) add(conn *tracker.Conn) bool {
	kind, side, ok := f.member(conn)
	if !ok {
		return false
	}
	k := foldKey{kind, conn.Endpoint(side)}
	if f.members == nil {
		f.members, f.folded = map[foldKey]int{}, map[foldKey]*tracker.Folded{}
	}
	n, seen := f.members[k]
	if !seen && f.maxVictims > 0 && len(f.members) >= f.maxVictims && !f.forget() {
		return false // every victim counted is folding: count no new one
	}
	n++
	f.members[k] = n
	if n <= f.limit {
		return false
	}
	fo := f.folded[k]
	if fo == nil {
		fo = &tracker.Folded{Kind: kind, Victim: k.victim}
		f.folded[k] = fo
	}
	fo.Add(conn, side)
	return true
}

// forget drops the counts of the victims that have not reached the limit,
// to make room for new ones, and reports whether it made any. A victim
// forgotten starts counting again: more of its members are kept as
// records, never fewer.
func (f *folder) forget() bool {
	before := len(f.members)
	for k, n := range f.members {
		if n <= f.limit {
			delete(f.members, k)
		}
	}
	f.forgotten += uint64(before - len(f.members))
	return len(f.members) < before
}

// mergeFolded merges the tallies of several folders (the shards') per kind
// and victim and returns them in a stable order: by kind, then victim.
func mergeFolded(fs ...*folder) []tracker.Folded {
	byKey := map[foldKey]*tracker.Folded{}
	for _, f := range fs {
		for k, fo := range f.folded {
			if byKey[k] == nil {
				byKey[k] = &tracker.Folded{Kind: k.kind, Victim: k.victim}
			}
			byKey[k].Merge(fo)
		}
	}
	var out []tracker.Folded
	for _, fo := range byKey {
		out = append(out, *fo)
	}
	slices.SortFunc(out, func(a, b tracker.Folded) int {
		if a.Kind != b.Kind {
			return cmp.Compare(a.Kind, b.Kind)
		}
		if a.Victim.Addr != b.Victim.Addr {
			if a.Victim.Addr.Less(&b.Victim.Addr) {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.Victim.Port, b.Victim.Port)
	})
	return out
}
