package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

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

// writeFindingsPcap writes, when --write-findings is given, the raw
// packets of every connection with a warning or critical finding to a
// pcap file. It reads the input once more through an inline tracker that
// sees only those connections' 4-tuples, so that each packet is attributed
// to the right incarnation, and copies each packet of a chosen connection
// as captured.
func writeFindingsPcap(ctx context.Context, fl *Flags, names []string, res *report.Result) error {
	if fl.HTML.WriteFindings == "" {
		return nil
	}
	uids := findingUIDs(res.Findings)
	keys := map[tracker.FlowKey]bool{}
	for i := range res.Records {
		if c := &res.Records[i].Conn; uids[c.UID] {
			keys[c.Key()] = true
		}
	}
	if _, err := writeConnPackets(ctx, fl, names, uids, keys, fl.HTML.WriteFindings); err != nil {
		return fmt.Errorf("--write-findings: %w", err)
	}
	return nil
}

// writeConnPackets copies the packets of the connections in uids (whose
// 4-tuples are keys) from the inputs to the pcap file path and returns how
// many it wrote. Packets of another link type than the first one written
// cannot share a pcap file and are counted in the error.
func writeConnPackets(ctx context.Context, fl *Flags, names []string, uids map[tracker.UID]bool, keys map[tracker.FlowKey]bool, path string) (int, error) {
	zcfg, err := zeekTrackerConfig(fl)
	if err != nil {
		return 0, err
	}
	src, err := capture.Open(names, capture.FileOptions{Strict: fl.Strict, Decoder: zeekDecoderOptions(fl)})
	if err != nil {
		return 0, err
	}
	defer src.Close()
	out, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	bw := bufio.NewWriterSize(out, 1<<20)
	w := pcapgo.NewWriterNanos(bw)
	probe := &uidProbe{}
	tr := tracker.New(tracker.Config{
		Inline:      true,
		MaxConns:    fl.MaxConns,
		MSL:         int64(fl.MSL),
		IdleTimeout: int64(fl.IdleTimeout),
		Zeek:        zcfg,
		Observers:   func(int, func(*tracker.Finding)) []tracker.Observer { return []tracker.Observer{probe} },
	})
	var seg tracker.Segment
	written, mixed := 0, 0
	var link capture.LinkType
	for i := 0; ; i++ {
		if i&0xffff == 0 && ctx.Err() != nil {
			break
		}
		err := src.Next(&seg)
		if err == io.EOF {
			break
		}
		if err != nil {
			out.Close()
			return written, err
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
		if written == 0 && mixed == 0 {
			link = lt
			if err := w.WriteFileHeader(262144, layers.LinkType(lt)); err != nil {
				out.Close()
				return 0, err
			}
		}
		if lt != link {
			mixed++
			continue
		}
		if err := w.WritePacket(ci, data); err != nil {
			out.Close()
			return written, err
		}
		written++
	}
	tr.Close()
	if written == 0 && mixed == 0 {
		// No packet: still a valid, empty capture.
		if err := w.WriteFileHeader(262144, layers.LinkTypeEthernet); err != nil {
			out.Close()
			return 0, err
		}
	}
	if err := bw.Flush(); err != nil {
		out.Close()
		return written, err
	}
	if err := out.Close(); err != nil {
		return written, err
	}
	if mixed > 0 {
		return written, fmt.Errorf("%d packets of another link type than %s left out of %s", mixed, link, path)
	}
	return written, nil
}
