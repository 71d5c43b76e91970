package main

import (
	"slices"

	"github.com/wirestate/wirestate/tracker"
	"github.com/wirestate/wirestate/tracker/detect"
)

// observers returns the detectors to run in each shard.
func observers(fl *Flags) func(shard int, emit func(*tracker.Finding)) []tracker.Observer {
	return detect.Observers(fl.Detect)
}

// detectorKinds lists every finding kind, each of which has a --no-KIND flag.
func detectorKinds() []tracker.AnomalyKind {
	return slices.Collect(tracker.AllKinds())
}
