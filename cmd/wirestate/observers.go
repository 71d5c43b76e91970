package main

import (
	"github.com/wirestate/wirestate/tracker/detect"
)

// detectorKinds lists every finding kind, each of which has a --no-KIND flag.
func detectorKinds() []string {
	var out []string
	for _, s := range detect.Registry {
		for _, k := range s.Kinds {
			out = append(out, k.String())
		}
	}
	for _, k := range detect.AggregateKinds {
		out = append(out, k.String())
	}
	return out
}
