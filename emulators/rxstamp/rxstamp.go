// Package rxstamp tells when bytes reached an emulator's TCP socket, from the kernel's receive
// timestamps, rather than when the emulator got around to reading them.
//
// The emulators share the cores with the bot they measure: under load their reading goroutine
// may wait for a core, or for their own GC, for milliseconds after the bot's bytes arrived. A
// real Slack or Astro would have had them at arrival. Where the operating system gives receive
// timestamps (Linux, SO_TIMESTAMPNS), a Conn records the kernel's time for every read; elsewhere
// Arrival is zero and callers fall back to their own clock.
package rxstamp

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"syscall"
	"time"
)

// Conn is an accepted TCP connection whose reads record when their bytes arrived.
type Conn struct {
	*net.TCPConn // writes, deadlines and Close go straight to it; Read is the Conn's own
	raw          syscall.RawConn
	arrival      atomic.Int64 // Unix nanoseconds of the latest read's data, 0 before any
}

// WriteTo hides net.TCPConn's, so that copying out of a Conn cannot take the kernel's shortcut
// (splice) around its Read.
func (c *Conn) WriteTo(w io.Writer) (int64, error) { return io.Copy(w, struct{ io.Reader }{c}) }

// Arrival is when the data of the connection's latest read reached the socket: for TCP, the
// kernel's time for the last segment that read consumed. Data a reader had buffered from an
// earlier read arrived no later than that, so the reading is never earlier than the truth. It
// is zero when the system gives no timestamps or nothing has been read.
func (c *Conn) Arrival() time.Time {
	if c == nil {
		return time.Time{}
	}
	ns := c.arrival.Load()
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// Wrap returns a listener whose accepted TCP connections are *Conn where the system gives
// receive timestamps; elsewhere, or if the socket refuses, connections come unchanged. It turns
// timestamps on at the listening socket, so they are on (system-wide, which takes the kernel a
// moment) before the first connection's first bytes arrive.
func Wrap(ln net.Listener) net.Listener {
	tl, ok := ln.(*net.TCPListener)
	if !ok || !enable(tl) {
		return ln
	}
	return listener{tl}
}

type listener struct{ *net.TCPListener }

// Accept accepts the next connection, stamped.
func (l listener) Accept() (net.Conn, error) {
	c, err := l.AcceptTCP()
	if err != nil {
		return nil, err
	}
	if sc := stamped(c); sc != nil {
		return sc, nil
	}
	return c, nil
}

// Of finds the *Conn under c (a *Conn itself, or a TLS connection over one); nil if there is
// none, whose Arrival is zero.
func Of(c net.Conn) *Conn {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	sc, _ := c.(*Conn)
	return sc
}

// ArrivalOr is the arrival of c's latest read, or fallback when unknown or later than fallback
// (the clocks differ: the kernel's is the realtime clock, which NTP can step).
func ArrivalOr(c *Conn, fallback time.Time) time.Time {
	if a := c.Arrival(); !a.IsZero() && !a.After(fallback) {
		return a
	}
	return fallback
}

type connKey struct{}

// ConnContext is for http.Server.ConnContext: it lets a handler find its connection's stamps.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	if sc := Of(c); sc != nil {
		return context.WithValue(ctx, connKey{}, sc)
	}
	return ctx
}

// RequestArrival is ArrivalOr for the connection r came on, in a server whose ConnContext is
// ConnContext. Read once r's body is read, it is no earlier than the arrival of r's last byte
// (over HTTP/2 the connection may since have read another request's, which only makes it
// later).
func RequestArrival(r *http.Request, fallback time.Time) time.Time {
	sc, _ := r.Context().Value(connKey{}).(*Conn)
	return ArrivalOr(sc, fallback)
}
