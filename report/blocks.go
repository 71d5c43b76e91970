package report

// block is how many rows one formatter turns into text at a time.
const block = 512

// inBlocks writes rows 0 to n-1 in order. Below a few blocks one formatter
// does it all; above, two goroutines format alternate blocks, each with a
// formatter of its own from newFormat (which appends row i to buf), while
// the caller writes the finished blocks in order. A report of a million
// connections spends most of its time formatting; this puts the second
// core on it. write's first error stops everything and is returned.
func inBlocks(n int, newFormat func() func(buf []byte, i int) []byte, write func([]byte) error) error {
	if n < 4*block {
		format := newFormat()
		var buf []byte
		for i := range n {
			buf = format(buf[:0], i)
			if err := write(buf); err != nil {
				return err
			}
		}
		return nil
	}
	const workers = 2
	blocks := (n + block - 1) / block
	var out, free [workers]chan []byte
	stop := make(chan struct{})
	defer close(stop)
	for w := range workers {
		out[w], free[w] = make(chan []byte, 1), make(chan []byte, 2)
		free[w] <- nil
		free[w] <- nil
		go func() {
			format := newFormat()
			for b := w; b < blocks; b += workers {
				var buf []byte
				select {
				case buf = <-free[w]:
				case <-stop:
					return
				}
				buf = buf[:0]
				for i := b * block; i < min(n, (b+1)*block); i++ {
					buf = format(buf, i)
				}
				select {
				case out[w] <- buf:
				case <-stop:
					return
				}
			}
		}()
	}
	for b := range blocks {
		buf := <-out[b%workers]
		if err := write(buf); err != nil {
			return err
		}
		free[b%workers] <- buf
	}
	return nil
}
