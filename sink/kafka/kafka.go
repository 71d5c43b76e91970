// Package kafka is wirestate's Kafka sink: a report.Stream that produces
// every record of a run (connections, anomalies, status records and the
// summary) to Kafka topics, so that the records of a fleet of sensors can
// be joined in one place.
//
// Topics are PREFIX.conn, PREFIX.anomaly, PREFIX.stats and PREFIX.summary.
// Each value is the very JSON object the json format writes on one line
// (report.AppendConnJSON and its siblings), "sensor" included. Each record
// carries the headers "sensor" (the sensor's name) and "type" (conn,
// anomaly, stats or summary). Connection and anomaly records are keyed by
// the connection's 4-tuple as recorded, originator first:
// "orig_h:orig_p-resp_h:resp_p", IPv6 addresses in brackets
// ("[2001:db8::1]:40000-[2001:db8::2]:443"), so that a connection's records
// land in one partition; a finding about many connections is keyed by the
// endpoints it names. Status and summary records are keyed by the sensor's
// name. (A Community ID key may replace the 4-tuple once wirestate computes
// one.)
//
// The producer is idempotent, waits for acknowledgement by every in-sync
// replica, compresses batches with zstd at its fastest level (lz4 for
// brokers without zstd) and buffers at most MaxBuffered records. Live, a
// record that finds the buffer full is dropped and counted, never waited
// for: a slow or absent cluster never stalls the capture, and delivery
// resumes by itself when the cluster comes back. Offline, where nothing is
// lost by waiting, producing waits for room in the buffer, unless no record
// has been delivered for FlushTimeout (then the cluster is given up and the
// rest is dropped and counted) or the run was interrupted (then what does
// not fit is dropped). Close flushes for at most FlushTimeout and says how
// many records were left undelivered.
package kafka

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/wirestate/wirestate/report"
	"github.com/wirestate/wirestate/tracker"
)

// Defaults of Config.
const (
	// DefaultTopicPrefix is the prefix of the topics (--kafka-topic).
	DefaultTopicPrefix = "wirestate"
	// DefaultFlushTimeout bounds the final flush (--kafka-flush-timeout).
	DefaultFlushTimeout = 10 * time.Second
	// DefaultMaxBuffered is how many records wait for the cluster at most.
	DefaultMaxBuffered = 100000
)

// Mechanisms are the SASL mechanisms the sink supports (--kafka-sasl-mechanism).
var Mechanisms = []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}

// Config configures the sink.
type Config struct {
	// Brokers are the seed brokers, host:port.
	Brokers []string
	// TopicPrefix names the topics: PREFIX.conn, PREFIX.anomaly,
	// PREFIX.stats, PREFIX.summary.
	TopicPrefix string
	// Sensor names this sensor: in every record and the sensor header.
	Sensor string
	// CommunityIDSeed seeds the records' community_id.
	CommunityIDSeed uint16
	// Live, set for live capture, never waits for the cluster: records
	// that find the buffer full are dropped. Connection records then come
	// through Record as connections end; offline, from the summary.
	Live bool
	// Local is the report option of the same name (JSON records do not
	// depend on it today).
	Local bool

	// TLS connects with TLS; CAFile (PEM) replaces the system's roots;
	// CertFile and KeyFile (PEM) are a client certificate.
	TLS                       bool
	CAFile, CertFile, KeyFile string
	// SASLMechanism is one of Mechanisms, or "" for none; SASLUser and
	// SASLPassword are the credentials.
	SASLMechanism, SASLUser, SASLPassword string

	// FlushTimeout bounds the final flush and, offline, how long producing
	// waits without any record being delivered (0: DefaultFlushTimeout).
	FlushTimeout time.Duration
	// MaxBuffered bounds the records waiting for the cluster (0:
	// DefaultMaxBuffered).
	MaxBuffered int
	// Stderr receives the sink's warnings and its closing line.
	Stderr io.Writer
	// Interrupt, when done (SIGINT), stops offline producing from waiting
	// for room in the buffer: what does not fit is dropped, and Close
	// still flushes for at most FlushTimeout. Nil never interrupts.
	Interrupt context.Context
}

// The record types, in topic order.
const (
	typConn = iota
	typAnomaly
	typStats
	typSummary
	numTypes
)

var typeNames = [numTypes]string{"conn", "anomaly", "stats", "summary"}

// Sink is the Kafka output stream. Its Stream methods are called from one
// goroutine at a time (report.Stream); Dropped from any.
type Sink struct {
	cfg     Config
	cl      *kgo.Client
	opt     report.Options
	topics  [numTypes]string
	headers [numTypes][]kgo.RecordHeader
	sensor  []byte
	promise func(*kgo.Record, error)
	stderr  io.Writer

	// slab is where values and keys are formatted: records keep slices of
	// it until they are delivered.
	slab []byte

	// ctx is the records' context: canceled when the cluster makes no
	// progress for FlushTimeout offline (stall), or at Close. wait, done
	// also on Interrupt, bounds an offline wait for room in the buffer.
	ctx    context.Context
	cancel context.CancelFunc
	wait   context.Context
	done   chan struct{}

	queued, delivered, dropped atomic.Uint64
	// failing is set by the first drop of an outage, cleared by the next
	// delivery (which sets resumed).
	failing, resumed atomic.Bool
	warned           bool   // the outage's warning was printed
	warnedAt         uint64 // the drops counted at the last notice

	mu        sync.Mutex
	cause     string // why records were dropped
	brokerErr string // the last failed connection to a broker
	closed    bool
}

// New returns a sink producing to cfg.Brokers. It does not wait for the
// cluster: an unreachable cluster shows as dropped records, with a
// warning.
func New(cfg Config) (*Sink, error) {
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("no Kafka broker given")
	}
	if cfg.TopicPrefix == "" {
		cfg.TopicPrefix = DefaultTopicPrefix
	}
	if cfg.FlushTimeout <= 0 {
		cfg.FlushTimeout = DefaultFlushTimeout
	}
	if cfg.MaxBuffered <= 0 {
		cfg.MaxBuffered = DefaultMaxBuffered
	}
	s := &Sink{cfg: cfg, stderr: cfg.Stderr, sensor: []byte(cfg.Sensor),
		opt: report.Options{Local: cfg.Local, Sensor: cfg.Sensor, CommunityIDSeed: cfg.CommunityIDSeed}, done: make(chan struct{})}
	if s.stderr == nil {
		s.stderr = io.Discard
	}
	for t, name := range typeNames {
		s.topics[t] = cfg.TopicPrefix + "." + name
		s.headers[t] = []kgo.RecordHeader{{Key: "sensor", Value: s.sensor}, {Key: "type", Value: []byte(name)}}
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ClientID("wirestate"),
		kgo.RequiredAcks(kgo.AllISRAcks()), // with the default idempotent producer
		// zstd at level 1, klauspost's zstd.SpeedFastest: the default
		// level costs more CPU on JSON records for little.
		kgo.ProducerBatchCompression(kgo.ZstdCompression().WithLevel(1), kgo.Lz4Compression(), kgo.NoCompression()),
		kgo.ProducerLinger(50 * time.Millisecond),
		kgo.MaxBufferedRecords(cfg.MaxBuffered),
		kgo.AllowAutoTopicCreation(), // where the cluster allows it
		kgo.WithHooks(hooks{s}),
	}
	if cfg.TLS || cfg.CAFile != "" || cfg.CertFile != "" || cfg.KeyFile != "" {
		tc, err := tlsConfig(&cfg)
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	if cfg.SASLMechanism != "" {
		m, err := mechanism(&cfg)
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.SASL(m))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka: %v", err)
	}
	s.cl = cl
	s.promise = s.delivered1
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.wait = s.ctx
	if cfg.Interrupt != nil {
		var stop context.CancelFunc
		s.wait, stop = context.WithCancel(s.ctx)
		context.AfterFunc(cfg.Interrupt, stop)
	}
	if !cfg.Live {
		go s.watch()
	}
	return s, nil
}

// tlsConfig builds the TLS configuration of cfg.
func tlsConfig(cfg *Config) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("--kafka-tls-ca: %v", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--kafka-tls-ca %s: no PEM certificate in it", cfg.CAFile)
		}
	}
	if (cfg.CertFile == "") != (cfg.KeyFile == "") {
		return nil, errors.New("--kafka-tls-cert and --kafka-tls-key go together")
	}
	if cfg.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("--kafka-tls-cert: %v", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// mechanism returns the SASL mechanism of cfg.
func mechanism(cfg *Config) (sasl.Mechanism, error) {
	if cfg.SASLUser == "" {
		return nil, errors.New("--kafka-sasl-mechanism needs --kafka-sasl-user")
	}
	switch strings.ToUpper(cfg.SASLMechanism) {
	case "PLAIN":
		return plain.Auth{User: cfg.SASLUser, Pass: cfg.SASLPassword}.AsMechanism(), nil
	case "SCRAM-SHA-256":
		return scram.Auth{User: cfg.SASLUser, Pass: cfg.SASLPassword}.AsSha256Mechanism(), nil
	case "SCRAM-SHA-512":
		return scram.Auth{User: cfg.SASLUser, Pass: cfg.SASLPassword}.AsSha512Mechanism(), nil
	}
	return nil, fmt.Errorf("--kafka-sasl-mechanism %q: want %s", cfg.SASLMechanism, strings.Join(Mechanisms, ", "))
}

// hooks records the last failed connection to a broker, the likely cause
// of drops.
type hooks struct{ s *Sink }

// OnBrokerConnect implements kgo.HookBrokerConnect.
func (h hooks) OnBrokerConnect(meta kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	if err == nil {
		return
	}
	h.s.mu.Lock()
	h.s.brokerErr = err.Error()
	h.s.mu.Unlock()
}

// delivered1 is every record's promise: it counts the record delivered or
// dropped.
func (s *Sink) delivered1(_ *kgo.Record, err error) {
	if err == nil {
		s.delivered.Add(1)
		if s.failing.Load() && s.failing.CompareAndSwap(true, false) {
			s.resumed.Store(true)
		}
		return
	}
	// The cause is set before the drop is counted: notify, which sees the
	// count, must find it.
	if !s.failing.Load() && s.failing.CompareAndSwap(false, true) {
		s.mu.Lock()
		s.cause = s.causeOf(err)
		s.mu.Unlock()
	}
	s.dropped.Add(1)
}

// causeOf words why a record was dropped (s.mu held).
func (s *Sink) causeOf(err error) string {
	var why string
	offline := !s.cfg.Live
	switch {
	case errors.Is(err, kgo.ErrMaxBuffered) && offline && s.ctx.Err() != nil,
		errors.Is(err, context.Canceled) && offline:
		why = fmt.Sprintf("no record was delivered for %v", s.cfg.FlushTimeout)
	case errors.Is(err, kgo.ErrMaxBuffered) && offline && s.wait.Err() != nil:
		why = fmt.Sprintf("interrupted, and %d records are waiting for the cluster already", s.cfg.MaxBuffered)
	case errors.Is(err, kgo.ErrMaxBuffered):
		why = fmt.Sprintf("%d records are waiting for the cluster already", s.cfg.MaxBuffered)
	default:
		why = err.Error()
	}
	if s.brokerErr != "" {
		why += "; last broker connection: " + s.brokerErr
	}
	return why
}

// notify prints the warning of an outage once, and a line when delivery
// resumes after it. It runs in the stream's calls, never concurrently, so
// the lines come with the next record after the event.
func (s *Sink) notify() {
	d := s.dropped.Load()
	if !s.warned && d > s.warnedAt {
		s.mu.Lock()
		cause := s.cause
		s.mu.Unlock()
		fmt.Fprintf(s.stderr, "wirestate: kafka: dropping records (%s); they are counted in kafka_dropped\n", cause)
		s.warned, s.warnedAt = true, d
	}
	if s.warned && s.resumed.Swap(false) {
		fmt.Fprintf(s.stderr, "wirestate: kafka: delivering again; %d records dropped so far\n", d)
		s.warned, s.warnedAt = false, d
	}
}

// watch gives up offline producing when the cluster delivers nothing for
// FlushTimeout while records wait: offline produces wait for room in the
// buffer, and would otherwise wait forever for an absent cluster.
func (s *Sink) watch() {
	t := time.NewTicker(max(s.cfg.FlushTimeout/20, time.Millisecond))
	defer t.Stop()
	last, since := s.delivered.Load(), time.Now()
	for {
		select {
		case <-s.done:
			return
		case now := <-t.C:
			d := s.delivered.Load()
			if d != last || s.cl.BufferedProduceRecords() == 0 {
				last, since = d, now
				continue
			}
			if now.Sub(since) >= s.cfg.FlushTimeout {
				s.cancel()
				return
			}
		}
	}
}

// value returns the bytes format appends to the slab, which the record
// keeps until it is delivered.
func (s *Sink) value(format func([]byte) []byte) []byte {
	if cap(s.slab)-len(s.slab) < 4096 {
		s.slab = make([]byte, 0, 1<<20)
	}
	start := len(s.slab)
	s.slab = format(s.slab)
	return s.slab[start:len(s.slab):len(s.slab)]
}

// tupleKey appends the key of a connection: orig_h:orig_p-resp_h:resp_p.
func tupleKey(b []byte, orig, resp tracker.Endpoint) []byte {
	b = orig.AppendTo(b)
	b = append(b, '-')
	return resp.AppendTo(b)
}

// produce hands one record to the client, never waiting live; offline,
// waiting for room in the buffer first.
func (s *Sink) produce(t int, key, value []byte) {
	if !s.cfg.Live {
		s.waitRoom()
	}
	r := &kgo.Record{Topic: s.topics[t], Key: key, Value: value, Headers: s.headers[t]}
	s.queued.Add(1)
	s.cl.TryProduce(s.ctx, r, s.promise)
	s.notify()
}

// waitRoom waits until fewer than MaxBuffered records are outstanding, or
// the wait is given up (stall, Interrupt). Only the stream's goroutine
// queues records, so outstanding never grows meanwhile.
func (s *Sink) waitRoom() {
	for s.queued.Load()-s.delivered.Load()-s.dropped.Load() >= uint64(s.cfg.MaxBuffered) {
		if s.wait.Err() != nil {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// Needs implements report.Stream: the records of the json format.
func (s *Sink) Needs() report.Needs {
	return report.Needs{History: true, Metrics: true, WarningTimelines: report.MaxJSONTimelines}
}

// Record implements report.Stream: live, a connection record as the
// connection ends.
func (s *Sink) Record(r *tracker.Record) error {
	if !s.cfg.Live {
		return nil
	}
	s.conn(r, &s.opt)
	return nil
}

// conn produces one connection record.
func (s *Sink) conn(r *tracker.Record, opt *report.Options) {
	key := s.value(func(b []byte) []byte { return tupleKey(b, r.Conn.Orig, r.Conn.Resp) })
	v := s.value(func(b []byte) []byte { return report.AppendConnJSON(b, r, opt) })
	s.produce(typConn, key, v)
}

// Finding implements report.Stream.
func (s *Sink) Finding(f *tracker.Finding) error {
	key := s.value(func(b []byte) []byte { return tupleKey(b, f.Orig, f.Resp) })
	v := s.value(func(b []byte) []byte { return report.AppendFindingJSON(b, f, &s.opt) })
	s.produce(typAnomaly, key, v)
	return nil
}

// Stats implements report.Stream.
func (s *Sink) Stats(st *report.Stats) error {
	v, err := report.AppendStatsJSON(nil, st, &s.opt)
	if err != nil {
		return err
	}
	s.produce(typStats, s.sensor, v)
	return nil
}

// Summary implements report.Stream: offline, every connection record,
// then the summary record.
func (s *Sink) Summary(res *report.Result) error {
	opt := s.opt
	opt.Transitions = res.Show.Transitions
	if !s.cfg.Live {
		for i := range res.Records {
			s.conn(&res.Records[i], &opt)
		}
	}
	v := s.value(func(b []byte) []byte { return report.AppendSummaryJSON(b, res, &opt) })
	s.produce(typSummary, s.sensor, v)
	return nil
}

// Close implements report.Stream: it flushes for at most FlushTimeout,
// drops what is left, closes the client and says on stderr what was
// delivered and what was not.
func (s *Sink) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	close(s.done) // the flush has its own deadline
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.FlushTimeout)
	err := s.cl.Flush(ctx)
	cancel()
	left := uint64(s.cl.BufferedProduceRecords())
	s.cancel() // fails what is still buffered
	s.cl.Close()
	// Closing fails the records still buffered; their promises may still
	// be on their way.
	for end := time.Now().Add(time.Second); s.delivered.Load()+s.dropped.Load() < s.queued.Load() && time.Now().Before(end); {
		time.Sleep(time.Millisecond)
	}
	s.notify()
	delivered, dropped := s.delivered.Load(), s.dropped.Load()
	if dropped == 0 {
		return nil
	}
	fmt.Fprintf(s.stderr, "wirestate: kafka: %d records delivered, %d not delivered", delivered, dropped)
	if err != nil {
		fmt.Fprintf(s.stderr, " (%d of them left in the buffer at the flush deadline, %v)", left, s.cfg.FlushTimeout)
	}
	fmt.Fprintln(s.stderr)
	return nil
}

// Dropped implements report.DropCounter: the records dropped so far.
func (s *Sink) Dropped() uint64 { return s.dropped.Load() }

// Delivered returns the records the cluster acknowledged so far.
func (s *Sink) Delivered() uint64 { return s.delivered.Load() }
