package main

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
)

func TestLiveCommandErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"missing interface", []string{"-i", "wsnosuch0", "tcp"}, "wsnosuch0: no such interface"},
		{"bad filter", []string{"-i", "lo", "tcp", "port", "foo"}, `bad capture filter "tcp port foo"`},
		{"bad filter flag", []string{"-i", "lo", "-f", "tcp and ("}, "syntax error"},
		{"two filters", []string{"-i", "lo", "-f", "tcp", "udp"}, "not both"},
		{"file and interface", []string{"-i", "lo", "-r", "x.pcap"}, "not both"},
		{"file size without -w", []string{"-i", "lo", "--file-size", "10"}, "needs -w"},
		{"at", []string{"-i", "lo", "--at", "+1s"}, "--at"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(tc.args, &out, &errb); code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			msg := errb.String()
			if !strings.Contains(msg, tc.want) || strings.Count(msg, "\n") != 1 || !strings.HasPrefix(msg, "wirestate: ") {
				t.Errorf("stderr %q: want one line with %q", msg, tc.want)
			}
		})
	}
}

func TestListInterfaces(t *testing.T) {
	var out bytes.Buffer
	if err := listInterfaces(&out); err != nil {
		t.Skipf("libpcap cannot list interfaces here: %v", err)
	}
	list := out.String()
	sc := bufio.NewScanner(strings.NewReader(list))
	n := 0
	for sc.Scan() {
		n++
		if !strings.HasPrefix(sc.Text(), strings.TrimSpace(strings.Split(sc.Text(), ".")[0])+".") {
			t.Errorf("line %q is not numbered", sc.Text())
		}
	}
	if n == 0 || !strings.Contains(list, "lo") {
		t.Errorf("interface list %q lacks lo", list)
	}
}
