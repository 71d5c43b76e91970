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
		code int
	}{
		{"missing interface", []string{"-i", "wsnosuch0", "tcp"}, "wsnosuch0: no such interface", 1},
		{"bad filter", []string{"-i", "lo", "tcp", "port", "foo"}, `bad capture filter "tcp port foo"`, 2},
		{"bad filter flag", []string{"-i", "lo", "-f", "tcp and ("}, "syntax error", 2},
		{"two filters", []string{"-i", "lo", "-f", "tcp", "udp"}, "not both", 2},
		{"file and interface", []string{"-i", "lo", "-r", "x.pcap"}, "not both", 2},
		{"file size without -w", []string{"-i", "lo", "--file-size", "10"}, "needs -w", 2},
		{"at", []string{"-i", "lo", "--at", "+1s"}, "--at", 2},
		{"no workers", []string{"-i", "lo", "--workers", "0"}, "--workers 0: want 1 or more", 2},
		{"negative workers", []string{"-i", "lo", "--workers", "-3"}, "--workers -3: want 1 or more", 2},
		{"bogus engine", []string{"-i", "lo", "--capture-engine", "bogus"}, `--capture-engine "bogus": want afpacket or libpcap`, 2},
		{"libpcap workers", []string{"-i", "lo", "--capture-engine", "libpcap", "--workers", "2"}, "the libpcap engine reads with one worker", 2},
		{"afpacket shards", []string{"-i", "lo", "--capture-engine", "afpacket", "--shards", "4"}, "--shards is for -r", 2},
		{"negative buffer", []string{"-i", "lo", "-B", "-1"}, "--buffer-size must not be negative", 2},
		{"missing interface, libpcap", []string{"-i", "wsnosuch0", "--capture-engine", "libpcap", "tcp"}, "wsnosuch0: no such interface", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(tc.args, &out, &errb); code != tc.code {
				t.Errorf("exit %d, want %d", code, tc.code)
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
