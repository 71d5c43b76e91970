package kafka

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/wirestate/wirestate/internal/syncbuf"
	"github.com/wirestate/wirestate/report"
	"github.com/wirestate/wirestate/tracker"
)

// hang bounds every wait of these tests: it is no timing assertion, only
// a guard against a test that would otherwise hang.
const hang = 60 * time.Second

// cluster starts an in-process Kafka cluster with the sink's topics (one
// partition each); opts are more options.
func cluster(t *testing.T, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	opts = append(opts, kfake.NumBrokers(1), kfake.SeedTopics(1, "ws.conn", "ws.anomaly", "ws.stats", "ws.summary"))
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// deadAddr returns an address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func finding(port uint16) *tracker.Finding {
	return &tracker.Finding{Kind: tracker.AnomConnectionRefused, Severity: tracker.SevWarning, Time: 1e9,
		UID:     tracker.UID(1000 + uint64(port)),
		Orig:    tracker.Endpoint{Addr: tracker.AddrFromSlice([]byte{10, 0, 0, 1}), Port: port},
		Resp:    tracker.Endpoint{Addr: tracker.AddrFromSlice([]byte{10, 0, 0, 2}), Port: 80},
		Summary: "refused"}
}

// within runs f, failing the test if it has not returned after hang.
func within(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(hang):
		t.Fatalf("%s did not return in %v: the sink stalls", what, hang)
	}
}

// eventually polls cond until it holds, failing the test after hang.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(hang); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("%s: not after %v", what, hang)
		}
	}
}

// consume reads n records of topic from the cluster at addr.
func consume(t *testing.T, addr, topic string, n int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%s: %d of %d records after %v", topic, len(out), n, hang)
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	return out
}

// TestSinkRecords produces an anomaly, a status record and a summary and
// reads them back: values are the json format's objects, keys and headers
// as documented.
func TestSinkRecords(t *testing.T) {
	c := cluster(t)
	defer c.Close()
	addr := c.ListenAddrs()[0]
	var stderr syncbuf.Buffer
	s, err := New(Config{Brokers: []string{addr}, TopicPrefix: "ws", Sensor: "s1", Stderr: &stderr})
	if err != nil {
		t.Fatal(err)
	}
	f := finding(40000)
	f.Orig.Addr = tracker.AddrFromSlice(net.ParseIP("2001:db8::1").To16())
	f.Resp.Addr = tracker.AddrFromSlice(net.ParseIP("2001:db8::2").To16())
	st := &report.Stats{Type: "stats", Packets: 7, Hosts: []report.StatsHost{}}
	res := &report.Result{}
	within(t, "producing", func() {
		s.Finding(f)
		s.Stats(st)
		s.Summary(res)
		s.Close()
	})
	if s.Dropped() != 0 || s.Delivered() != 3 {
		t.Fatalf("delivered %d, dropped %d; want 3, 0 (stderr %q)", s.Delivered(), s.Dropped(), stderr.String())
	}
	opt := &report.Options{Sensor: "s1"}
	statsJSON, _ := report.AppendStatsJSON(nil, st, opt)
	for _, want := range []struct {
		topic, typ, key string
		value           []byte
	}{
		{"ws.anomaly", "anomaly", "[2001:db8::1]:40000-[2001:db8::2]:80", report.AppendFindingJSON(nil, f, opt)},
		{"ws.stats", "stats", "s1", statsJSON},
		{"ws.summary", "summary", "s1", report.AppendSummaryJSON(nil, res, opt)},
	} {
		r := consume(t, addr, want.topic, 1)[0]
		if string(r.Value) != string(want.value) {
			t.Errorf("%s value\n got %s\nwant %s", want.topic, r.Value, want.value)
		}
		if !strings.Contains(string(r.Value), `{"type":"`+want.typ+`","sensor":"s1",`) {
			t.Errorf("%s value %s: no type and sensor first", want.topic, r.Value)
		}
		if string(r.Key) != want.key {
			t.Errorf("%s key %q, want %q", want.topic, r.Key, want.key)
		}
		h := map[string]string{}
		for _, kv := range r.Headers {
			h[kv.Key] = string(kv.Value)
		}
		if len(h) != 2 || h["sensor"] != "s1" || h["type"] != want.typ {
			t.Errorf("%s headers %v, want sensor s1 and type %s", want.topic, h, want.typ)
		}
	}
}

// TestSinkLiveClusterLost loses the cluster in the middle of a live run:
// producing never waits, records past the buffer are dropped and counted,
// a warning names the cause once, and Close gives up at its deadline,
// saying how many records were left undelivered.
func TestSinkLiveClusterLost(t *testing.T) {
	c := cluster(t)
	addr := c.ListenAddrs()[0]
	var stderr syncbuf.Buffer
	s, err := New(Config{Brokers: []string{addr}, TopicPrefix: "ws", Sensor: "s1", Live: true,
		MaxBuffered: 50, FlushTimeout: 500 * time.Millisecond, Stderr: &stderr})
	if err != nil {
		t.Fatal(err)
	}
	within(t, "producing", func() { s.Finding(finding(1)) })
	eventually(t, "the first record delivered", func() bool { return s.Delivered() == 1 })
	c.Close()
	const n = 1000
	within(t, "producing to a lost cluster", func() {
		for i := range n {
			s.Finding(finding(uint16(i)))
		}
	})
	eventually(t, "records dropped", func() bool { return s.Dropped() >= n-50 })
	within(t, "closing", func() { s.Close() })
	out := stderr.String()
	if strings.Count(out, "dropping records") != 1 || !strings.Contains(out, "50 records are waiting for the cluster already") {
		t.Errorf("want one warning naming the full buffer, got:\n%s", out)
	}
	if !strings.Contains(out, "left in the buffer at the flush deadline") {
		t.Errorf("want the undelivered records said at close, got:\n%s", out)
	}
	if got := s.Dropped() + s.Delivered(); got != n+1 {
		t.Errorf("delivered %d + dropped %d = %d, want every record accounted for (%d)", s.Delivered(), s.Dropped(), got, n+1)
	}
}

// flakyListener is a broker's listener that can make the cluster
// unreachable and bring it back: down, it closes every connection and
// refuses new ones.
type flakyListener struct {
	net.Listener
	mu    sync.Mutex
	down  bool
	conns []net.Conn
}

func (l *flakyListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		l.mu.Lock()
		if l.down {
			l.mu.Unlock()
			c.Close()
			continue
		}
		l.conns = append(l.conns, c)
		l.mu.Unlock()
		return c, nil
	}
}

func (l *flakyListener) setDown(down bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.down = down
	if down {
		for _, c := range l.conns {
			c.Close()
		}
		l.conns = nil
	}
}

// TestSinkResumes: when the cluster is unreachable for a while, records
// past the buffer are dropped; when it comes back, delivery resumes by
// itself and a line says so.
func TestSinkResumes(t *testing.T) {
	var fl *flakyListener
	c := cluster(t, kfake.ListenFn(func(network, address string) (net.Listener, error) {
		ln, err := net.Listen(network, address)
		fl = &flakyListener{Listener: ln}
		return fl, err
	}))
	defer c.Close()
	addr := c.ListenAddrs()[0]
	var stderr syncbuf.Buffer
	s, err := New(Config{Brokers: []string{addr}, TopicPrefix: "ws", Sensor: "s1", Live: true,
		MaxBuffered: 10, FlushTimeout: 5 * time.Second, Stderr: &stderr})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	within(t, "producing", func() { s.Finding(finding(1)) })
	eventually(t, "the first record delivered", func() bool { return s.Delivered() == 1 })
	fl.setDown(true)
	within(t, "producing to an unreachable cluster", func() {
		for i := range 100 {
			s.Finding(finding(uint16(i)))
		}
	})
	eventually(t, "records dropped", func() bool { return s.Dropped() >= 90 })
	s.Stats(&report.Stats{Type: "stats"}) // the warning comes with the next record
	if !strings.Contains(stderr.String(), "dropping records") {
		t.Errorf("no warning of the drops: %q", stderr.String())
	}
	fl.setDown(false)
	eventually(t, "delivery resumed", func() bool { return s.Delivered() > 1 })
	eventually(t, "a notice of the resumption", func() bool {
		s.Finding(finding(8))
		return strings.Contains(stderr.String(), "delivering again")
	})
}

// TestSinkOfflineClusterAbsent: offline, producing waits for room in the
// buffer, but an absent cluster is given up after FlushTimeout without a
// delivery: the run completes, every record counted as dropped.
func TestSinkOfflineClusterAbsent(t *testing.T) {
	var stderr syncbuf.Buffer
	s, err := New(Config{Brokers: []string{deadAddr(t)}, TopicPrefix: "ws", Sensor: "s1",
		MaxBuffered: 10, FlushTimeout: 500 * time.Millisecond, Stderr: &stderr})
	if err != nil {
		t.Fatal(err)
	}
	const n = 100
	within(t, "producing and closing", func() {
		for i := range n {
			s.Finding(finding(uint16(i)))
		}
		s.Close()
	})
	if s.Dropped() != n || s.Delivered() != 0 {
		t.Errorf("dropped %d, delivered %d; want %d, 0", s.Dropped(), s.Delivered(), n)
	}
	out := stderr.String()
	if !strings.Contains(out, "dropping records") || !strings.Contains(out, "last broker connection") {
		t.Errorf("want a warning naming the cause, got:\n%s", out)
	}
}

// TestSinkOfflineInterrupt: after SIGINT (Interrupt done), offline
// producing no longer waits for room in the buffer: what does not fit is
// dropped, with the interruption named as the cause.
func TestSinkOfflineInterrupt(t *testing.T) {
	var stderr syncbuf.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	s, err := New(Config{Brokers: []string{deadAddr(t)}, TopicPrefix: "ws", Sensor: "s1",
		MaxBuffered: 10, FlushTimeout: time.Second, Stderr: &stderr, Interrupt: ctx})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	const n = 100
	within(t, "producing and closing", func() {
		for i := range n {
			s.Finding(finding(uint16(i)))
		}
		s.Close()
	})
	if s.Dropped() != n {
		t.Errorf("dropped %d, want %d", s.Dropped(), n)
	}
	if out := stderr.String(); !strings.Contains(out, "interrupted, and 10 records are waiting for the cluster already") ||
		!strings.Contains(out, "10 of them left in the buffer at the flush deadline") {
		t.Errorf("stderr:\n%s", out)
	}
}

// writeCert makes a self-signed certificate for 127.0.0.1 and writes it
// and its key as PEM files in dir.
func writeCert(t *testing.T, dir string) (certFile, keyFile string, cert tls.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kfake"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err = tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, cert
}

// TestSinkTLSAndSASL delivers over TLS (the cluster's certificate trusted
// through CAFile, a client certificate presented) and with each SASL
// mechanism; a wrong password delivers nothing.
func TestSinkTLSAndSASL(t *testing.T) {
	certFile, keyFile, cert := writeCert(t, t.TempDir())
	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	for _, tc := range []struct {
		name      string
		mech      string
		tls       bool
		pass      string
		delivered bool
	}{
		{"tls", "", true, "", true},
		{"plain", "PLAIN", false, "secret", true},
		{"scram-256", "SCRAM-SHA-256", false, "secret", true},
		{"scram-512 over tls", "SCRAM-SHA-512", true, "secret", true},
		{"wrong password", "SCRAM-SHA-256", false, "guess", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opts []kfake.Opt
			if tc.tls {
				opts = append(opts, kfake.TLS(&tls.Config{Certificates: []tls.Certificate{cert},
					ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}))
			}
			if tc.mech != "" {
				opts = append(opts, kfake.EnableSASL(), kfake.Superuser(tc.mech, "ws", "secret"))
			}
			c := cluster(t, opts...)
			defer c.Close()
			cfg := Config{Brokers: c.ListenAddrs(), TopicPrefix: "ws", Sensor: "s1",
				SASLMechanism: tc.mech, SASLUser: "ws", SASLPassword: tc.pass, FlushTimeout: time.Second}
			if tc.tls {
				cfg.TLS, cfg.CAFile, cfg.CertFile, cfg.KeyFile = true, certFile, certFile, keyFile
			}
			s, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			within(t, "producing and closing", func() {
				s.Finding(finding(1))
				s.Close()
			})
			if got := s.Delivered() == 1; got != tc.delivered {
				t.Errorf("delivered %d, dropped %d; want delivered: %v", s.Delivered(), s.Dropped(), tc.delivered)
			}
		})
	}
	if _, err := New(Config{Brokers: []string{"x:1"}, SASLMechanism: "GSSAPI", SASLUser: "u"}); err == nil {
		t.Error("an unknown SASL mechanism is accepted")
	}
}
