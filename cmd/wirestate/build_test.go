package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// buildWirestate builds the wirestate command into dir and returns the
// binary's path.
func buildWirestate(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "wirestate")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// needLive skips t, a live test named what, in -short mode, without root
// (network namespaces, veth, packet capture) or without one of tools.
func needLive(t *testing.T, what string, tools ...string) {
	t.Helper()
	if testing.Short() {
		t.Skip(what + " skipped in -short mode")
	}
	if os.Geteuid() != 0 {
		t.Skip(what + " needs root (network namespaces, veth, packet capture)")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s needs %s: %v", what, tool, err)
		}
	}
}
