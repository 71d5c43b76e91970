// Package manifest is the schema of pcaps/manifest.json: what each sample
// capture must show. The lab's checker (pcaps/lab/peer), which verifies the
// claims on the packets, and the command's tests, which verify them on
// wirestate's analysis, both read it through this package. It uses the
// standard library only.
package manifest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
)

// Manifest lists the sample captures.
type Manifest struct {
	Captures []Capture `json:"captures"`
}

// Capture is one sample capture and what it must show.
type Capture struct {
	// File is the capture's name in pcaps/; Scenario the lab scenario
	// that records it.
	File     string `json:"file"`
	Scenario string `json:"scenario"`
	// Description says what the scenario does, in prose.
	Description string `json:"description"`
	// Vantage is where tcpdump ran: "client" or "server".
	Vantage string `json:"vantage"`
	// Snaplen is the capture's snapshot length; IP its version, "4" or "6".
	Snaplen int    `json:"snaplen"`
	IP      string `json:"ip"`
	// ConnCount is the exact number of connections, ConnCountMin the
	// least; at most one is set.
	ConnCount    *int `json:"conn_count"`
	ConnCountMin *int `json:"conn_count_min"`
	// Conns are claims about chosen connections.
	Conns []Conn `json:"conns"`
	// Anomalies gives, per finding kind, the least number of findings.
	Anomalies map[string]int `json:"anomalies"`
	// Clean, when true, forbids any warning or critical finding.
	Clean *bool `json:"clean"`
}

// IsClean reports whether the capture must have no warning or critical
// finding.
func (c *Capture) IsClean() bool { return c.Clean != nil && *c.Clean }

// Conn is what one connection must show.
type Conn struct {
	// Match chooses the connection.
	Match Match `json:"match"`
	// OrigState and RespState are the endpoints' final states ("" for no
	// claim).
	OrigState string `json:"orig_state"`
	RespState string `json:"resp_state"`
	// Partial, when set, says whether the connection was picked up
	// mid-stream.
	Partial *bool `json:"partial"`
	// Transitions is a subsequence of the transitions ("orig:SYN_SENT").
	Transitions []string `json:"transitions"`
	// Anomalies must be among the connection's findings; ForbidAnomalies
	// must not.
	Anomalies       []string `json:"anomalies"`
	ForbidAnomalies []string `json:"forbid_anomalies"`
}

// Match chooses a connection: the Nth (from 0, in order of appearance) of
// those whose given fields all match.
type Match struct {
	OrigH string  `json:"orig_h,omitempty"`
	OrigP *uint16 `json:"orig_p,omitempty"`
	RespH string  `json:"resp_h,omitempty"`
	RespP *uint16 `json:"resp_p,omitempty"`
	Nth   int     `json:"nth"`
}

// Matches reports whether a connection with these endpoints passes every
// given field of m (Nth aside).
func (m *Match) Matches(origH string, origP uint16, respH string, respP uint16) bool {
	return (m.OrigH == "" || m.OrigH == origH) && (m.OrigP == nil || *m.OrigP == origP) &&
		(m.RespH == "" || m.RespH == respH) && (m.RespP == nil || *m.RespP == respP)
}

// String describes m for messages.
func (m Match) String() string {
	b, _ := json.Marshal(m)
	return string(b)
}

// Load reads and parses a manifest; unknown fields are errors, so a
// misspelt claim cannot pass unchecked.
func Load(path string) (*Manifest, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(m.Captures) == 0 {
		return nil, fmt.Errorf("%s lists no capture", path)
	}
	return &m, nil
}
