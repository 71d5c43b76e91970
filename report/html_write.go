package report

import (
	"bufio"
	_ "embed"
	"html"
	"io"
)

// The page's style sheet and script, inlined into every report.
var (
	//go:embed html/report.css
	htmlCSS string
	//go:embed html/report.js
	htmlJS string
)

// htmlCSP forbids every fetch: the report is self-contained, so a page that
// tried to load anything would be a bug, not a feature.
const htmlCSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"

// WriteHTML writes the report as one self-contained HTML page: the data of
// HTMLData in a JSON block, and the style sheet and script that render it,
// all inline, so that the file opens from disk with no network access.
func WriteHTML(w io.Writer, res *Result, opt HTMLOptions) error {
	opt.fill()
	data, err := HTMLData(res, opt)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	title := html.EscapeString(opt.Title)
	bw.WriteString("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
	bw.WriteString("<meta http-equiv=\"Content-Security-Policy\" content=\"" + htmlCSP + "\">\n")
	bw.WriteString("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
	bw.WriteString("<meta name=\"generator\" content=\"wirestate\">\n")
	bw.WriteString("<title>" + title + "</title>\n<style>\n")
	bw.WriteString(htmlCSS)
	bw.WriteString("</style>\n</head>\n<body>\n")
	bw.WriteString("<noscript><p class=\"noscript\">This report is drawn by JavaScript; enable it to read the report.</p></noscript>\n")
	bw.WriteString("<div id=\"app\" data-loading=\"1\"><p class=\"loading\">Loading " + title + "…</p></div>\n")
	// json.Marshal escapes <, > and & inside strings, so the data cannot
	// close the script element.
	bw.WriteString("<script type=\"application/json\" id=\"ws-data\">")
	bw.Write(data)
	bw.WriteString("</script>\n<script>\n")
	bw.WriteString(htmlJS)
	bw.WriteString("</script>\n</body>\n</html>\n")
	return bw.Flush()
}
