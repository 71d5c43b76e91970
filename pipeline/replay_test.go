package pipeline

import (
	"testing"

	"github.com/wirestate/wirestate/tracker"
	tt "github.com/wirestate/wirestate/tracker/trackertest"
)

// TestSegRings checks the rings standard input's timelines are replayed
// from: every segment of a short connection in capture order, the last
// ringSize of a long one (marked cut), nothing for a 4-tuple not asked.
func TestSegRings(t *testing.T) {
	r := newSegRings()
	short := tt.Handshake().Add("A", "F.", 1001, 5001, 0, 1e6)
	long := tt.New()
	long.EndA.Port = 41000
	long.Frame = 100
	for i := 0; i < ringSize+10; i++ {
		long.Add("A", ".", uint32(1000+i), 1, 1, 1e3)
	}
	other := tt.New()
	other.EndA.Port = 42000
	other.Frame = 1e6
	other.Add("A", "S", 7, 0, 0, 1)
	for _, c := range []*tt.Convo{short, long, other} {
		for i := range c.Segs {
			r.add(&c.Segs[i])
		}
	}
	key := func(c *tt.Convo) tracker.FlowKey { k, _ := tracker.MakeFlowKey(c.EndA, c.EndB); return k }
	segs, cut, missing := r.replay(map[tracker.FlowKey]bool{key(short): true})
	if len(segs) != len(short.Segs) || cut != 0 || missing != 0 {
		t.Fatalf("short: %d segments (cut %d, missing %d), want %d", len(segs), cut, missing, len(short.Segs))
	}
	for i := range segs {
		if segs[i] != short.Segs[i] {
			t.Fatalf("short: segment %d differs", i)
		}
	}
	segs, cut, _ = r.replay(map[tracker.FlowKey]bool{key(long): true, key(other): true})
	if cut != 1 || len(segs) != ringSize+1 {
		t.Fatalf("long and other: %d segments, %d cut; want %d and 1", len(segs), cut, ringSize+1)
	}
	for i := 1; i < len(segs); i++ {
		if segs[i].Frame <= segs[i-1].Frame {
			t.Fatalf("replay out of capture order at %d", i)
		}
	}
	if first := segs[0].Frame; first != long.Segs[10].Frame {
		t.Errorf("the long ring starts at frame %d, want its last %d segments (from frame %d)", first, ringSize, long.Segs[10].Frame)
	}
	if _, _, missing := r.replay(map[tracker.FlowKey]bool{{}: true}); missing != 1 {
		t.Errorf("a 4-tuple never seen: %d missing, want 1", missing)
	}
}
