package report

import (
	"bufio"
	"io"
	"net/netip"
	"strconv"
	"time"

	"github.com/wirestate/wirestate/tracker"
)

// ZeekConnFields are the columns of Zeek's conn.log, in Zeek's order
// (scripts/base/protocols/conn/main.zeek, Conn::Info), and last the
// community_id column that Zeek's policy/protocols/conn/community-id-logging
// (or the zeek-community-id package) appends to Conn::Info.
var ZeekConnFields = []string{
	"ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto", "service",
	"duration", "orig_bytes", "resp_bytes", "conn_state", "local_orig", "local_resp",
	"missed_bytes", "history", "orig_pkts", "orig_ip_bytes", "resp_pkts", "resp_ip_bytes",
	"tunnel_parents", "ip_proto", "community_id",
}

// zeekConnTypes are the Zeek types of ZeekConnFields, for the #types line.
var zeekConnTypes = []string{
	"time", "string", "addr", "port", "addr", "port", "enum", "string",
	"interval", "count", "count", "string", "bool", "bool",
	"count", "string", "count", "count", "count", "count",
	"set[string]", "count", "string",
}

// ZeekOptions configures the conn.log writer.
type ZeekOptions struct {
	// Open and Close are the times the #open and #close header lines
	// carry. Zeek writes the wall-clock time there; wirestate's callers
	// pass the first and last packet times so that the same capture always
	// gives the same file. Zero values write the Unix epoch.
	Open, Close int64
	// Local formats Open and Close in the local time zone instead of UTC.
	Local bool
	// CommunityIDSeed seeds the community_id column (Zeek's
	// CommunityID::seed).
	CommunityIDSeed uint16
}

// ZeekWriter writes connection records as Zeek's ASCII writer writes
// conn.log: the header lines, one tab-separated row per connection with -
// for unset fields, and a #close line.
type ZeekWriter struct {
	w   *bufio.Writer
	opt ZeekOptions
	b   []byte
}

// NewZeekWriter returns a ZeekWriter on w and writes the header.
func NewZeekWriter(w io.Writer, opt ZeekOptions) (*ZeekWriter, error) {
	zw := &ZeekWriter{w: bufio.NewWriterSize(w, 64<<10), opt: opt}
	b := zw.b[:0]
	b = append(b, "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n#open\t"...)
	b = zw.appendStamp(b, opt.Open)
	b = append(b, "\n#fields"...)
	for _, f := range ZeekConnFields {
		b = append(b, '\t')
		b = append(b, f...)
	}
	b = append(b, "\n#types"...)
	for _, t := range zeekConnTypes {
		b = append(b, '\t')
		b = append(b, t...)
	}
	b = append(b, '\n')
	zw.b = b
	_, err := zw.w.Write(b)
	return zw, err
}

// appendStamp appends ns as Zeek's #open/#close stamp, 2006-01-02-15-04-05.
func (zw *ZeekWriter) appendStamp(b []byte, ns int64) []byte {
	t := time.Unix(0, ns).UTC()
	if zw.opt.Local {
		t = t.Local()
	}
	return t.AppendFormat(b, "2006-01-02-15-04-05")
}

// Conn writes the row of one connection record. The originator is Zeek's
// (tracker.Conn.ZeekOrig), so the endpoints, packet and byte counts are
// swapped for a connection Zeek flipped.
func (zw *ZeekWriter) Conn(r *tracker.Record) error {
	c := &r.Conn
	os := c.ZeekOrig()
	orig, resp := c.Endpoint(os), c.Endpoint(os^1)
	po, pr := &c.Peers[os], &c.Peers[os^1]
	b := zw.b[:0]
	b = appendSecs(b, c.Start)
	b = append(b, '\t')
	b = c.UID.AppendTo(b)
	b = append(b, '\t')
	b = orig.Addr.AppendTo(b)
	b = append(b, '\t')
	b = strconv.AppendUint(b, uint64(orig.Port), 10)
	b = append(b, '\t')
	b = resp.Addr.AppendTo(b)
	b = append(b, '\t')
	b = strconv.AppendUint(b, uint64(resp.Port), 10)
	b = append(b, "\ttcp\t-\t"...) // service: wirestate runs no protocol analyzers
	// duration, orig_bytes and resp_bytes are set only for a positive
	// duration (main.zeek L272-277).
	if d := c.ZeekDuration(); d > 0 {
		b = appendSecs(b, d)
		b = append(b, '\t')
		b = strconv.AppendUint(b, c.ZeekBytes(os), 10)
		b = append(b, '\t')
		b = strconv.AppendUint(b, c.ZeekBytes(os^1), 10)
	} else {
		b = append(b, "-\t-\t-"...)
	}
	b = append(b, '\t')
	b = append(b, c.ZeekState()...)
	b = append(b, '\t')
	b = appendBool(b, zeekLocal(orig.Addr))
	b = append(b, '\t')
	b = appendBool(b, zeekLocal(resp.Addr))
	b = append(b, '\t')
	b = strconv.AppendUint(b, c.ZeekMissedBytes(), 10)
	b = append(b, '\t')
	if c.Hist.Len() > 0 {
		b = c.Hist.AppendTo(b)
	} else {
		b = append(b, '-')
	}
	for _, v := range [...]uint64{uint64(po.Pkts), po.IPBytes, uint64(pr.Pkts), pr.IPBytes} {
		b = append(b, '\t')
		b = strconv.AppendUint(b, v, 10)
	}
	b = append(b, "\t-\t6\t"...) // tunnel_parents unset; ip_proto TCP
	b = AppendCommunityID(b, &orig, &resp, zw.opt.CommunityIDSeed)
	b = append(b, '\n')
	zw.b = b
	_, err := zw.w.Write(b)
	return err
}

// Flush writes the rows buffered so far to the underlying writer.
func (zw *ZeekWriter) Flush() error { return zw.w.Flush() }

// CloseAt writes the #close line with the time ns (instead of the Close
// of the options) and flushes.
func (zw *ZeekWriter) CloseAt(ns int64) error {
	zw.opt.Close = ns
	return zw.Close()
}

// Close writes the #close line and flushes.
func (zw *ZeekWriter) Close() error {
	b := append(zw.b[:0], "#close\t"...)
	b = zw.appendStamp(b, zw.opt.Close)
	b = append(b, '\n')
	zw.b = b
	if _, err := zw.w.Write(b); err != nil {
		return err
	}
	return zw.w.Flush()
}

// WriteZeek writes every connection record of res as a Zeek conn.log, in
// the order of res.Records (start time).
func WriteZeek(w io.Writer, res *Result, opt ZeekOptions) error {
	zw, err := NewZeekWriter(w, opt)
	if err != nil {
		return err
	}
	for i := range res.Records {
		if err := zw.Conn(&res.Records[i]); err != nil {
			return err
		}
	}
	return zw.Close()
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 'T')
	}
	return append(b, 'F')
}

// zeekPrivate is Site::private_address_space
// (scripts/base/utils/site.zeek), which Zeek copies into Site::local_nets
// by default, so local_orig and local_resp say whether an address is in it.
var zeekPrivate = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8", "2002::/24", "10.0.0.0/8", "2002:a00::/24", "100.64.0.0/10", "2002:6440::/26",
		"127.0.0.0/8", "2002:7f00::/24", "169.254.0.0/16", "2002:a9fe::/32", "172.16.0.0/12",
		"2002:ac10::/28", "192.0.0.0/24", "2002:c000::/40", "192.0.2.0/24", "2002:c000:200::/40",
		"192.168.0.0/16", "2002:c0a8::/32", "198.18.0.0/15", "2002:c612::/31", "198.51.100.0/24",
		"2002:c633:6400::/40", "203.0.113.0/24", "2002:cb00:7100::/40", "240.0.0.0/4",
		"2002:f000::/20", "255.255.255.255/32", "2002:ffff:ffff::/48", "::/128", "::1/128",
		"64:ff9b:1::/48", "100::/64", "2001::/23", "2001:2::/48", "2001:db8::/32", "fc00::/7",
		"fe80::/10",
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// zeekLocal reports whether a is in Zeek's default Site::local_nets.
func zeekLocal(a tracker.Addr) bool {
	ip := a.Netip()
	for _, p := range zeekPrivate {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
