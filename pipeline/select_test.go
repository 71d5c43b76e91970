package pipeline

import (
	"fmt"
	"testing"

	"github.com/wirestate/wirestate/tracker"
)

func TestSelectionFiltersFoldedByVictim(t *testing.T) {
	web := tracker.Endpoint{Addr: tracker.AddrFrom4([4]byte{10, 0, 0, 2}), Port: 80}
	db := tracker.Endpoint{Addr: tracker.AddrFrom4([4]byte{10, 0, 0, 3}), Port: 5432}
	for _, tc := range []struct {
		flags struct {
			Conns, Hosts []string
			Ports        []uint
		}
		want []tracker.Endpoint
	}{
		{struct {
			Conns, Hosts []string
			Ports        []uint
		}{}, []tracker.Endpoint{web, db}},
		{struct {
			Conns, Hosts []string
			Ports        []uint
		}{Hosts: []string{"10.0.0.2"}}, []tracker.Endpoint{web}},
		{struct {
			Conns, Hosts []string
			Ports        []uint
		}{Ports: []uint{5432}}, []tracker.Endpoint{db}},
		{struct {
			Conns, Hosts []string
			Ports        []uint
		}{Hosts: []string{"10.0.0.2"}, Ports: []uint{5432}}, nil},
		{struct {
			Conns, Hosts []string
			Ports        []uint
		}{Hosts: []string{"100.64.0.9"}}, nil}, // a source: not known for folded members
		{struct {
			Conns, Hosts []string
			Ports        []uint
		}{Conns: []string{"C4fG7hK2mQ9x"}}, nil},
	} {
		sel, err := NewSelection(tc.flags.Conns, tc.flags.Hosts, tc.flags.Ports)
		if err != nil {
			t.Fatal(err)
		}
		got := sel.filterFolded([]tracker.Folded{{Victim: web, Count: 5}, {Victim: db, Count: 7}})
		var victims []tracker.Endpoint
		for _, f := range got {
			victims = append(victims, f.Victim)
		}
		if fmt.Sprint(victims) != fmt.Sprint(tc.want) {
			t.Errorf("hosts %v ports %v conns %v: kept %v, want %v", tc.flags.Hosts, tc.flags.Ports, tc.flags.Conns, victims, tc.want)
		}
	}
}
