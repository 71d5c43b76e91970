package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/wirestate/wirestate/internal/syncbuf"
)

// kafkaHang bounds the waits of the Kafka tests: a guard against hangs,
// not a timing assertion.
const kafkaHang = 60 * time.Second

var kafkaTypes = []string{"conn", "anomaly", "stats", "summary"}

// jsonLines splits --format json output into its lines by record type.
func jsonLines(t *testing.T, out []byte) map[string][]string {
	t.Helper()
	byType := map[string][]string{}
	for line := range strings.SplitSeq(strings.TrimSuffix(string(out), "\n"), "\n") {
		var head struct{ Type string }
		if err := json.Unmarshal([]byte(line), &head); err != nil {
			t.Fatalf("not JSON: %q: %v", line, err)
		}
		byType[head.Type] = append(byType[head.Type], line)
	}
	return byType
}

// consumeAll reads want[type] records of every topic PREFIX.type.
func consumeAll(t *testing.T, addr, prefix string, want map[string]int) map[string][]*kgo.Record {
	t.Helper()
	var topics []string
	for _, typ := range kafkaTypes {
		topics = append(topics, prefix+"."+typ)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), kafkaHang)
	defer cancel()
	got := map[string][]*kgo.Record{}
	n, total := 0, 0
	for _, k := range want {
		total += k
	}
	for n < total {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records in %v", n, total, kafkaHang)
		}
		fs.EachRecord(func(r *kgo.Record) {
			typ := strings.TrimPrefix(r.Topic, prefix+".")
			got[typ] = append(got[typ], r)
			n++
		})
	}
	// Nothing more than expected: one more short poll.
	short, cancel2 := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel2()
	cl.PollFetches(short).EachRecord(func(r *kgo.Record) {
		t.Errorf("unexpected extra record on %s: %s", r.Topic, r.Value)
	})
	return got
}

// tupleKey is the key the Kafka sink gives a conn or anomaly record.
func tupleKey(t *testing.T, line string) string {
	var r struct {
		OrigH string `json:"orig_h"`
		OrigP int    `json:"orig_p"`
		RespH string `json:"resp_h"`
		RespP int    `json:"resp_p"`
	}
	if err := json.Unmarshal([]byte(line), &r); err != nil {
		t.Fatal(err)
	}
	ep := func(h string, p int) string {
		if strings.Contains(h, ":") {
			return fmt.Sprintf("[%s]:%d", h, p)
		}
		return fmt.Sprintf("%s:%d", h, p)
	}
	return ep(r.OrigH, r.OrigP) + "-" + ep(r.RespH, r.RespP)
}

// TestKafkaMatchesJSON runs -r on bundled captures with --kafka to an
// in-process cluster beside --format json, and checks that every topic
// holds exactly the JSON lines of its type, in order (one partition), with
// the documented keys and headers.
func TestKafkaMatchesJSON(t *testing.T) {
	caps, _ := filepath.Glob("../../pcaps/*.pcap")
	if len(caps) < 10 {
		t.Fatalf("only %d bundled captures", len(caps))
	}
	for _, capture := range caps {
		t.Run(filepath.Base(capture), func(t *testing.T) {
			t.Parallel()
			c, err := kfake.NewCluster(kfake.NumBrokers(1),
				kfake.SeedTopics(1, "fleet.conn", "fleet.anomaly", "fleet.stats", "fleet.summary"))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			addr := c.ListenAddrs()[0]
			var stdout, stderr bytes.Buffer
			args := []string{"-r", capture, "--format", "json", "--sensor", "edge-1",
				"--kafka", addr, "--kafka-topic", "fleet"}
			if code := run(args, &stdout, &stderr); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			if stderr.Len() > 0 {
				t.Errorf("stderr: %s", stderr.String())
			}
			lines := jsonLines(t, stdout.Bytes())
			if len(lines["summary"]) != 1 || len(lines["conn"]) == 0 {
				t.Fatalf("want a summary and conns in the JSON output: %v", lines)
			}
			want := map[string]int{}
			for typ, ls := range lines {
				want[typ] = len(ls)
			}
			got := consumeAll(t, addr, "fleet", want)
			for _, typ := range kafkaTypes {
				if len(got[typ]) != len(lines[typ]) {
					t.Fatalf("%s: %d records in Kafka, %d in JSON", typ, len(got[typ]), len(lines[typ]))
				}
				for i, r := range got[typ] {
					if string(r.Value) != lines[typ][i] {
						t.Errorf("%s record %d:\nkafka %s\njson  %s", typ, i, r.Value, lines[typ][i])
					}
					wantKey := "edge-1"
					if typ == "conn" || typ == "anomaly" {
						wantKey = tupleKey(t, lines[typ][i])
					}
					if string(r.Key) != wantKey {
						t.Errorf("%s record %d: key %q, want %q", typ, i, r.Key, wantKey)
					}
					if len(r.Headers) != 2 || r.Headers[0].Key != "sensor" || string(r.Headers[0].Value) != "edge-1" ||
						r.Headers[1].Key != "type" || string(r.Headers[1].Value) != typ {
						t.Errorf("%s record %d: headers %v", typ, i, r.Headers)
					}
				}
			}
		})
	}
}

// TestKafkaClusterAbsent: with no cluster at the address, an offline run
// still completes (within its flush timeout, no hang), warns, and counts
// every record it could not deliver in the JSON summary.
func TestKafkaClusterAbsent(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var stdout, stderr bytes.Buffer
	args := []string{"-r", "../../pcaps/accept-queue-overflow-rst.pcap", "--format", "json",
		"--kafka", addr, "--kafka-flush-timeout", "300ms"}
	done := make(chan int, 1)
	go func() { done <- run(args, &stdout, &stderr) }()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
	case <-time.After(kafkaHang):
		t.Fatalf("the run did not finish in %v without a cluster", kafkaHang)
	}
	lines := jsonLines(t, stdout.Bytes())
	var sum struct {
		KafkaDropped int `json:"kafka_dropped"`
	}
	json.Unmarshal([]byte(lines["summary"][0]), &sum)
	// Every record the JSON output has went to Kafka too, and was lost.
	if want := len(lines["conn"]) + len(lines["anomaly"]) + 1; sum.KafkaDropped != want {
		t.Errorf("summary kafka_dropped %d, want %d", sum.KafkaDropped, want)
	}
	notDelivered := fmt.Sprintf("wirestate: kafka: 0 records delivered, %d not delivered", sum.KafkaDropped)
	for _, w := range []string{"wirestate: kafka: dropping records", notDelivered} {
		if !strings.Contains(stderr.String(), w) {
			t.Errorf("stderr lacks %q:\n%s", w, stderr.String())
		}
	}
}

// TestKafkaFlags checks the validation of the Kafka flags.
func TestKafkaFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--kafka", ","}, "no broker"},
		{[]string{"--kafka", "k:9092", "--kafka-topic", ""}, "--kafka-topic"},
		{[]string{"--kafka", "k:9092", "--kafka-flush-timeout", "0s"}, "--kafka-flush-timeout"},
		{[]string{"--kafka", "k:9092", "--kafka-sasl-mechanism", "GSSAPI", "--kafka-sasl-user", "u"}, "want PLAIN"},
		{[]string{"--kafka", "k:9092", "--kafka-sasl-mechanism", "PLAIN"}, "needs --kafka-sasl-user"},
		{[]string{"--kafka", "k:9092", "--kafka-tls-cert", "c.pem"}, "go together"},
		{[]string{"--kafka", "k:9092", "--kafka-tls-ca", "/nonexistent.pem"}, "--kafka-tls-ca"},
	} {
		var stdout, stderr bytes.Buffer
		args := append([]string{"-r", "../../pcaps/refused.pcap"}, tc.args...)
		if code := run(args, &stdout, &stderr); code == 0 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want an error with %q", tc.args, code, stderr.String(), tc.want)
		}
	}
}

// TestKafkaLive captures live on the loopback interface (root) with
// --kafka beside --format json while a few connections come and go:
// connection records are produced as the connections end, status records
// as they are written, and the conn records in Kafka are exactly those of
// the final JSON report.
func TestKafkaLive(t *testing.T) {
	if testing.Short() {
		t.Skip("live capture skipped in -short mode")
	}
	if os.Geteuid() != 0 {
		t.Skip("live capture needs root")
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1),
		kfake.SeedTopics(1, "live.conn", "live.anomaly", "live.stats", "live.summary"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	addr := c.ListenAddrs()[0]
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(conn, conn); conn.Close() }()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	var stdout bytes.Buffer
	var stderr syncbuf.Buffer
	args := []string{"-i", "lo", "--format", "json", "--sensor", "live-1", "--stats-interval", "300ms",
		"--msl", "100ms", "--duration", "4s", "--kafka", addr, "--kafka-topic", "live", "tcp port " + port}
	done := make(chan int, 1)
	go func() { done <- run(args, &stdout, &stderr) }()
	for end := time.Now().Add(kafkaHang); !strings.Contains(stderr.String(), "listening on"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("not listening after %v: %s", kafkaHang, stderr.String())
		}
	}
	const n = 5
	for range n {
		conn, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		conn.Write([]byte("ping"))
		io.ReadFull(conn, make([]byte, 4))
		conn.Close()
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
	case <-time.After(kafkaHang):
		t.Fatalf("the live run did not end: %s", stderr.String())
	}
	lines := jsonLines(t, stdout.Bytes())
	if len(lines["conn"]) != n || len(lines["stats"]) == 0 {
		t.Fatalf("JSON output: %d conn records (want %d), %d stats records", len(lines["conn"]), n, len(lines["stats"]))
	}
	want := map[string]int{}
	for typ, ls := range lines {
		want[typ] = len(ls)
	}
	got := consumeAll(t, addr, "live", want)
	for _, typ := range kafkaTypes {
		var g []string
		for _, r := range got[typ] {
			g = append(g, string(r.Value))
		}
		if typ == "conn" {
			// Produced as the connections ended; the report sorts them.
			slices.Sort(g)
			lines[typ] = slices.Sorted(slices.Values(lines[typ]))
		}
		if !slices.Equal(g, lines[typ]) {
			t.Errorf("%s records in Kafka:\n%s\nin the JSON output:\n%s", typ, strings.Join(g, "\n"), strings.Join(lines[typ], "\n"))
		}
	}
}

// TestKafkaConfig checks what the flags make of the sink's configuration:
// brokers, the sensor, the password from the environment.
func TestKafkaConfig(t *testing.T) {
	t.Setenv(saslPasswordEnv, "from-env")
	fl, err := parseFlags([]string{"-r", "x.pcap", "--sensor", "edge-2", "--kafka", " k1:9092, k2:9092 ,",
		"--kafka-sasl-mechanism", "scram-sha-512", "--kafka-sasl-user", "ws"})
	if err != nil {
		t.Fatal(err)
	}
	kc, err := kafkaConfig(fl, false, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(kc.Brokers, []string{"k1:9092", "k2:9092"}) || kc.Sensor != "edge-2" || kc.TopicPrefix != "wirestate" ||
		kc.SASLMechanism != "SCRAM-SHA-512" || kc.SASLPassword != "from-env" || kc.FlushTimeout != 10*time.Second {
		t.Errorf("config %+v", kc)
	}
	fl.Kafka.SASLPassword = "flag"
	if kc, _ := kafkaConfig(fl, false, io.Discard); kc.SASLPassword != "flag" {
		t.Errorf("--kafka-sasl-password does not win over the environment: %q", kc.SASLPassword)
	}
	fl, _ = parseFlags([]string{"-r", "x.pcap"})
	if kc, err := kafkaConfig(fl, false, io.Discard); kc != nil || err != nil {
		t.Errorf("without --kafka: %v, %v", kc, err)
	}
	if h, _ := os.Hostname(); h != "" && fl.Sensor != h {
		t.Errorf("default sensor %q, want the host name %q", fl.Sensor, h)
	}
}

// TestKafkaAloneMeasures: with --kafka the only output of records (the
// text report on stdout), Kafka's conn records still carry everything a
// --format json run writes, data round trips and losses included: the
// sink asks the tracker for full measuring itself.
func TestKafkaAloneMeasures(t *testing.T) {
	capture := "../../pcaps/mixed.pcap"
	var js, stderr bytes.Buffer
	if code := run([]string{"-r", capture, "--format", "json", "--sensor", "edge-1"}, &js, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	lines := jsonLines(t, js.Bytes())
	if !strings.Contains(strings.Join(lines["conn"], "\n"), `"rtt_to_resp":{`) {
		t.Fatal("no conn record of the JSON run has a data round trip: the capture proves nothing")
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "fleet.conn", "fleet.anomaly", "fleet.stats", "fleet.summary"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	addr := c.ListenAddrs()[0]
	var text bytes.Buffer
	stderr.Reset()
	if code := run([]string{"-r", capture, "--sensor", "edge-1", "--kafka", addr, "--kafka-topic", "fleet"}, &text, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	got := consumeAll(t, addr, "fleet", map[string]int{"conn": len(lines["conn"]), "anomaly": len(lines["anomaly"]),
		"stats": len(lines["stats"]), "summary": len(lines["summary"])})
	if len(got["conn"]) != len(lines["conn"]) {
		t.Fatalf("%d conn records in Kafka, %d in JSON", len(got["conn"]), len(lines["conn"]))
	}
	for i, r := range got["conn"] {
		if string(r.Value) != lines["conn"][i] {
			t.Errorf("conn record %d:\nkafka %s\njson  %s", i, r.Value, lines["conn"][i])
		}
	}
}
