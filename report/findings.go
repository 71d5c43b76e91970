package report

import (
	"bufio"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/wirestate/wirestate/tracker"
)

// KindGroup gathers the findings of one kind for the text report.
type KindGroup struct {
	Kind     tracker.AnomalyKind
	Severity tracker.Severity
	// Conn holds the per-connection findings, Scoped the aggregates.
	Conn, Scoped []*tracker.Finding
	First, Last  int64
}

// GroupFindings groups findings by kind, most severe kinds first, then by
// number of findings.
func GroupFindings(fs []tracker.Finding) []KindGroup {
	byKind := map[tracker.AnomalyKind]*KindGroup{}
	var order []tracker.AnomalyKind
	for i := range fs {
		f := &fs[i]
		g := byKind[f.Kind]
		if g == nil {
			g = &KindGroup{Kind: f.Kind, First: f.Time, Last: f.Time}
			byKind[f.Kind] = g
			order = append(order, f.Kind)
		}
		if f.Severity > g.Severity {
			g.Severity = f.Severity
		}
		if f.Scope != "" {
			g.Scoped = append(g.Scoped, f)
		} else {
			g.Conn = append(g.Conn, f)
		}
		if f.Time < g.First {
			g.First = f.Time
		}
		if f.Time > g.Last {
			g.Last = f.Time
		}
	}
	out := make([]KindGroup, 0, len(order))
	for _, k := range order {
		out = append(out, *byKind[k])
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Severity != out[j].Severity {
			return out[i].Severity > out[j].Severity
		}
		return len(out[i].Conn)+len(out[i].Scoped) > len(out[j].Conn)+len(out[j].Scoped)
	})
	return out
}

// ExampleUIDs picks up to perKind example connections of each finding kind
// at warning or above, the ones whose timelines the text report shows.
func ExampleUIDs(fs []tracker.Finding, perKind int) map[tracker.UID]bool {
	out := map[tracker.UID]bool{}
	for _, g := range GroupFindings(fs) {
		if g.Severity < tracker.SevWarning {
			continue
		}
		n := 0
		for _, f := range g.Conn {
			if f.UID != 0 && f.Severity >= tracker.SevWarning && !out[f.UID] && n < perKind {
				out[f.UID] = true
				n++
			}
		}
	}
	return out
}

// topCounts returns the n most frequent keys as "key (count)".
func topCounts(m map[string]int, n int) string {
	type kv struct {
		k string
		v int
	}
	var all []kv
	for k, v := range m {
		all = append(all, kv{k, v})
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].v != all[j].v {
			return all[i].v > all[j].v
		}
		return all[i].k < all[j].k
	})
	var parts []string
	for i, e := range all {
		if i == n {
			parts = append(parts, fmt.Sprintf("and %d more", len(all)-n))
			break
		}
		parts = append(parts, fmt.Sprintf("%s (%d)", e.k, e.v))
	}
	return strings.Join(parts, ", ")
}

func writeFindings(w *bufio.Writer, res *Result, opt *Options) {
	groups := GroupFindings(res.Findings)
	if len(groups) == 0 {
		fmt.Fprintf(w, "\nFindings: none\n")
		return
	}
	width := opt.width()
	fmt.Fprintf(w, "\nFindings, most severe first:\n")
	for _, g := range groups {
		n := len(g.Conn)
		what := fmt.Sprintf("%d connection", n)
		if n != 1 {
			what += "s"
		}
		if n == 0 {
			what = fmt.Sprintf("%d aggregate", len(g.Scoped))
			if len(g.Scoped) != 1 {
				what += "s"
			}
		}
		// The span moves to a line of its own rather than break a time.
		head := fmt.Sprintf("  %s %s — %s,", opt.severityLabel(g.Severity), g.Kind, what)
		first, last := opt.stamp(g.First), opt.stamp(g.Last)
		if len(first) > 11 && len(last) > 11 && first[:11] == last[:11] {
			last = last[11:] // the same day: its clock only
		}
		span := first + " → " + last
		if visibleLen(head)+1+len([]rune(span)) <= width {
			fmt.Fprintf(w, "\n%s %s\n", head, span)
		} else {
			fmt.Fprintf(w, "\n%s\n      %s\n", head, span)
		}
		scoped := rankScoped(g.Scoped)
		limit := opt.limit(DefaultTopFindings)
		for i, f := range scoped {
			if limit >= 0 && i == limit {
				wrap(w, width, "    ", "      ", fmt.Sprintf("… and %d more %s (--top N or --all lists them; the JSON output has every one)",
					len(scoped)-limit, scopeNoun(g.Kind)))
				break
			}
			wrap(w, width, "    ▸ ", "      ", f.Summary)
		}
		if n > 0 {
			servers, clients := map[string]int{}, map[string]int{}
			for _, f := range g.Conn {
				servers[f.Resp.String()]++
				clients[f.Orig.Addr.String()]++
			}
			wrap(w, width, "    ", "    ", "servers: "+topCounts(servers, 3)+"; clients: "+topCounts(clients, 3))
			ex := g.Conn[0]
			for _, f := range g.Conn {
				if f.Severity > ex.Severity {
					ex = f
				}
			}
			label := "example"
			if n == 1 {
				label = "what"
			}
			wrap(w, width, fmt.Sprintf("    %s %s: ", label, ex.UID), "      ", ex.Summary)
			if ex.Uncertain {
				wrap(w, width, "    ", "      ", "(uncertain from this vantage point)")
			}
			for _, e := range ex.Evidence {
				wrap(w, width, fmt.Sprintf("      frame %-8d %s  ", e.Frame, opt.stamp(e.Time)), "        ", e.What)
			}
			if n > 1 {
				var uids []string
				for i, f := range g.Conn {
					if i == 8 {
						uids = append(uids, fmt.Sprintf("… %d more", n-8))
						break
					}
					uids = append(uids, f.UID.String())
				}
				wrap(w, width, "    connections: ", "      ", strings.Join(uids, " "))
			}
		}
		hint := ""
		if len(g.Conn) > 0 {
			hint = g.Conn[0].Hint
		} else if len(g.Scoped) > 0 {
			hint = g.Scoped[0].Hint
		}
		if hint != "" {
			wrap(w, width, "    what to change: ", "      ", hint)
		}
	}
}

// rankScoped returns a group's aggregates in the order the report lists
// them: most severe first, then the heaviest (peak, else member count),
// then by scope. The group's own slice keeps its order.
func rankScoped(fs []*tracker.Finding) []*tracker.Finding {
	out := slices.Clone(fs)
	weight := func(f *tracker.Finding) int {
		if f.Peak > 0 {
			return f.Peak
		}
		return f.Count
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Severity != b.Severity {
			return a.Severity > b.Severity
		}
		if wa, wb := weight(a), weight(b); wa != wb {
			return wa > wb
		}
		return a.Scope < b.Scope
	})
	return out
}

// scopeNoun names what a kind's aggregates are about, in the plural.
func scopeNoun(k tracker.AnomalyKind) string {
	switch k {
	case tracker.AnomTimeWaitLoad:
		return "hosts"
	case tracker.AnomEphemeralPorts:
		return "client-server pairs"
	}
	return "aggregates"
}

// wrap writes text word-wrapped at width columns, the first line after
// first and the rest after rest. ANSI colours in first take no columns; no
// line ends in a space.
func wrap(w *bufio.Writer, width int, first, rest, text string) {
	line := first
	col := visibleLen(first)
	fresh := true
	for _, word := range strings.Fields(text) {
		lw := len([]rune(word))
		if !fresh && col+1+lw > width {
			fmt.Fprintln(w, strings.TrimRight(line, " "))
			line, col, fresh = rest, len([]rune(rest)), true
		}
		if !fresh {
			line += " "
			col++
		}
		line += word
		col += lw
		fresh = false
	}
	fmt.Fprintln(w, strings.TrimRight(line, " "))
}
