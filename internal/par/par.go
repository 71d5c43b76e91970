// Package par holds the small pieces of parallelism the pipeline and the
// report writers share.
package par

// Halves runs fn over the two halves of [0, n), the first on a goroutine
// of its own, and returns when both are done: part is 0 or 1.
func Halves(n int, fn func(part, from, to int)) {
	done := make(chan struct{})
	go func() { defer close(done); fn(0, 0, n/2) }()
	fn(1, n/2, n)
	<-done
}
