package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"
)

// maxBody is the largest response body the server hands out.
const maxBody = 256 << 10

// body is the shared response payload; handlers write a prefix of it.
var body = func() []byte {
	b := make([]byte, maxBody)
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789\n"
	for i := range b {
		b[i] = alphabet[i%len(alphabet)]
	}
	return b
}()

// handler serves /r/N with an N-byte text body (capped at maxBody) and
// anything else with a short greeting.
func handler(w http.ResponseWriter, r *http.Request) {
	n := 64
	if rest, ok := strings.CutPrefix(r.URL.Path, "/r/"); ok {
		if v, err := strconv.Atoi(rest); err == nil && v >= 0 {
			n = min(v, maxBody)
		}
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain")
	h.Set("Content-Length", strconv.Itoa(n))
	if n == 0 {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body[:n])
}

func runServer(args []string) error {
	fs := pflag.NewFlagSet("server", pflag.ContinueOnError)
	addr4 := fs.String("addr4", "10.88.0.2", "IPv4 address to listen on (empty to skip)")
	addr6 := fs.String("addr6", "fd88::2", "IPv6 address to listen on (empty to skip)")
	ports := fs.IntSlice("ports", []int{8080, 8081, 8082, 8083}, "TCP ports to listen on")
	ready := fs.String("ready", "", "file to create once all listeners are up")
	if err := fs.Parse(args); err != nil {
		return err
	}

	mux := http.HandlerFunc(handler)
	var servers []*http.Server
	errc := make(chan error, 2*len(*ports))
	lc := net.ListenConfig{KeepAlive: -1}
	for _, a := range []struct{ network, host string }{{"tcp4", *addr4}, {"tcp6", *addr6}} {
		if a.host == "" {
			continue
		}
		for _, p := range *ports {
			ln, err := lc.Listen(context.Background(), a.network, net.JoinHostPort(a.host, strconv.Itoa(p)))
			if err != nil {
				return err
			}
			srv := &http.Server{
				Handler:           mux,
				ReadHeaderTimeout: 5 * time.Second,
				IdleTimeout:       5 * time.Second,
				ErrorLog:          log.New(io.Discard, "", 0),
			}
			servers = append(servers, srv)
			go func() { errc <- srv.Serve(ln) }()
		}
	}
	if len(servers) == 0 {
		return errors.New("no listeners configured")
	}
	if *ready != "" {
		if err := os.WriteFile(*ready, []byte(fmt.Sprintf("%d\n", os.Getpid())), 0o644); err != nil {
			return err
		}
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case <-sig:
	case err := <-errc:
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, s := range servers {
		_ = s.Shutdown(ctx)
	}
	return nil
}
