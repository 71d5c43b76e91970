package pipeline

import (
	"fmt"
	"testing"

	"github.com/wirestate/wirestate/tracker"
	tt "github.com/wirestate/wirestate/tracker/trackertest"
)

// TestStateTimelineBusiestHosts checks which hosts the states chart draws
// when there are more than it may: pinned ones first, then the most
// connections, the lowest addresses among equals, most connections first.
func TestStateTimelineBusiestHosts(t *testing.T) {
	rec := NewStateRecorder(0)
	tr := tracker.New(tracker.Config{Inline: true,
		Observers: func(int, func(*tracker.Finding)) []tracker.Observer { return []tracker.Observer{rec.Observer()} }})
	clientHandshakes(tr, 200)
	tr.Close()
	pin := []tracker.Addr{clientAddr(3)} // 4 connections, would not otherwise be chosen
	tl := rec.Timeline(1e18, 1e18+10e9, 6, pin)
	var got []string
	for _, h := range tl.Hosts {
		got = append(got, fmt.Sprintf("%s:%d", h.Host, h.Conns))
	}
	// The server has every connection (794); clients 6, 13, 20, ... have 7 each,
	// the lowest addresses first.
	want := []string{tt.B.Addr.String() + ":794", "10.1.0.6:7", "10.1.0.13:7", "10.1.0.20:7", "10.1.0.27:7", "10.1.0.3:4"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("hosts %v, want %v", got, want)
	}
}

// clientAddr is the address of client i of clientHandshakes.
func clientAddr(i int) tracker.Addr { return tracker.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}) }

// clientHandshakes feeds tr, from each of n clients (client i at
// clientAddr(i) opens 1 + i%7), handshakes with the server tt.B, and
// returns how many it fed.
func clientHandshakes(tr *tracker.Tracker, n int) int {
	port, frame, total := uint16(1024), uint64(0), 0 // uids come from frame numbers: keep them unique
	for i := 0; i < n; i++ {
		for k := 0; k <= i%7; k++ {
			c := tt.Handshake()
			c.EndA = tracker.Endpoint{Addr: clientAddr(i), Port: port}
			port++
			c.Segs = nil
			c.Add("A", "S", 1000, 0, 0, 1e6).Add("B", "S.", 5000, 1001, 0, 1e6).Add("A", ".", 1001, 5001, 0, 1e6)
			for j := range c.Segs {
				frame++
				c.Segs[j].Frame = frame
				tr.Feed(&c.Segs[j])
			}
			total++
		}
	}
	return total
}
