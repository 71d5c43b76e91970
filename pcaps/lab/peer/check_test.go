package main

import (
	"strings"
	"testing"
)

// TestCommittedCaptures checks the committed sample captures (pcaps/*.pcap)
// against their scenarios and pcaps/manifest.json. It needs no root;
// pcaps/lab/check.sh does the same on freshly recorded captures.
func TestCommittedCaptures(t *testing.T) {
	var out strings.Builder
	err := checkCaptures(&out, "../..", "../../manifest.json", nil)
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatal(err)
	}
}

// TestChecksDiscriminate feeds each check a capture of another scenario:
// the checks must not pass everything.
func TestChecksDiscriminate(t *testing.T) {
	swaps := map[string]string{
		"server-close":                  "client-close",
		"simultaneous-close":            "server-close",
		"lost-final-ack":                "client-close",
		"accept-queue-overflow-rst":     "accept-queue-overflow-drop",
		"accept-queue-overflow-drop":    "accept-queue-overflow-rst",
		"half-open":                     "linger0-abort",
		"stale-segment":                 "port-reuse",
		"zero-window":                   "keepalive",
		"keepalive":                     "client-close",
		"close-wait-stuck":              "client-close",
		"syn-unanswered":                "syn-retransmit",
		"half-close":                    "client-close",
		"app-abort-after-request":       "abortive-close-server",
		"tw-reuse":                      "port-reuse",
		"both-sides-client":             "client-close",
		"both-sides-server":             "client-close",
		"accept-queue-overflow-rst-v6":  "accept-queue-overflow-rst",
		"accept-queue-overflow-drop-v6": "accept-queue-overflow-drop",
		"mixed":                         "client-close",
		"middlebox-reset-client":        "half-open",
		"middlebox-reset-server":        "app-abort-after-request",
		"middlebox-reset-v6":            "accept-queue-overflow-rst-v6",
	}
	for want, have := range swaps {
		info, err := readPcapInfo("../../" + have + ".pcap")
		if err != nil {
			t.Fatal(err)
		}
		c := &capture{name: want, dir: "../..", info: info, pkts: info.pkts}
		var e errf
		checks[want](c, &e)
		if len(e) == 0 {
			t.Errorf("the %s check passes %s.pcap", want, have)
		}
	}
}

func TestEveryScenarioHasACheck(t *testing.T) {
	known := set(captureNames()...)
	for _, n := range captureNames() {
		if checks[n] == nil {
			t.Errorf("no check for %s", n)
		}
	}
	for n := range checks {
		if !known[n] {
			t.Errorf("check for unknown scenario %s", n)
		}
	}
}
