package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/wirestate/wirestate/tracker"
)

// TestWriteHTML checks the page is self-contained: one data block, inline
// style and script, no external reference.
func TestWriteHTML(t *testing.T) {
	res := &Result{Findings: []tracker.Finding{{Kind: tracker.AnomLostFinalACK, Severity: tracker.SevWarning,
		Summary: "the final ACK was lost </script><script>alert(1)</script>"}}}
	var b bytes.Buffer
	if err := WriteHTML(&b, res, HTMLOptions{Title: "a <b> & c"}); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, bad := range []string{"<script src", "<link", `src="http`, `href="http`, "url(http", "@import", "alert(1)</script>"} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	if !strings.Contains(page, "<title>a &lt;b&gt; &amp; c</title>") {
		t.Errorf("title not escaped")
	}
	if strings.Count(page, `<script type="application/json" id="ws-data">`) != 1 {
		t.Errorf("want one data block")
	}
}
