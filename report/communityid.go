package report

import (
	"github.com/wirestate/wirestate/internal/communityid"
	"github.com/wirestate/wirestate/tracker"
)

// AppendCommunityID appends the Community ID v1 of the TCP flow between a
// and b (either order gives the same ID) with the given seed to dst, as
// Zeek's community-id-logging and Suricata's eve "community_id" write it,
// and returns it.
func AppendCommunityID(dst []byte, a, b *tracker.Endpoint, seed uint16) []byte {
	ia, ib := a.Addr[:], b.Addr[:]
	if a.Addr.Is4() && b.Addr.Is4() {
		ia, ib = ia[12:], ib[12:]
	}
	return communityid.Append(dst, seed, communityid.ProtoTCP, ia, a.Port, ib, b.Port)
}
