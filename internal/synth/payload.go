package synth

import (
	"fmt"
	"strings"
	"sync"
)

// payloadText holds one complete application message of every length
// from lo to hi bytes, back to back, with prefix sums so that the checksum
// of any message is O(1). Every data segment carries one whole message, so
// that protocol dissectors see coherent HTTP even in truncated captures.
type payloadText struct {
	buf    []byte
	prefix []uint64 // prefix[i] = sum of the big-endian 16-bit words buf[0:2i]
	offs   []uint32 // offs[n-lo] is the offset of the message of length n
	lo, hi int
}

// maxPayload is the largest segment payload generated (an IPv4 MSS of
// 1460 less the 12-byte timestamp option).
const maxPayload = 1448

var (
	textOnce   sync.Once
	clientText *payloadText
	serverText *payloadText
)

func texts() (*payloadText, *payloadText) {
	textOnce.Do(func() {
		clientText = buildText(maxPayload, request)
		serverText = buildText(maxPayload, response)
	})
	return clientText, serverText
}

// request returns an HTTP/1.1 GET request of exactly n bytes, or of the
// smallest possible length if n is smaller.
func request(n int) string {
	const tail = " HTTP/1.1\r\nHost: svc.example.internal\r\nUser-Agent: wirestate-synth/1.0\r\nAccept: */*\r\n\r\n"
	path := fmt.Sprintf("/api/v1/items/%d", 1000+n*37%9000)
	pad := n - len("GET ") - len(path) - len("?q=") - len(tail)
	return "GET " + path + "?q=" + filler(max(0, pad)) + tail
}

// response returns an HTTP/1.1 response of exactly n bytes (headers and a
// Content-Length body), or of the smallest possible length if n is smaller.
func response(n int) string {
	hdr := func(l, pad int) string {
		return fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nServer: synth/%s1\r\nContent-Length: %d\r\n\r\n",
			strings.Repeat("0", pad), l)
	}
	l := max(0, n-len(hdr(0, 0)))
	for l > 0 && len(hdr(l, 0))+l > n {
		l--
	}
	// When the length's digit count jumps, pad the Server header.
	pad := max(0, n-len(hdr(l, 0))-l)
	return hdr(l, pad) + filler(l)
}

// filler returns n bytes of lowercase text lines.
func filler(n int) string {
	const line = "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz\n"
	var sb strings.Builder
	sb.Grow(n)
	for sb.Len() < n {
		sb.WriteString(line[:min(len(line), n-sb.Len())])
	}
	return sb.String()
}

// buildText lays out msg(n) for every n up to hi and computes the prefix
// sums. lo is the length of the smallest message msg makes.
func buildText(hi int, msg func(int) string) *payloadText {
	t := &payloadText{lo: len(msg(0)), hi: hi}
	for n := t.lo; n <= hi; n++ {
		m := msg(n)
		if len(m) != n {
			panic(fmt.Sprintf("synth: message of %d bytes for length %d", len(m), n))
		}
		t.offs = append(t.offs, uint32(len(t.buf)))
		t.buf = append(t.buf, m...)
	}
	t.prefix = make([]uint64, len(t.buf)/2+1)
	for i := 0; i+1 < len(t.buf); i += 2 {
		t.prefix[i/2+1] = t.prefix[i/2] + uint64(t.buf[i])<<8 + uint64(t.buf[i+1])
	}
	return t
}

// message returns the offset and the length of the message closest to n
// bytes long.
func (t *payloadText) message(n int) (off, length int) {
	n = min(max(n, t.lo), t.hi)
	return int(t.offs[n-t.lo]), n
}

// evenSum returns the 16-bit-word sum of buf[a:e] for even a, padding an
// odd tail with a zero byte.
func (t *payloadText) evenSum(a, e int) uint64 {
	if e&1 == 1 {
		return t.prefix[(e-1)/2] - t.prefix[a/2] + uint64(t.buf[e-1])<<8
	}
	return t.prefix[e/2] - t.prefix[a/2]
}

// sum returns the folded ones' complement sum of buf[off:off+n], as if the
// slice started on a 16-bit boundary.
func (t *payloadText) sum(off, n int) uint16 {
	if n == 0 {
		return 0
	}
	if off&1 == 0 {
		return fold(t.evenSum(off, off+n))
	}
	// Shifted by one byte: sum the words that start one byte early, take
	// out the extra leading byte, and byte-swap (RFC 1071 byte-order
	// independence).
	s := t.evenSum(off-1, off+n) - uint64(t.buf[off-1])<<8
	f := fold(s)
	return f<<8 | f>>8
}

// fold folds a 64-bit word sum into 16 bits with end-around carry.
func fold(s uint64) uint16 {
	s = (s >> 32) + (s & 0xffffffff)
	s = (s >> 32) + (s & 0xffffffff)
	s = (s >> 16) + (s & 0xffff)
	s = (s >> 16) + (s & 0xffff)
	s = (s >> 16) + (s & 0xffff)
	return uint16(s)
}
