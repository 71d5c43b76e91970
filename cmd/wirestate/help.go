package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/term"
)

// flagGroups orders the help text: each flag in the group that names it;
// flags named nowhere fall into "Other".
var flagGroups = []struct {
	title string
	names []string
	// prefix puts every flag with this name prefix in the group.
	prefix string
}{
	{title: "Input", names: []string{"read", "filter", "count", "strict"}},
	{title: "Output", names: []string{"format", "output", "rotate", "quiet", "timeline", "conn", "host", "port", "at", "local-time",
		"html", "write-findings", "numeric", "top", "all", "color", "sensor", "community-id-seed"}},
	{title: "Live capture", names: []string{"interface", "list-interfaces", "capture-engine", "workers", "snaplen", "no-promisc", "buffer-size",
		"immediate-mode", "duration", "stats-interval", "write", "file-size", "evidence-packets", "metrics-addr", "report-conns"}},
	{title: "Connection tracking", names: []string{"msl", "idle-timeout", "shards", "max-conns", "fold-after"}},
	{title: "Detectors", names: []string{"close-wait-after", "syn-flood-min", "syn-flood-window", "syn-flood-sources",
		"abort-bulk", "half-open-retrans"}, prefix: "no-"},
	{title: "Zeek", names: []string{"zeek-mode", "zeek-bare", "zeek-load", "ignore-checksums", "validate-checksums"}},
	{title: "Kafka", prefix: "kafka"},
}

// groupOf returns the title of the help group of flag name.
func groupOf(name string) string {
	for _, g := range flagGroups {
		for _, n := range g.names {
			if n == name {
				return g.title
			}
		}
		if g.prefix != "" && strings.HasPrefix(name, g.prefix) {
			return g.title
		}
	}
	return "Other"
}

// helpWidth is the width help and wrapped text use: the terminal's when
// out is one, 100 otherwise.
func helpWidth(out io.Writer) int {
	if f, ok := out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w >= 40 {
			return w
		}
	}
	return 100
}

// helpGroup is one group of flags in the help text and the man page.
type helpGroup struct {
	title string
	flags []*pflag.Flag
}

// groupFlags returns the visible flags of fs by group, in flagGroups'
// order (Other last), each group's flags in registration order.
func groupFlags(fs *pflag.FlagSet) []helpGroup {
	var out []helpGroup
	index := map[string]int{}
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		t := groupOf(f.Name)
		i, ok := index[t]
		if !ok {
			i = len(out)
			index[t] = i
			out = append(out, helpGroup{title: t})
		}
		out[i].flags = append(out[i].flags, f)
	})
	rank := func(t string) int {
		for i, g := range flagGroups {
			if g.title == t {
				return i
			}
		}
		return len(flagGroups)
	}
	sort.SliceStable(out, func(i, j int) bool { return rank(out[i].title) < rank(out[j].title) })
	return out
}

// writeHelp prints the usage and every flag, grouped and wrapped to width.
func writeHelp(out io.Writer, fs *pflag.FlagSet, width int) {
	fmt.Fprintf(out, "Usage: wirestate -r FILE [flags] [BPF filter]\n       wirestate -i IFACE [flags] [BPF filter]\n\n")
	fmt.Fprintf(out, "Rebuilds both endpoints' TCP states for every connection in a capture (or live)\nand explains what went wrong.\n")
	for _, g := range groupFlags(fs) {
		set := pflag.NewFlagSet(g.title, pflag.ContinueOnError)
		set.SortFlags = false
		for _, f := range g.flags {
			set.AddFlag(f)
		}
		fmt.Fprintf(out, "\n%s:\n", g.title)
		for _, line := range strings.Split(strings.TrimRight(set.FlagUsagesWrapped(width), "\n"), "\n") {
			fmt.Fprintln(out, strings.TrimRight(line, " "))
		}
	}
}

// versionString describes this build: the module version (set by go
// install), or the -ldflags version, the commit and its time, the Go
// version.
func versionString() string {
	v := version
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "wirestate " + v
	}
	if v == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
		v = info.Main.Version
	}
	var rev, at string
	dirty := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	out := "wirestate " + v
	var extra []string
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if dirty {
			rev += "+modified"
		}
		extra = append(extra, "commit "+rev)
	}
	if t, err := time.Parse(time.RFC3339, at); err == nil {
		extra = append(extra, "committed "+t.UTC().Format("2006-01-02 15:04:05 UTC"))
	}
	extra = append(extra, info.GoVersion)
	return out + " (" + strings.Join(extra, ", ") + ")"
}

// writeMan writes a man page (roff, section 1) generated from the flags.
func writeMan(out io.Writer, fs *pflag.FlagSet) {
	esc := func(s string) string {
		s = strings.ReplaceAll(s, `\`, `\\`)
		s = strings.ReplaceAll(s, "-", `\-`)
		if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
			s = `\&` + s
		}
		return s
	}
	fmt.Fprintf(out, ".TH WIRESTATE 1 \"\" \"wirestate\" \"User Commands\"\n.SH NAME\nwirestate \\- what happened to TCP connections, from packets alone\n")
	fmt.Fprintf(out, ".SH SYNOPSIS\n.B wirestate\n\\fB\\-r\\fR \\fIFILE\\fR [\\fIflags\\fR] [\\fIBPF filter\\fR]\n.br\n.B wirestate\n\\fB\\-i\\fR \\fIIFACE\\fR [\\fIflags\\fR] [\\fIBPF filter\\fR]\n")
	fmt.Fprintf(out, ".SH DESCRIPTION\nwirestate reads packets from capture files or a live interface, rebuilds the RFC 793 state of both\nendpoints of every TCP connection, and explains what went wrong, with the packets that prove it\nand what to change. The filter follows pcap\\-filter(7), as for tcpdump(8).\n")
	for _, g := range groupFlags(fs) {
		fmt.Fprintf(out, ".SH %s\n", strings.ToUpper(esc(g.title)))
		for _, f := range g.flags {
			name, usage := pflag.UnquoteUsage(f)
			head := `\fB\-\-` + esc(f.Name) + `\fR`
			if f.Shorthand != "" {
				head = `\fB\-` + esc(f.Shorthand) + `\fR, ` + head
			}
			if name != "" {
				head += ` \fI` + esc(name) + `\fR`
			}
			fmt.Fprintf(out, ".TP\n%s\n%s", head, esc(usage))
			if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "[]" && f.DefValue != "0" && f.DefValue != "0s" {
				fmt.Fprintf(out, " (default %s)", esc(f.DefValue))
			}
			fmt.Fprintln(out)
		}
	}
	fmt.Fprintf(out, ".SH EXIT STATUS\n0 on success, 1 when the analysis failed (an unreadable capture, a capture error), 2 for an error in the command line.\n")
	fmt.Fprintf(out, ".SH SEE ALSO\ntcpdump(8), pcap\\-filter(7), ss(8), tshark(1)\n")
}

// writeCompletion writes a completion script for shell ("bash" or "zsh")
// generated from the flags: flag names, the values of --format, --timeline
// and --color, files after -r, -w, -o and the like, interfaces after -i.
func writeCompletion(out io.Writer, fs *pflag.FlagSet, shell string) error {
	var long, files []string
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		long = append(long, "--"+f.Name)
		if f.Shorthand != "" {
			long = append(long, "-"+f.Shorthand)
		}
		if name, _ := pflag.UnquoteUsage(f); name == "FILE" {
			files = append(files, "--"+f.Name)
			if f.Shorthand != "" {
				files = append(files, "-"+f.Shorthand)
			}
		}
	})
	switch shell {
	case "bash":
		fmt.Fprintf(out, `# bash completion for wirestate (generated by wirestate --completion bash)
_wirestate() {
	local cur prev
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD-1]}
	case $prev in
	%s)
		COMPREPLY=($(compgen -f -- "$cur")); return ;;
	-i|--interface)
		COMPREPLY=($(compgen -W "any $(ls /sys/class/net 2>/dev/null)" -- "$cur")); return ;;
	--format)
		COMPREPLY=($(compgen -W "text json zeek" -- "$cur")); return ;;
	--timeline)
		COMPREPLY=($(compgen -W "anomalous all none" -- "$cur")); return ;;
	--color)
		COMPREPLY=($(compgen -W "auto always never" -- "$cur")); return ;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "%s" -- "$cur"))
	fi
}
complete -o default -F _wirestate wirestate
`, strings.Join(files, "|"), strings.Join(long, " "))
	case "zsh":
		fmt.Fprintf(out, "#compdef wirestate\n# zsh completion for wirestate (generated by wirestate --completion zsh)\n_wirestate() {\n\tlocal -a flags\n\tflags=(\n")
		fs.VisitAll(func(f *pflag.Flag) {
			if f.Hidden {
				return
			}
			name, usage := pflag.UnquoteUsage(f)
			usage = strings.NewReplacer("[", `\[`, "]", `\]`, "'", `'\''`, ":", `\:`).Replace(usage)
			if len(usage) > 80 {
				usage = usage[:77] + "..."
			}
			action := ""
			switch {
			case name == "FILE":
				action = ":file:_files"
			case f.Name == "interface":
				action = ":interface:_net_interfaces"
			case f.Name == "format":
				action = ":format:(text json zeek)"
			case f.Name == "timeline":
				action = ":timeline:(anomalous all none)"
			case f.Name == "color":
				action = ":color:(auto always never)"
			case name != "" || f.Value.Type() != "bool" && f.NoOptDefVal == "":
				action = ":" + strings.ToLower(name) + ":"
			}
			fmt.Fprintf(out, "\t\t'--%s[%s]%s'\n", f.Name, usage, action)
			if f.Shorthand != "" {
				fmt.Fprintf(out, "\t\t'-%s[%s]%s'\n", f.Shorthand, usage, action)
			}
		})
		fmt.Fprintf(out, "\t)\n\t_arguments -s $flags '*:BPF filter:'\n}\n_wirestate \"$@\"\n")
	default:
		return fmt.Errorf("--completion %s: want bash or zsh", shell)
	}
	return nil
}
