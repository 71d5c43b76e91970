package tracker

import (
	"encoding/binary"
	"hash/maphash"
	"math/bits"
)

// flowHasher hashes a connection's two endpoints with per-run random keys,
// so crafted 4-tuples cannot be made to collide in a shard or a bucket
// (hash flooding). It is symmetric: each endpoint is hashed on its own and
// the two hashes are added, so both directions of a connection hash alike
// without first putting the endpoints in order (which, with the copies it
// takes, cost more than the hashing).
type flowHasher struct{ k [4]uint64 }

// newFlowHasher derives the hash keys from seed.
func newFlowHasher(seed maphash.Seed) flowHasher {
	var h flowHasher
	for i := range h.k {
		h.k[i] = maphash.Comparable(seed, i) | 1
	}
	return h
}

// mix folds the 128-bit product of x and y to 64 bits (the "mum" step of
// wyhash): every input bit reaches every output bit.
func mix(x, y uint64) uint64 {
	hi, lo := bits.Mul64(x, y)
	return hi ^ lo
}

// endpoint hashes one endpoint.
func (h *flowHasher) endpoint(e *Endpoint) uint64 {
	a0 := binary.LittleEndian.Uint64(e.Addr[:8])
	a1 := binary.LittleEndian.Uint64(e.Addr[8:])
	return mix(mix(a0^h.k[0], a1^h.k[1])^uint64(e.Port), h.k[2])
}

// pair returns the hash of the connection between a and b, the same for
// (a, b) and (b, a).
func (h *flowHasher) pair(a, b *Endpoint) uint64 {
	return mix(h.endpoint(a)+h.endpoint(b), h.k[3])
}

// flowTable is an open-addressing hash table with linear probing from flow
// keys to slab indexes. Each slot packs the low 32 bits of the key's hash
// (which also fix its home slot) and the slab index plus one; zero is empty.
// Removal shifts later entries back, so there are no tombstones.
type flowTable struct {
	slots []uint64
	mask  uint64
	n     int
}

const minTableSize = 1024

func newFlowTable() flowTable {
	return flowTable{slots: make([]uint64, minTableSize), mask: minTableSize - 1}
}

// find returns the slab index of the connection between endpoints a and b
// (either way round), whose hash is h, or -1.
func (t *flowTable) find(h uint64, a, b *Endpoint, s *slab) int {
	tag := h & 0xffffffff
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		v := t.slots[i]
		if v == 0 {
			return -1
		}
		if v>>32 == tag {
			idx := int(uint32(v)) - 1
			c := s.at(idx)
			if c.Orig == *a && c.Resp == *b || c.Orig == *b && c.Resp == *a {
				return idx
			}
		}
	}
}

// insert adds slab index idx under hash h; the key must not be present.
func (t *flowTable) insert(h uint64, idx int) {
	if (t.n+1)*3 > len(t.slots)*2 { // grow past two thirds full
		t.grow()
	}
	t.put(h&0xffffffff, idx)
	t.n++
}

func (t *flowTable) put(tag uint64, idx int) {
	for i := tag & t.mask; ; i = (i + 1) & t.mask {
		if t.slots[i] == 0 {
			t.slots[i] = tag<<32 | uint64(uint32(idx+1))
			return
		}
	}
}

// replace points the entry of slab index old (hash h) at slab index idx.
func (t *flowTable) replace(h uint64, old, idx int) {
	tag := h & 0xffffffff
	for i := tag & t.mask; ; i = (i + 1) & t.mask {
		v := t.slots[i]
		if v == 0 {
			return
		}
		if int(uint32(v))-1 == old {
			t.slots[i] = tag<<32 | uint64(uint32(idx+1))
			return
		}
	}
}

// remove deletes the entry of slab index idx whose key hashes to h.
func (t *flowTable) remove(h uint64, idx int) {
	tag := h & 0xffffffff
	pos := tag & t.mask
	for ; ; pos = (pos + 1) & t.mask {
		v := t.slots[pos]
		if v == 0 {
			return // not present
		}
		if int(uint32(v))-1 == idx {
			break
		}
	}
	t.n--
	// Backward-shift deletion: move later entries of the probe run into
	// the hole when their home slot does not lie between the hole and them.
	for {
		t.slots[pos] = 0
		j := pos
		for {
			j = (j + 1) & t.mask
			v := t.slots[j]
			if v == 0 {
				return
			}
			home := (v >> 32) & t.mask
			if (j-home)&t.mask < (j-pos)&t.mask {
				continue
			}
			t.slots[pos] = v
			pos = j
			break
		}
	}
}

func (t *flowTable) grow() {
	old := t.slots
	t.slots = make([]uint64, len(old)*2)
	t.mask = uint64(len(t.slots) - 1)
	for _, v := range old {
		if v != 0 {
			t.put(v>>32, int(uint32(v))-1)
		}
	}
}

// each calls fn with every slab index in the table. fn must not modify the
// table.
func (t *flowTable) each(fn func(idx int)) {
	for _, v := range t.slots {
		if v != 0 {
			fn(int(uint32(v)) - 1)
		}
	}
}

// slab stores Conns in fixed-size chunks so their addresses stay put while
// the slab grows; freed slots are reused.
type slab struct {
	chunks [][]Conn
	// mets holds, beside each Conn, the index plus one of its Metrics
	// block in the shard's metricsSlab (0: none).
	mets [][]uint32
	free []int32
	n    int // slots handed out (live + free)
	live int
}

const slabChunk = 1024

func (s *slab) at(idx int) *Conn { return &s.chunks[idx/slabChunk][idx%slabChunk] }

// met returns the Metrics index of the Conn at idx.
func (s *slab) met(idx int) *uint32 { return &s.mets[idx/slabChunk][idx%slabChunk] }

// alloc returns the index of a zeroed Conn.
func (s *slab) alloc() int {
	s.live++
	if k := len(s.free); k > 0 {
		idx := int(s.free[k-1])
		s.free = s.free[:k-1]
		*s.at(idx) = Conn{}
		return idx
	}
	if s.n == len(s.chunks)*slabChunk {
		s.chunks = append(s.chunks, make([]Conn, slabChunk))
		s.mets = append(s.mets, make([]uint32, slabChunk))
	}
	idx := s.n
	s.n++
	return idx
}

// release returns slot idx to the free list.
func (s *slab) release(idx int) {
	s.live--
	s.free = append(s.free, int32(idx))
}
