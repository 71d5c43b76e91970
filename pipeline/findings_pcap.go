package pipeline

import (
	"context"
	"fmt"
	"io"

	"github.com/wirestate/wirestate/capture"
	"github.com/wirestate/wirestate/report"
	"github.com/wirestate/wirestate/tracker"
)

// findingUIDs returns the connections with a warning or critical finding.
func findingUIDs(fs []tracker.Finding) map[tracker.UID]bool {
	out := map[tracker.UID]bool{}
	for i := range fs {
		if f := &fs[i]; f.UID != 0 && f.Severity >= tracker.SevWarning {
			out[f.UID] = true
		}
	}
	return out
}

// uidProbe is an observer that remembers which connection the last segment
// was applied to.
type uidProbe struct{ uid tracker.UID }

func (p *uidProbe) Packet(a *tracker.Analysis) {
	p.uid = 0
	if a.Conn != nil {
		p.uid = a.Conn.UID
	}
}
func (p *uidProbe) Advance(int64)                           {}
func (p *uidProbe) Finish(*tracker.Conn, tracker.EndReason) {}
func (p *uidProbe) Close(int64)                             {}

// writeFindingsPcap writes, when WriteFindings is set, the raw packets of
// every connection with a warning or critical finding to a pcap file. It
// reads the input once more through an inline tracker that sees only
// those connections' 4-tuples, so that each packet is attributed to the
// right incarnation, and copies each packet of a chosen connection as
// captured.
func writeFindingsPcap(ctx context.Context, cfg *Config, names []string, res *report.Result) error {
	if cfg.WriteFindings == "" {
		return nil
	}
	uids := findingUIDs(res.Findings)
	keys := map[tracker.FlowKey]bool{}
	for i := range res.Records {
		if c := &res.Records[i].Conn; uids[c.UID] {
			keys[c.Key()] = true
		}
	}
	if _, err := writeConnPackets(ctx, cfg, names, uids, keys, cfg.WriteFindings); err != nil {
		return fmt.Errorf("--write-findings: %w", err)
	}
	return nil
}

// findingsSnaplen is the snapshot length the findings pcap declares.
const findingsSnaplen = 262144

// writeConnPackets copies the packets of the connections in uids (whose
// 4-tuples are keys) from the inputs to the pcap file path and returns how
// many it wrote. Packets of another link type than the first one written
// cannot share a pcap file and are counted in the error.
func writeConnPackets(ctx context.Context, cfg *Config, names []string, uids map[tracker.UID]bool, keys map[tracker.FlowKey]bool, path string) (int, error) {
	src, err := capture.Open(names, cfg.fileOptions())
	if err != nil {
		return 0, err
	}
	defer src.Close()
	probe := &uidProbe{}
	tcfg := cfg.trackerConfig(1, nil, func(int, func(*tracker.Finding)) []tracker.Observer { return []tracker.Observer{probe} })
	tcfg.Inline = true
	tr := tracker.New(tcfg)
	defer tr.Close()
	var seg tracker.Segment
	var w *capture.PcapWriter // made with the first packet's link type
	written, mixed := 0, 0
	var link capture.LinkType
	fail := func(err error) (int, error) {
		if w != nil {
			w.Close()
		}
		return written, err
	}
	for i := 0; ; i++ {
		if i&0xffff == 0 && ctx.Err() != nil {
			break
		}
		err := src.Next(&seg)
		if err == io.EOF {
			break
		}
		if err != nil {
			return fail(err)
		}
		k, _ := tracker.MakeFlowKey(seg.Src, seg.Dst)
		if !keys[k] {
			continue
		}
		tr.Feed(&seg)
		if !uids[probe.uid] {
			continue
		}
		data, ci, lt := src.CurrentPacket()
		if w == nil {
			link = lt
			if w, err = capture.CreatePcap(path, lt, findingsSnaplen, 0); err != nil {
				return 0, err
			}
		}
		if lt != link {
			mixed++
			continue
		}
		if err := w.WritePacket(ci.Timestamp.UnixNano(), ci.Length, data); err != nil {
			return fail(err)
		}
		written++
	}
	if w == nil {
		// No packet: still a valid, empty capture.
		if w, err = capture.CreatePcap(path, capture.LinkEthernet, findingsSnaplen, 0); err != nil {
			return 0, err
		}
	}
	if err := w.Close(); err != nil {
		return written, err
	}
	if mixed > 0 {
		return written, fmt.Errorf("%d packets of another link type than %s left out of %s", mixed, link, path)
	}
	return written, nil
}
