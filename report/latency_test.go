package report

import (
	"bufio"
	"bytes"
	"strings"
	"testing"

	"github.com/wirestate/wirestate/tracker"
	tt "github.com/wirestate/wirestate/tracker/trackertest"
)

// latencyRecords returns the records of n conversations to server, each a
// handshake whose SYN-ACK comes hs nanoseconds after the SYN, a request
// and an answer app nanoseconds later, and a close.
func latencyRecords(t *testing.T, server tracker.Endpoint, n int, hs, app int64) []tracker.Record {
	t.Helper()
	var segs []tracker.Segment
	for i := 0; i < n; i++ {
		c := tt.New()
		c.EndB = server
		c.EndA.Port = uint16(20000 + i)
		c.Now += int64(i) * 1e9
		c.Add("A", "S", 100, 0, 0, 0).
			Add("B", "S.", 500, 101, 0, hs).
			Add("A", ".", 101, 501, 0, 1000).
			Add("A", "P.", 101, 501, 10, 1000).
			Add("B", ".", 501, 111, 0, 2000).
			Add("B", "P.", 501, 111, 20, app).
			Add("A", "F.", 111, 521, 0, 1000).
			Add("B", "F.", 521, 112, 0, 1000).
			Add("A", ".", 112, 522, 0, 1000)
		segs = append(segs, c.Segs...)
	}
	rs := tt.Run(segs, tracker.Config{Inline: true}).Sorted()
	if len(rs) != n {
		t.Fatalf("%d records, want %d", len(rs), n)
	}
	return rs
}

// TestLatencyPerListener checks the per-listener figures against the
// scripted times, and the order, bound and merge of listeners.
func TestLatencyPerListener(t *testing.T) {
	web := tracker.Endpoint{Addr: tt.B.Addr, Port: 80}
	db := tracker.Endpoint{Addr: tt.B.Addr, Port: 5432}
	var a, b Latency
	for _, r := range latencyRecords(t, web, 5, 300e3, 40e6) {
		a.Add(&r)
	}
	for _, r := range latencyRecords(t, db, 2, 2e6, 1e6) {
		b.Add(&r)
	}
	a.Merge(&b)
	rows, omitted := a.Top(-1)
	if len(rows) != 2 || omitted != 0 {
		t.Fatalf("%d listeners (%d omitted), want 2", len(rows), omitted)
	}
	w := rows[0]
	if w.Listener != web || w.Conns != 5 || w.Handshakes != 5 {
		t.Fatalf("first listener %s: %d conns %d handshakes", w.Listener, w.Conns, w.Handshakes)
	}
	// Handshake: SYN to SYN-ACK plus SYN-ACK to ACK (1 µs).
	if got := w.Handshake.Quantile(0.5); got != 301e3 {
		t.Errorf("web handshake p50 %d ns, want 301000", got)
	}
	// Response: the request's last segment to the answer's first byte: the
	// server's ACK (2 µs) plus app.
	if got := w.AppResponse.Quantile(0.99); got < 40e6*0.99 || got > 40.002e6*1.01 {
		t.Errorf("web response p99 %d ns, want about 40.002 ms", got)
	}
	if d := rows[1]; d.Listener != db || d.Handshake.Max() != 2.001e6 {
		t.Errorf("second listener %s handshake max %d", d.Listener, d.Handshake.Max())
	}
	if rows, omitted := a.Top(1); len(rows) != 1 || omitted != 1 {
		t.Errorf("Top(1): %d rows, %d omitted", len(rows), omitted)
	}

	var buf bytes.Buffer
	bw := bufio.NewWriter(&buf)
	writeLatency(bw, &Result{Latency: &a}, &Options{})
	bw.Flush()
	for _, want := range []string{"Latency per listener", "10.0.0.2:80 ", "301µs / 301µs / 301µs", "10.0.0.2:5432"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("text view lacks %q:\n%s", want, buf.String())
		}
	}
}

// TestLatencyBound checks that listeners past MaxListeners count together
// under Other and are reported as omitted.
func TestLatencyBound(t *testing.T) {
	rs := latencyRecords(t, tt.B, 1, 1e6, 1e6)
	var l Latency
	for i := 0; i < MaxListeners+10; i++ {
		r := rs[0]
		r.Conn.Resp.Port = uint16(1000 + i)
		l.Add(&r)
	}
	if l.Len() != MaxListeners || l.Other.Conns != 10 {
		t.Fatalf("%d listeners kept, %d in Other; want %d and 10", l.Len(), l.Other.Conns, MaxListeners)
	}
	if _, omitted := l.Top(DefaultTopListeners); omitted != MaxListeners-DefaultTopListeners+1 {
		t.Errorf("omitted %d", omitted)
	}
}

// TestLatencyEmpty: a SYN-only connection has no figures and the view is
// left out.
func TestLatencyEmpty(t *testing.T) {
	rs := tt.Run(tt.New().Add("A", "S", 1, 0, 0, 0).Segs, tracker.Config{Inline: true}).Sorted()
	var l Latency
	l.Add(&rs[0])
	var buf bytes.Buffer
	bw := bufio.NewWriter(&buf)
	writeLatency(bw, &Result{Latency: &l}, &Options{})
	bw.Flush()
	if l.Len() != 0 || buf.Len() != 0 {
		t.Errorf("%d listeners, view %q", l.Len(), buf.String())
	}
}
