package ops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// ShutdownTimeout bounds how long Serve waits for requests in flight once its context ends.
const ShutdownTimeout = 5 * time.Second

// Server is the operator HTTP listener.
type Server struct {
	ln  net.Listener
	srv *http.Server
}

// Listen binds addr (":8080", or "127.0.0.1:0" in tests) at once, so a port clash fails at
// startup rather than in a goroutine; Serve then answers on it.
func Listen(addr string, h http.Handler) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("ops: listen on %s: %w", addr, err)
	}
	return &Server{ln: ln, srv: &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
	}}, nil
}

// Addr is the bound address, with the real port when addr asked for port 0.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve answers requests until ctx ends, then stops accepting connections, lets requests in
// flight finish within ShutdownTimeout and returns nil. Call it once. To keep /healthz and
// /metrics up while the bot drains, give it a context that ends after the bot has stopped.
func (s *Server) Serve(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("ops: serve: %w", err)
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
	defer cancel()
	err := s.srv.Shutdown(shutCtx)
	if serveErr := <-errc; !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, serveErr)
	}
	if err != nil {
		_ = s.srv.Close()
		return fmt.Errorf("ops: shutdown: %w", err)
	}
	return nil
}

// Probe GETs url (such as http://127.0.0.1:8080/readyz) and returns nil on a 2xx answer, else
// an error carrying the status and the start of the body. It exists for container health
// checks: the image (scratch) has no shell or curl, so the binary must probe itself.
func Probe(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("ops: probe: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("ops: probe: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("ops: probe %s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}
