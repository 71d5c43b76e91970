package main

import (
	"testing"

	"github.com/wirestate/wirestate/tracker"
)

func TestZeekFlags(t *testing.T) {
	cases := []struct {
		name     string
		args     []string
		mode     bool     // Zeek's lifetime rules on
		likely   []uint16 // ports that must be likely server ports
		unlikely []uint16 // ports that must not be
		validate bool     // checksums verified
		err      bool
	}{
		{name: "text output: own lifetime, checksums not verified (offload)", args: nil},
		{name: "--validate-checksums outside Zeek mode", args: []string{"--validate-checksums"}, validate: true},
		{name: "zeek output implies Zeek mode with a full Zeek's ports", args: []string{"--format", "zeek"},
			mode: true, likely: []uint16{80, 88, 443, 6669}, unlikely: []uint16{40000}, validate: true},
		{name: "zeek mode in JSON", args: []string{"--format", "json", "--zeek-mode"}, mode: true, likely: []uint16{80}, validate: true},
		{name: "bare mode", args: []string{"--format", "zeek", "--zeek-bare"}, mode: true, unlikely: []uint16{80, 88}, validate: true},
		{name: "bare mode with krb loaded", args: []string{"--format", "zeek", "--zeek-bare", "--zeek-load", "krb,conn"},
			mode: true, likely: []uint16{88}, unlikely: []uint16{80}, validate: true},
		{name: "-C", args: []string{"--format", "zeek", "-C"}, mode: true, likely: []uint16{80}},
		{name: "--ignore-checksums", args: []string{"--ignore-checksums"}},
		{name: "--zeek-load needs bare mode", args: []string{"--format", "zeek", "--zeek-load", "http"}, err: true},
		{name: "--zeek-bare needs Zeek mode", args: []string{"--zeek-bare"}, err: true},
		{name: "unknown script", args: []string{"--format", "zeek", "--zeek-bare", "--zeek-load", "nosuch"}, err: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fl, err := parseFlags(append([]string{"-r", "x.pcap"}, tc.args...))
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := zeekTrackerConfig(fl)
			if (err != nil) != tc.err {
				t.Fatalf("error %v, want error %v", err, tc.err)
			}
			if err != nil {
				return
			}
			if (cfg != nil) != tc.mode {
				t.Fatalf("Zeek mode %v, want %v", cfg != nil, tc.mode)
			}
			if got := zeekDecoderOptions(fl).ValidateChecksums; got != tc.validate {
				t.Errorf("ValidateChecksums %v, want %v", got, tc.validate)
			}
			if cfg == nil {
				return
			}
			ports := cfg.LikelyServerPorts
			if ports == nil {
				// Nil is a full Zeek's set.
				if ports, err = tracker.ZeekServerPorts(); err != nil {
					t.Fatal(err)
				}
			}
			for _, p := range tc.likely {
				if !ports.Has(p) {
					t.Errorf("port %d is not a likely server port", p)
				}
			}
			for _, p := range tc.unlikely {
				if ports.Has(p) {
					t.Errorf("port %d is a likely server port", p)
				}
			}
		})
	}
}
