package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// TestHelp checks that --help goes to standard output, grouped, every
// visible flag once, no line wider than the width and none ending in a
// space; and that a flag not named in any group still shows (under Other).
func TestHelp(t *testing.T) {
	for _, arg := range []string{"--help", "-h"} {
		var out, errb bytes.Buffer
		if code := run([]string{arg}, &out, &errb); code != 0 || errb.Len() != 0 {
			t.Fatalf("%s: exit %d, stderr %q", arg, code, errb.String())
		}
		help := out.String()
		for _, g := range []string{"Input:", "Output:", "Live capture:", "Connection tracking:", "Detectors:", "Zeek:"} {
			if !strings.Contains(help, "\n"+g+"\n") {
				t.Errorf("%s: no %q group", arg, g)
			}
		}
		newFlagSet(&Flags{}).VisitAll(func(f *pflag.Flag) {
			n := len(regexp.MustCompile(`(?m)^  (-\w, |    )--`+regexp.QuoteMeta(f.Name)+`( |$)`).FindAllString(help, -1))
			switch {
			case f.Hidden && n > 0:
				t.Errorf("hidden --%s shown", f.Name)
			case !f.Hidden && n != 1:
				t.Errorf("--%s shown %d times", f.Name, n)
			}
		})
		for i, line := range strings.Split(help, "\n") {
			if len([]rune(line)) > 100 {
				t.Errorf("line %d is %d wide: %q", i+1, len([]rune(line)), line)
			}
			if strings.HasSuffix(line, " ") {
				t.Errorf("line %d ends in a space: %q", i+1, line)
			}
		}
	}
	if groupOf("some-new-flag") != "Other" || groupOf("no-scan") != "Detectors" {
		t.Errorf("groupOf: %q, %q", groupOf("some-new-flag"), groupOf("no-scan"))
	}
}

// TestVersion checks that --version names the program and the Go version
// it was built with.
func TestVersion(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"--version"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if v := out.String(); !strings.HasPrefix(v, "wirestate ") || !strings.Contains(v, "go1.") {
		t.Errorf("--version printed %q", v)
	}
}

// TestManAndCompletion checks the generated man page lists every visible
// flag, and that the completion scripts are valid bash and zsh and know
// every flag.
func TestManAndCompletion(t *testing.T) {
	var man, bash, zsh, errb bytes.Buffer
	if run([]string{"--man"}, &man, &errb) != 0 || run([]string{"--completion", "bash"}, &bash, &errb) != 0 ||
		run([]string{"--completion", "zsh"}, &zsh, &errb) != 0 {
		t.Fatalf("generation failed: %s", errb.String())
	}
	if code := run([]string{"--completion", "fish"}, new(bytes.Buffer), &errb); code != 2 {
		t.Errorf("--completion fish: exit %d, want 2", code)
	}
	newFlagSet(&Flags{}).VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		if !strings.Contains(man.String(), `\fB\-\-`+strings.ReplaceAll(f.Name, "-", `\-`)+`\fR`) {
			t.Errorf("man page lacks --%s", f.Name)
		}
		if !strings.Contains(bash.String(), "--"+f.Name) || !strings.Contains(zsh.String(), "'--"+f.Name+"[") {
			t.Errorf("completion lacks --%s", f.Name)
		}
	})
	if !strings.HasPrefix(man.String(), ".TH WIRESTATE 1") {
		t.Errorf("man page starts %q", man.String()[:min(40, man.Len())])
	}
	dir := t.TempDir()
	for shell, script := range map[string]*bytes.Buffer{"bash": &bash, "zsh": &zsh} {
		if _, err := exec.LookPath(shell); err != nil {
			t.Logf("%s not installed: its script's syntax is not checked", shell)
			continue
		}
		path := filepath.Join(dir, shell)
		if err := os.WriteFile(path, script.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(shell, "-n", path).CombinedOutput(); err != nil {
			t.Errorf("%s -n: %v\n%s", shell, err, out)
		}
	}
}
