package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Socket option numbers the syscall package does not name.
const ()

// sockopt is applied to a raw socket descriptor before bind.
type sockopt func(fd int) error

func optInt(level, name, v int) sockopt {
	return func(fd int) error {
		if err := syscall.SetsockoptInt(fd, level, name, v); err != nil {
			return fmt.Errorf("setsockopt(%d,%d,%d): %w", level, name, v, err)
		}
		return nil
	}
}

func sockaddr(ap netip.AddrPort) (syscall.Sockaddr, int) {
	if ap.Addr().Is4() {
		return &syscall.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}, syscall.AF_INET
	}
	return &syscall.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}, syscall.AF_INET6
}

// listen opens a listening TCP socket with an exact backlog (net.Listen
// always uses net.core.somaxconn) and SO_REUSEADDR.
func listen(addr string, backlog int, opts ...sockopt) (*net.TCPListener, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, err
	}
	sa, family := sockaddr(ap)
	fd, err := syscall.Socket(family, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	opts = append([]sockopt{optInt(syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)}, opts...)
	for _, o := range opts {
		if err := o(fd); err != nil {
			syscall.Close(fd)
			return nil, err
		}
	}
	if err := syscall.Bind(fd, sa); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("bind %s: %w", addr, err)
	}
	if err := syscall.Listen(fd, backlog); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	f := os.NewFile(uintptr(fd), "listener")
	defer f.Close()
	l, err := net.FileListener(f)
	if err != nil {
		return nil, err
	}
	return l.(*net.TCPListener), nil
}

// accept accepts one connection and switches off the keepalive Go enables
// on accepted connections by default.
func accept(l *net.TCPListener) (*net.TCPConn, error) {
	c, err := l.AcceptTCP()
	if err != nil {
		return nil, err
	}
	if err := c.SetKeepAlive(false); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// dialOpts tunes dial.
type dialOpts struct {
	laddr string               // fixed local address (SO_REUSEADDR is set)
	keep  *net.KeepAliveConfig // nil: no keepalive
	opts  []sockopt            // applied before bind/connect
	wait  time.Duration        // connect timeout (default 15 s)
}

// dial connects to raddr. Go's defaults (keepalive after 15 s) are
// switched off unless asked for; TCP_NODELAY stays on, so every Write is
// one segment.
func dial(raddr string, o dialOpts) (*net.TCPConn, error) {
	d := net.Dialer{KeepAlive: -1, Timeout: o.wait}
	if d.Timeout == 0 {
		d.Timeout = 15 * time.Second
	}
	if o.keep != nil {
		d.KeepAliveConfig = *o.keep
	}
	opts := o.opts
	if o.laddr != "" {
		la, err := net.ResolveTCPAddr("tcp", o.laddr)
		if err != nil {
			return nil, err
		}
		d.LocalAddr = la
		opts = append([]sockopt{optInt(syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)}, opts...)
	}
	if len(opts) > 0 {
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			var oerr error
			err := rc.Control(func(fd uintptr) {
				for _, f := range opts {
					if oerr = f(int(fd)); oerr != nil {
						return
					}
				}
			})
			if err != nil {
				return err
			}
			return oerr
		}
	}
	c, err := d.Dial("tcp", raddr)
	if err != nil {
		return nil, err
	}
	return c.(*net.TCPConn), nil
}

// setConnOpt applies a socket option to a connected socket.
func setConnOpt(c *net.TCPConn, o sockopt) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var oerr error
	if err := rc.Control(func(fd uintptr) { oerr = o(int(fd)) }); err != nil {
		return err
	}
	return oerr
}

// conn wraps a TCP connection with a line reader.
type conn struct {
	*net.TCPConn
	r *bufio.Reader
}

func wrap(c *net.TCPConn) *conn { return &conn{c, bufio.NewReader(c)} }

func (c *conn) send(s string) error {
	_, err := c.Write([]byte(s))
	return err
}

func (c *conn) line() (string, error) {
	s, err := c.r.ReadString('\n')
	return strings.TrimSuffix(s, "\n"), err
}

// readEOF reads until the peer's FIN and returns how many bytes came.
func (c *conn) readEOF() (int64, error) {
	return io.Copy(io.Discard, c.r)
}

// ctl is the control directory shared with record.sh.
type ctl string

func (d ctl) touch(name string) error {
	return os.WriteFile(filepath.Join(string(d), name), nil, 0o644)
}

func (d ctl) wait(name string, timeout time.Duration) error {
	p := filepath.Join(string(d), name)
	end := time.Now().Add(timeout)
	for {
		if _, err := os.Stat(p); err == nil {
			return nil
		} else if !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if time.Now().After(end) {
			return fmt.Errorf("timed out waiting for %s", p)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// sendUDP sends one UDP datagram of size bytes to host:9 (the lab drops
// UDP to port 9 at the receiver, so no ICMP comes back). record.sh uses it
// through "peer udp" to cork a tbf qdisc (a full-size frame that the
// bucket can never pay for) and to kick it after uncorking.
func sendUDP(host string, size int) error {
	u, err := net.Dial("udp", net.JoinHostPort(host, "9"))
	if err != nil {
		return err
	}
	defer u.Close()
	_, err = u.Write(make([]byte, size))
	return err
}
