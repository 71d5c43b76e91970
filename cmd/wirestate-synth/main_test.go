package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wirestate/wirestate/internal/synth"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	want := func(cfg synth.Config) []byte {
		var b bytes.Buffer
		if _, err := synth.Write(&b, cfg); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	defaults := synth.Config{Seed: 1, Conns: 10000, IPv6Fraction: 0.1, RSTFraction: 0.02, RefusedFraction: 0.01}
	tests := []struct {
		name    string
		args    []string
		file    string // output file under dir, or "" for stdout
		cfg     synth.Config
		wantErr string
	}{
		{
			name: "file",
			args: []string{"-w", "FILE", "--conns", "300", "--seed", "5", "--concurrency", "40", "--ipv6", "0.5"},
			file: "a.pcap",
			cfg:  synth.Config{Seed: 5, Conns: 300, Concurrency: 40, IPv6Fraction: 0.5, RSTFraction: 0.02, RefusedFraction: 0.01},
		},
		{
			name: "stdout",
			args: []string{"-w", "-", "--conns", "50", "--rst", "0.5", "--refused", "0.1", "--nanos", "--snaplen", "1600", "--data-segments", "5", "-q"},
			cfg:  synth.Config{Seed: 1, Conns: 50, RSTFraction: 0.5, RefusedFraction: 0.1, IPv6Fraction: 0.1, Nanos: true, Snaplen: 1600, DataSegments: 5},
		},
		{
			name: "start",
			args: []string{"-w", "-", "--conns", "20", "--start", "2030-01-02T03:04:05Z"},
			cfg: func() synth.Config {
				c := defaults
				c.Conns = 20
				c.Start = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
				return c
			}(),
		},
		{name: "missing -w", args: []string{"--conns", "5"}, wantErr: "-w is required"},
		{name: "bad fraction", args: []string{"-w", "-", "--ipv6", "2"}, wantErr: "fractions"},
		{name: "bad start", args: []string{"-w", "-", "--start", "yesterday"}, wantErr: "--start"},
		{name: "extra args", args: []string{"-w", "-", "extra"}, wantErr: "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string(nil), tt.args...)
			path := filepath.Join(dir, tt.file)
			for i, a := range args {
				if a == "FILE" {
					args[i] = path
				}
			}
			var stdout, stderr bytes.Buffer
			err := run(args, &stdout, &stderr)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("run: %v (stderr %s)", err, stderr.String())
			}
			got := stdout.Bytes()
			if tt.file != "" {
				if got, err = os.ReadFile(path); err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(stderr.String(), "wrote ") {
					t.Errorf("no summary on stderr: %q", stderr.String())
				}
			}
			if !bytes.Equal(got, want(tt.cfg)) {
				t.Fatal("output differs from synth.Write with the same config")
			}
		})
	}
}
