package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// middleboxFindings runs wirestate on capture and returns its
// middlebox-reset findings' summaries.
func middleboxFindings(t *testing.T, capture string) []string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-r", capture, "--format", "json"}, &stdout, &stderr); code != 0 {
		t.Fatalf("%s: exit %d: %s", capture, code, stderr.String())
	}
	var out []string
	for _, l := range jsonLines(t, stdout.Bytes())["anomaly"] {
		var f struct{ Kind, Summary string }
		if err := json.Unmarshal([]byte(l), &f); err != nil {
			t.Fatal(err)
		}
		if f.Kind == "middlebox-reset" {
			out = append(out, f.Summary)
		}
	}
	return out
}

// TestMiddleboxResetOnlyWhereInjected runs every sample capture: the RSTs
// real Linux kernels sent (refused connections, SO_LINGER 0, aborts in
// bulk, accept-queue overflows over IPv4 and IPv6, a lost connection, an
// application abort, the thousands of mixed.pcap) are never middlebox
// resets; the router's RSTs of the middlebox-reset captures are, once per
// capture, with the TTLs side by side.
func TestMiddleboxResetOnlyWhereInjected(t *testing.T) {
	caps, _ := filepath.Glob("../../pcaps/*.pcap")
	kernelRSTs := map[string]bool{"refused": false, "linger0-abort": false, "abortive-close-server": false,
		"accept-queue-overflow-rst": false, "accept-queue-overflow-rst-v6": false, "half-open": false,
		"app-abort-after-request": false, "mixed": false}
	injected := 0
	for _, c := range caps {
		name := strings.TrimSuffix(filepath.Base(c), ".pcap")
		got := middleboxFindings(t, c)
		if strings.HasPrefix(name, "middlebox-reset") {
			injected++
			if len(got) != 1 || !strings.Contains(got[0], "64 vs 63 on its other packets") {
				t.Errorf("%s: middlebox-reset findings %q, want one with TTL 64 vs 63", name, got)
			}
			continue
		}
		if _, ok := kernelRSTs[name]; ok {
			kernelRSTs[name] = true
		}
		if len(got) > 0 {
			t.Errorf("%s: a kernel's RST reported as a middlebox's: %q", name, got)
		}
	}
	if injected != 3 {
		t.Errorf("%d middlebox-reset captures, want 3", injected)
	}
	for name, seen := range kernelRSTs {
		if !seen {
			t.Errorf("capture %s.pcap not found", name)
		}
	}
}

// TestMiddleboxResetZeekCorpus runs the traces of Zeek's test suite, real
// traffic from many networks, where two traces hold forged RSTs and no
// other RST is reported: in ldap-simpleauth a device 4 hops away (initial
// TTL 255), which also made the handshake's packets, resets a client 12
// hops away (initial TTL 64) after 3 minutes idle; in teredo a device next
// to the capture point (TTL 255, one IP ID counter for all three) resets
// three connections in the names of two web servers 11 hops away. It skips
// where the corpus is absent.
func TestMiddleboxResetZeekCorpus(t *testing.T) {
	cases := loadZeekCorpus(t)
	want := map[string][]string{
		"ldap-simpleauth": {"TTL 251 vs 52"},
		"teredo":          {"TTL 255 vs 53", "TTL 255 vs 53", "TTL 255 vs 53"},
	}
	for _, zc := range cases {
		trace := filepath.Join(zeekCorpus, zc.trace)
		if _, err := os.Stat(trace); err != nil {
			t.Fatalf("%s: %v", zc.name, err)
		}
		got := middleboxFindings(t, trace)
		w := want[zc.name]
		delete(want, zc.name)
		if len(got) != len(w) {
			t.Errorf("%s: %d middlebox-reset findings, want %d: %q", zc.name, len(got), len(w), got)
			continue
		}
		for i := range got {
			if !strings.Contains(got[i], w[i]) {
				t.Errorf("%s: %q lacks %q", zc.name, got[i], w[i])
			}
		}
	}
	for name := range want {
		t.Errorf("case %s not in the corpus", name)
	}
}
