package pipeline

import (
	"fmt"
	"net/netip"

	"github.com/wirestate/wirestate/tracker"
)

// Selection narrows a report to chosen connections: by uid (--conn), by
// address at either end (--host), by port at either end (--port). The zero
// value selects everything.
type Selection struct {
	uids  map[tracker.UID]bool
	hosts map[tracker.Addr]bool
	ports map[uint16]bool
}

// NewSelection parses the chosen uids, addresses and ports.
func NewSelection(conns, hosts []string, ports []uint) (Selection, error) {
	s := Selection{uids: map[tracker.UID]bool{}, hosts: map[tracker.Addr]bool{}, ports: map[uint16]bool{}}
	for _, c := range conns {
		u, ok := tracker.ParseUID(c)
		if !ok {
			return Selection{}, fmt.Errorf("--conn %q: not a connection uid (like C4fG7hK2mQ9x)", c)
		}
		s.uids[u] = true
	}
	for _, h := range hosts {
		a, err := netip.ParseAddr(h)
		if err != nil {
			return Selection{}, fmt.Errorf("--host %s: not an IP address", h)
		}
		s.hosts[tracker.AddrFromSlice(a.Unmap().AsSlice())] = true
	}
	for _, p := range ports {
		s.ports[uint16(p)] = true
	}
	return s, nil
}

// Empty reports whether nothing is chosen (everything is selected).
func (s *Selection) Empty() bool { return len(s.uids) == 0 && len(s.hosts) == 0 && len(s.ports) == 0 }

// Match reports whether a record passes every given filter (uids, hosts
// and ports each match if empty).
func (s *Selection) Match(r *tracker.Record) bool {
	c := &r.Conn
	if len(s.uids) > 0 && !s.uids[c.UID] && len(s.hosts) == 0 && len(s.ports) == 0 {
		return false
	}
	if len(s.hosts) > 0 && !s.hosts[c.Orig.Addr] && !s.hosts[c.Resp.Addr] {
		return false
	}
	if len(s.ports) > 0 && !s.ports[c.Orig.Port] && !s.ports[c.Resp.Port] {
		return false
	}
	return true
}

// filter keeps the records that pass every filter, in place.
func (s *Selection) filter(recs []tracker.Record) []tracker.Record {
	if s.Empty() {
		return recs
	}
	kept := recs[:0]
	for i := range recs {
		if s.Match(&recs[i]) {
			kept = append(kept, recs[i])
		}
	}
	return kept
}

// filterFolded keeps the folded flood tallies whose victim passes the host
// and port filters (their sources are not known, and --conn names listed
// connections only), in place.
func (s *Selection) filterFolded(fs []tracker.Folded) []tracker.Folded {
	if s.Empty() {
		return fs
	}
	kept := fs[:0]
	for _, f := range fs {
		switch {
		case len(s.hosts) == 0 && len(s.ports) == 0: // --conn alone
		case len(s.hosts) > 0 && !s.hosts[f.Victim.Addr]:
		case len(s.ports) > 0 && !s.ports[f.Victim.Port]:
		default:
			kept = append(kept, f)
		}
	}
	return kept
}

// MatchFinding reports whether a finding concerns the selection: a
// connection's finding when its connection would be selected; a finding
// about many (a listener, a host) when the endpoints it names are, or when
// one of its member connections is among kept, the selected records' uids.
func (s *Selection) MatchFinding(f *tracker.Finding, kept map[tracker.UID]bool) bool {
	if s.Empty() {
		return true
	}
	if f.UID != 0 {
		return s.Match(&tracker.Record{Conn: tracker.Conn{UID: f.UID, Orig: f.Orig, Resp: f.Resp}})
	}
	if len(s.hosts) > 0 || len(s.ports) > 0 {
		if s.Match(&tracker.Record{Conn: tracker.Conn{Orig: f.Orig, Resp: f.Resp}}) {
			return true
		}
	}
	for _, u := range f.UIDs {
		if kept[u] {
			return true
		}
	}
	return false
}

// filterFindings keeps the findings that concern the selection, in place;
// recs are the selected records.
func (s *Selection) filterFindings(fs []tracker.Finding, recs []tracker.Record) []tracker.Finding {
	if s.Empty() {
		return fs
	}
	kept := make(map[tracker.UID]bool, len(recs))
	for i := range recs {
		kept[recs[i].Conn.UID] = true
	}
	out := fs[:0]
	for i := range fs {
		if s.MatchFinding(&fs[i], kept) {
			out = append(out, fs[i])
		}
	}
	return out
}
