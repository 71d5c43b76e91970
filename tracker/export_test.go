package tracker

import "fmt"

// Internals the external tests (package tracker_test) check.

// HistMaxLetters is the number of history letters a connection keeps.
const HistMaxLetters = histMaxLetters

// CheckShard returns an error unless shard i's slab and flow table agree:
// every held connection not detached is found under its key, and the live
// counts match.
func (tr *Tracker) CheckShard(i int) error {
	sh := tr.shards[i]
	detached, live := 0, 0
	for idx := 0; idx < sh.slab.n; idx++ {
		c := sh.slab.at(idx)
		if c.UID == 0 {
			continue
		}
		live++
		if c.Flags&ConnReincarnated != 0 {
			detached++
			continue
		}
		found := sh.table.find(sh.hasher.pair(&c.Orig, &c.Resp), &c.Orig, &c.Resp, &sh.slab)
		if found < 0 || sh.slab.at(found) != c {
			return fmt.Errorf("connection %v held but not found under its key", c.UID)
		}
	}
	if live != sh.slab.live || sh.table.n+detached != live || sh.slab.live < 0 || sh.table.n < 0 {
		return fmt.Errorf("%d live connections, slab says %d, table holds %d plus %d detached",
			live, sh.slab.live, sh.table.n, detached)
	}
	return nil
}
