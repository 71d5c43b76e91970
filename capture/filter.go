package capture

import (
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcap"
)

// offlineFilter runs a BPF filter expression on file records, as tcpdump -r
// does: libpcap compiles it once for each link type the files hold, and
// each record is matched on its captured bytes and wire length before it
// is decoded.
type offlineFilter struct {
	expr    string
	snaplen int
	progs   map[LinkType]*pcap.BPF
}

func newOfflineFilter(expr string) *offlineFilter {
	return &offlineFilter{expr: expr, snaplen: maxRecordLen, progs: map[LinkType]*pcap.BPF{}}
}

// match reports whether rec passes the filter. A filter libpcap cannot
// compile for the record's link type is a *FilterError.
func (f *offlineFilter) match(rec *record) (bool, error) {
	prog := f.progs[rec.link]
	if prog == nil {
		p, err := pcap.NewBPF(layers.LinkType(rec.link), f.snaplen, f.expr)
		if err != nil {
			return false, &FilterError{Expr: f.expr, Msg: cleanPcapMessage(err.Error()) + " (link type " + LinkTypeName(rec.link) + ")"}
		}
		f.progs[rec.link], prog = p, p
	}
	ci := gopacket.CaptureInfo{Timestamp: time.Unix(0, rec.ts), CaptureLength: len(rec.data), Length: rec.wireLen}
	return prog.Matches(ci, rec.data), nil
}
