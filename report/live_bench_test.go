package report

import (
	"io"
	"testing"
	"time"

	"github.com/wirestate/wirestate/tracker"
	"github.com/wirestate/wirestate/tracker/trackertest"
)

// BenchmarkLiveRecord measures a live stream writing one connection record
// as its connection ends (JSON Lines and conn.log), with a tick (flush)
// every 1,000 records; it reports records/s and must allocate nothing.
func BenchmarkLiveRecord(b *testing.B) {
	convo := trackertest.Handshake().Add("A", "P.", 1001, 5001, 100, 1e6).Add("B", "P.", 5001, 1101, 50, 1e6).
		Add("A", "F.", 1101, 5051, 0, 1e6).Add("B", "F.", 5051, 1102, 0, 1e6).Add("A", ".", 1102, 5052, 0, 1e6)
	rec := trackertest.Run(convo.Segs, tracker.Config{}).Recs[0]
	for _, format := range []string{"json", "zeek"} {
		b.Run(format, func(b *testing.B) {
			s, _ := NewStream(format, io.Discard, StreamOptions{Live: true, Sensor: "edge-1"})
			tk := s.(Ticker)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if err := s.Record(&rec); err != nil {
					b.Fatal(err)
				}
				if i%1000 == 999 {
					tk.Tick(time.Time{})
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
