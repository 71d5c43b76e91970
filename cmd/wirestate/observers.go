package main

import (
	"slices"

	"github.com/wirestate/wirestate/tracker"
)

// detectorKinds lists every finding kind, each of which has a --no-KIND flag.
func detectorKinds() []tracker.AnomalyKind {
	return slices.Collect(tracker.AllKinds())
}
