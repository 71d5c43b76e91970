package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
)

// communityIDs runs wirestate on capture with args and returns the
// community_id of every connection by uid, from the JSON conn records and
// from conn.log's column, and of every per-connection finding.
func communityIDs(t *testing.T, capture string, args ...string) (jsonIDs, zeekIDs, findingIDs map[string]string) {
	t.Helper()
	out := func(format string) []byte {
		var stdout, stderr bytes.Buffer
		a := append([]string{"-r", capture, "--format", format}, args...)
		if code := run(a, &stdout, &stderr); code != 0 {
			t.Fatalf("%v: exit %d: %s", a, code, stderr.String())
		}
		return stdout.Bytes()
	}
	jsonIDs, zeekIDs, findingIDs = map[string]string{}, map[string]string{}, map[string]string{}
	lines := jsonLines(t, out("json"))
	for _, l := range lines["conn"] {
		var r struct {
			UID         string
			CommunityID string `json:"community_id"`
		}
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		jsonIDs[r.UID] = r.CommunityID
	}
	for _, l := range lines["anomaly"] {
		var r struct {
			UID         *string
			CommunityID *string `json:"community_id"`
		}
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		if (r.UID == nil) != (r.CommunityID == nil) {
			t.Errorf("anomaly record with uid %v and community_id %v: want both or neither", r.UID, r.CommunityID)
		}
		if r.UID != nil {
			findingIDs[*r.UID] = *r.CommunityID
		}
	}
	tab, err := parseZeekTable(out("zeek"))
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range tab.rows {
		zeekIDs[row["uid"]] = row["community_id"]
	}
	return jsonIDs, zeekIDs, findingIDs
}

// TestCommunityIDOutputs checks that JSON conn and anomaly records and
// conn.log carry the same Community ID for a connection, that the
// connections of a capture get distinct IDs, and that --community-id-seed
// changes every one of them.
func TestCommunityIDOutputs(t *testing.T) {
	const capture = "../../pcaps/abortive-close-server.pcap"
	j0, z0, f0 := communityIDs(t, capture)
	j7, z7, _ := communityIDs(t, capture, "--community-id-seed", "7")
	if len(j0) < 3 {
		t.Fatalf("only %d connections", len(j0))
	}
	if fmt.Sprint(j0) != fmt.Sprint(z0) {
		t.Errorf("JSON and conn.log disagree:\n json %v\n zeek %v", j0, z0)
	}
	if fmt.Sprint(j7) != fmt.Sprint(z7) {
		t.Errorf("with a seed, JSON and conn.log disagree:\n json %v\n zeek %v", j7, z7)
	}
	if len(f0) == 0 {
		t.Error("no per-connection finding")
	}
	for uid, id := range f0 {
		if j0[uid] != id {
			t.Errorf("finding on %s has community_id %s, its conn record %s", uid, id, j0[uid])
		}
	}
	seen := map[string]bool{}
	for uid, id := range j0 {
		if len(id) != 30 || id[:2] != "1:" {
			t.Errorf("%s: community_id %q", uid, id)
		}
		if seen[id] {
			t.Errorf("%s: community_id %s repeated", uid, id)
		}
		seen[id] = true
		if j7[uid] == id {
			t.Errorf("%s: the seed did not change community_id %s", uid, id)
		}
	}
}
