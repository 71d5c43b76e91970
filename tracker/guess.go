package tracker

import "runtime"

func defaultShards() int { return runtime.GOMAXPROCS(0) }

// servicePorts are ports that, beside every port below 1024, mark the
// server side of a connection picked up mid-stream.
var servicePorts = map[uint16]bool{
	1433: true, 1521: true, 2049: true, 2379: true, 2380: true, 3000: true, 3306: true, 3389: true,
	4443: true, 5000: true, 5432: true, 5601: true, 5672: true, 5900: true, 6379: true, 6443: true,
	8000: true, 8008: true, 8080: true, 8081: true, 8443: true, 8888: true, 9000: true, 9042: true,
	9090: true, 9092: true, 9093: true, 9200: true, 9300: true, 9418: true, 11211: true, 15672: true,
	27017: true,
}

// IsServicePort reports whether port is one a server usually listens on:
// below 1024, or a well-known service port above it.
func IsServicePort(port uint16) bool { return port < 1024 || servicePorts[port] }

// ephemeralStart is the start of Linux's default ip_local_port_range.
const ephemeralStart = 32768

// GuessOriginator reports whether the sender of the first packet seen of a
// connection picked up mid-stream (no SYN) is its originator. The rule, in
// order: the side on a service port (IsServicePort) is the responder when
// the other side is not on one; otherwise the side on an ephemeral port
// (32768 and up, Linux's default range) is the originator when the other is
// not; otherwise the sender of the first packet is the originator, as Zeek
// assumes.
func GuessOriginator(srcPort, dstPort uint16) bool {
	srcSvc, dstSvc := IsServicePort(srcPort), IsServicePort(dstPort)
	switch {
	case dstSvc && !srcSvc:
		return true
	case srcSvc && !dstSvc:
		return false
	}
	srcEph, dstEph := srcPort >= ephemeralStart, dstPort >= ephemeralStart
	switch {
	case srcEph && !dstEph:
		return true
	case dstEph && !srcEph:
		return false
	}
	return true
}
