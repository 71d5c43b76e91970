package pipeline

import (
	"fmt"
	"strings"

	"github.com/wirestate/wirestate/capture"
	"github.com/wirestate/wirestate/report"
)

// inputOf describes what the file reader read, for the report.
func inputOf(names []string, st capture.Stats) report.Input {
	in := report.Input{
		Packets:     st.Packets,
		TCPSegments: st.TCPSegments,
		Bytes:       st.Bytes,
		First:       st.FirstTime,
		Last:        st.LastTime,
		Backwards:   st.BackwardsTimestamps,
		Filtered:    st.Filtered,
	}
	for _, f := range st.Files {
		in.Sources = append(in.Sources, f.Name)
		var links []string
		for _, l := range f.LinkTypes {
			name := capture.LinkTypeName(l)
			if d := linkDescriptions[name]; d != "" {
				name += " (" + d + ")" // as tcpdump prints it
			}
			links = append(links, name)
		}
		desc := f.Format.String()
		if f.Format == capture.FormatPcap {
			if f.Nanosecond {
				desc += " (ns)"
			}
		}
		if f.Gzip {
			desc += ", gzip"
		}
		if len(links) > 0 {
			desc += ", " + strings.Join(links, "/")
		}
		in.Formats = append(in.Formats, fmt.Sprintf("%s, %d packets", desc, f.Packets))
	}
	if len(in.Sources) == 0 {
		in.Sources = names
	}
	for r := capture.SkipReason(0); r < capture.NumSkipReasons; r++ {
		if r == capture.SkipNone {
			continue
		}
		in.Skipped = append(in.Skipped, report.Count{Name: r.String(), Count: st.Skipped[r]})
	}
	return in
}

// linkDescriptions are tcpdump's descriptions of the link types wirestate
// reads.
var linkDescriptions = map[string]string{
	"EN10MB": "Ethernet", "LINUX_SLL": "Linux cooked v1", "LINUX_SLL2": "Linux cooked v2",
	"RAW": "Raw IP", "IPV4": "Raw IPv4", "IPV6": "Raw IPv6", "NULL": "BSD loopback",
	"LOOP": "OpenBSD loopback", "FDDI": "FDDI",
}
