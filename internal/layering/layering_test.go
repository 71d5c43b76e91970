package layering

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/wirestate/wirestate"

// pkg is what go list says of one package.
type pkg struct {
	ImportPath string
	Imports    []string // direct, non-test imports
	Deps       []string // every non-test dependency, transitively
}

// listPackages runs go list over the module.
func listPackages(t *testing.T) map[string]*pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", module+"/...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	pkgs := map[string]*pkg{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs[strings.TrimPrefix(p.ImportPath, module+"/")] = &p
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	return pkgs
}

// own returns the module's packages in list, relative to the module.
func own(list []string) []string {
	var out []string
	for _, d := range list {
		if d == module {
			out = append(out, "")
		} else if strings.HasPrefix(d, module+"/") {
			out = append(out, strings.TrimPrefix(d, module+"/"))
		}
	}
	return out
}

func under(p, root string) bool { return p == root || strings.HasPrefix(p, root+"/") }

// TestLayering checks the rules of the design card on the real import
// graph: the tracker is pure (no project package but its own subpackages),
// capture and report never import each other, nothing imports a command,
// only the command imports the pipeline, and an output sink (sink/...)
// builds on report and tracker, never on capture or the pipeline.
func TestLayering(t *testing.T) {
	pkgs := listPackages(t)
	for _, must := range []string{"tracker", "capture", "report", "pipeline", "sink/kafka", "cmd/wirestate"} {
		if pkgs[must] == nil {
			t.Fatalf("package %s not found", must)
		}
	}
	for name, p := range pkgs {
		deps := own(p.Deps)
		for _, d := range deps {
			switch {
			case under(name, "tracker") && !under(d, "tracker"):
				t.Errorf("%s depends on %s: the tracker imports only its own subpackages", name, d)
			case under(name, "capture") && under(d, "report"), under(name, "report") && under(d, "capture"):
				t.Errorf("%s depends on %s: capture and report never import each other", name, d)
			case (under(name, "report") || under(name, "capture") || under(name, "tracker") || under(name, "sink")) && under(d, "pipeline"):
				t.Errorf("%s depends on %s: the pipeline sits above it", name, d)
			case under(name, "sink") && under(d, "capture"):
				t.Errorf("%s depends on %s: a sink writes records, it never reads packets", name, d)
			}
		}
		for _, d := range own(p.Imports) {
			switch {
			case strings.HasPrefix(d, "cmd/"):
				t.Errorf("%s imports %s: nothing imports a command", name, d)
			case under(d, "pipeline") && !under(name, "pipeline") && name != "cmd/wirestate":
				t.Errorf("%s imports %s: only cmd/wirestate imports the pipeline", name, d)
			}
		}
	}
}
