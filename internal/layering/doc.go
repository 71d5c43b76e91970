// Package layering holds the test that keeps wirestate's dependencies
// running one way: cmd → pipeline → capture, tracker, report and the
// sinks. It has no code of its own.
package layering
