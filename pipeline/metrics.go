package pipeline

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wirestate/wirestate/report"
	"github.com/wirestate/wirestate/tracker"
)

// liveCounters are the capture counters the reader goroutine publishes
// (at every tick) for the metrics endpoint.
type liveCounters struct {
	packets, segments                     atomic.Uint64
	received, dropped, ifDropped, freezes atomic.Uint64
}

// liveMetrics holds wirestate's Prometheus metrics. Counters of packets and
// drops read liveCounters when scraped; the rest are updated as findings,
// records and state censuses arrive.
type liveMetrics struct {
	reg         *prometheus.Registry
	conns       *prometheus.GaugeVec
	findings    *prometheus.CounterVec
	trackerConn prometheus.Gauge
	trackerMem  prometheus.Gauge
	evictions   prometheus.Counter
	idle        prometheus.Counter
	reportDrop  *prometheus.CounterVec
	handshake   *prometheus.HistogramVec
	response    *prometheus.HistogramVec
	ports       map[uint16]string // listening ports with a label of their own
	srv         *http.Server
}

// maxPortLabels bounds the listening ports the latency histograms tell
// apart; connections to later ones share the port label "other".
const maxPortLabels = 32

// latencyBuckets are the latency histograms' bucket bounds in seconds:
// 50 µs to about 26 s, doubling.
var latencyBuckets = prometheus.ExponentialBuckets(50e-6, 2, 20)

// connSize is the tracker's memory per held connection, for the estimate
// wirestate_tracker_memory_bytes reports (the flow table's index adds a
// little more).
const connSize = int(unsafe.Sizeof(tracker.Conn{}))

// newLiveMetrics registers every metric on a fresh registry, with the Go
// runtime and process collectors. drops, when any, are the outputs that
// drop records rather than stall the capture (the Kafka sink).
func newLiveMetrics(c *liveCounters, drops []report.DropCounter) *liveMetrics {
	m := &liveMetrics{reg: prometheus.NewRegistry()}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	counter := func(name, help string, v *atomic.Uint64) {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help},
			func() float64 { return float64(v.Load()) }))
	}
	counter("wirestate_packets_total", "Packets read from the capture.", &c.packets)
	counter("wirestate_tcp_segments_total", "Packets read that were TCP segments, handed to the tracker.", &c.segments)
	counter("wirestate_capture_received_packets_total", "Packets the kernel passed the filter to the capture (libpcap's ps_recv, AF_PACKET's tp_packets summed over the workers).", &c.received)
	counter("wirestate_capture_dropped_packets_total", "Packets the kernel dropped because the capture buffer was full (ps_drop, tp_drops).", &c.dropped)
	counter("wirestate_capture_interface_dropped_packets_total", "Packets the interface or driver dropped (ps_ifdrop).", &c.ifDropped)
	counter("wirestate_capture_ring_freezes_total", "Times an AF_PACKET ring was full and the kernel froze it (afpacket engine).", &c.freezes)
	m.conns = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "wirestate_connections",
		Help: "Endpoints of the connections held, by RFC 793 state and side (orig or resp), at the last census."},
		[]string{"state", "side"})
	m.findings = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "wirestate_findings_total",
		Help: "Findings reported, by kind and severity."}, []string{"kind", "severity"})
	m.trackerConn = prometheus.NewGauge(prometheus.GaugeOpts{Name: "wirestate_tracker_connections",
		Help: "Connections held by the tracker at the last census."})
	m.trackerMem = prometheus.NewGauge(prometheus.GaugeOpts{Name: "wirestate_tracker_memory_bytes",
		Help: "Estimated memory of the connections held by the tracker at the last census."})
	m.evictions = prometheus.NewCounter(prometheus.CounterOpts{Name: "wirestate_tracker_evictions_total",
		Help: "Connections evicted to keep within --max-conns."})
	m.idle = prometheus.NewCounter(prometheus.CounterOpts{Name: "wirestate_tracker_idle_expired_total",
		Help: "Connections expired after --idle-timeout without a packet."})
	m.reportDrop = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "wirestate_report_dropped_total",
		Help: "Records and findings left out of the final report by its memory bound (they were still streamed and counted)."},
		[]string{"what"})
	if len(drops) > 0 {
		m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "wirestate_kafka_dropped_records_total",
			Help: "Records the Kafka output dropped (buffer full or cluster unreachable) rather than stall the capture."},
			func() float64 { return float64(sumDropped(drops)) }))
	}
	m.handshake = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "wirestate_handshake_rtt_seconds",
		Help:    "Handshake round trip at the capture point (SYN to the ACK completing the handshake) of the connections ended, by listening port (at most 32, then \"other\").",
		Buckets: latencyBuckets}, []string{"port"})
	m.response = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "wirestate_app_response_seconds",
		Help:    "Application response times (a request's last segment to the answer's first byte) of the connections ended (each connection's mean response), by listening port (at most 32, then \"other\").",
		Buckets: latencyBuckets}, []string{"port"})
	m.ports = map[uint16]string{}
	m.reg.MustRegister(m.handshake, m.response, m.conns, m.findings, m.trackerConn, m.trackerMem, m.evictions, m.idle, m.reportDrop)
	return m
}

// census publishes a count of held connections by side and state.
func (m *liveMetrics) census(c *census) {
	if m == nil {
		return
	}
	for side, name := range [2]string{"orig", "resp"} {
		for st := range c.bySide[side] {
			m.conns.WithLabelValues(tracker.State(st).String(), name).Set(float64(c.bySide[side][st]))
		}
	}
	m.trackerConn.Set(float64(c.conns))
	m.trackerMem.Set(float64(c.conns * connSize))
}

// finding counts one finding.
func (m *liveMetrics) finding(f *tracker.Finding) {
	if m == nil {
		return
	}
	m.findings.WithLabelValues(f.Kind.String(), f.Severity.String()).Inc()
}

// record counts an emitted connection record's end reason.
func (m *liveMetrics) record(r tracker.EndReason) {
	if m == nil {
		return
	}
	switch r {
	case tracker.EndEvicted:
		m.evictions.Inc()
	case tracker.EndIdle:
		m.idle.Inc()
	}
}

// latency observes an ended connection's handshake round trip and
// application response time under its listening port.
func (m *liveMetrics) latency(r *tracker.Record) {
	if m == nil || r.Metrics == nil || !r.Metrics.On() {
		return
	}
	port := r.Conn.Resp.Port
	label, ok := m.ports[port]
	if !ok {
		label = "other"
		if len(m.ports) < maxPortLabels {
			label = strconv.Itoa(int(port))
			m.ports[port] = label
		}
	}
	if ns, ok := r.Metrics.HandshakeRTT(); ok {
		m.handshake.WithLabelValues(label).Observe(float64(ns) / 1e9)
	}
	if avg, ok := r.Metrics.App.AvgNS(); ok {
		m.response.WithLabelValues(label).Observe(float64(avg) / 1e9)
	}
}

// reportDropped counts a record or finding left out of the final report.
func (m *liveMetrics) reportDropped(what string) {
	if m == nil {
		return
	}
	m.reportDrop.WithLabelValues(what).Inc()
}

// serve listens on addr and serves /metrics until shutdown. Listening
// errors are returned at once, worded for the command line.
func (m *liveMetrics) serve(addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("--metrics-addr %s: %v", addr, unwrapOpError(err))
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintln(w, "wirestate: metrics at /metrics")
	})
	m.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go m.srv.Serve(ln)
	return ln.Addr().String(), nil
}

// shutdown stops the metrics server.
func (m *liveMetrics) shutdown() {
	if m != nil && m.srv != nil {
		m.srv.Close()
	}
}

// unwrapOpError drops the *net.OpError wrapping, whose address the caller
// already names.
func unwrapOpError(err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err
	}
	return err
}
