package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/wirestate/wirestate/report"
)

// schemas compiles the published JSON Schemas of docs/schema, by record
// type.
func schemas(t *testing.T) map[string]*jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	out := map[string]*jsonschema.Schema{}
	for _, typ := range kafkaTypes {
		path, err := filepath.Abs("../../docs/schema/" + typ + ".schema.json")
		if err != nil {
			t.Fatal(err)
		}
		s, err := c.Compile(path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out[typ] = s
	}
	return out
}

// validate checks one JSON line against the schema of its type.
func validate(schemas map[string]*jsonschema.Schema, line string) error {
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(line))
	if err != nil {
		return err
	}
	var head struct{ Type string }
	json.Unmarshal([]byte(line), &head)
	s := schemas[head.Type]
	if s == nil {
		return &json.UnsupportedValueError{Str: "no schema for type " + head.Type}
	}
	return s.Validate(v)
}

// TestSchemas validates every record of --format json on every bundled
// capture (with transitions, and with every finding) against the
// published schemas, and a status record made here, which only a live
// run writes.
func TestSchemas(t *testing.T) {
	sch := schemas(t)
	caps, _ := filepath.Glob("../../pcaps/*.pcap")
	if len(caps) < 10 {
		t.Fatalf("only %d bundled captures", len(caps))
	}
	seen := map[string]int{}
	for _, capture := range caps {
		for _, extra := range [][]string{nil, {"--timeline", "all"}, {"tcp"}} {
			var stdout, stderr bytes.Buffer
			args := append([]string{"-r", capture, "--format", "json"}, extra...)
			if code := run(args, &stdout, &stderr); code != 0 {
				t.Fatalf("%v: exit %d: %s", args, code, stderr.String())
			}
			for typ, lines := range jsonLines(t, stdout.Bytes()) {
				for _, line := range lines {
					seen[typ]++
					if err := validate(sch, line); err != nil {
						t.Errorf("%s %v: %v\n%s", filepath.Base(capture), extra, err, line)
					}
				}
			}
		}
	}
	st := &report.Stats{Type: "stats", TS: 1.5, Final: true, Elapsed: 2, Packets: 10, TCPPackets: 9,
		Connections: 3, Emitted: 2, Hosts: []report.StatsHost{{Host: "10.0.0.2", States: map[string]int{"LISTEN": 1, "ESTABLISHED": 2}}},
		Findings: map[string]uint64{"syn-flood": 1}, KafkaDropped: 4, Engine: "afpacket", Freezes: 1,
		Workers: []report.StatsWorker{{Packets: 4, TCPPackets: 4, Received: 4, Connections: 1}, {Packets: 6, TCPPackets: 5, Received: 7, Dropped: 1, Freezes: 1, Connections: 2}}}
	for _, s := range []*report.Stats{st, {Type: "stats", Hosts: []report.StatsHost{}, Findings: map[string]uint64{}}} {
		b, err := report.AppendStatsJSON(nil, s, &report.Options{Sensor: "edge-1"})
		if err != nil {
			t.Fatal(err)
		}
		seen["stats"]++
		if err := validate(sch, string(b)); err != nil {
			t.Errorf("stats: %v\n%s", err, b)
		}
	}
	for _, typ := range kafkaTypes {
		if seen[typ] == 0 {
			t.Errorf("no %s record validated", typ)
		}
	}
	if seen["conn"] < 100 || seen["anomaly"] < 20 {
		t.Errorf("too few records validated: %v", seen)
	}
}

// TestSchemasStrict checks that the schemas reject a renamed, a
// mistyped, a missing and an unknown field of real records.
func TestSchemasStrict(t *testing.T) {
	sch := schemas(t)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-r", "../../pcaps/accept-queue-overflow-rst.pcap", "--format", "json"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	lines := jsonLines(t, stdout.Bytes())
	for _, tc := range []struct {
		typ, from, to string
	}{
		{"conn", `"orig_p":`, `"orig_port":`},
		{"conn", `"resp_bytes":`, `"resp_bytes":"1","x":`},
		{"conn", `"orig_state":"`, `"orig_state":"x`},
		{"conn", `"sensor":`, `"sensors":`},
		{"conn", `"community_id":"1:`, `"community_id":"2:`},
		{"anomaly", `"community_id":"1:`, `"community_id":"1:x`},
		{"anomaly", `"severity":"`, `"severity":"x`},
		{"anomaly", `"hint":`, `"hints":`},
		{"anomaly", `"ts":`, `"ts":"now","t":`},
		{"summary", `"hosts_omitted":`, `"hosts_omited":`},
		{"summary", `"packets":`, `"packets":-1,"p":`},
	} {
		line := lines[tc.typ][0]
		if err := validate(sch, line); err != nil {
			t.Fatalf("the unmutated %s record fails: %v", tc.typ, err)
		}
		bad := strings.Replace(line, tc.from, tc.to, 1)
		if bad == line {
			t.Fatalf("%s record has no %s", tc.typ, tc.from)
		}
		if err := validate(sch, bad); err == nil {
			t.Errorf("%s with %s -> %s passes the schema", tc.typ, tc.from, tc.to)
		}
	}
}
