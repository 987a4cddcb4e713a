package main

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Requests to one HTTP/2 host go over as many connections as asked, every one of them HTTP/2,
// and closing idle connections reaches them all.
func TestSpreadTransportKeepsThatManyConnectionsPerHost(t *testing.T) {
	var opened, closed atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.Proto)
	}))
	srv.EnableHTTP2 = true
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			opened.Add(1)
		case http.StateClosed, http.StateHijacked:
			closed.Add(1)
		}
	}
	srv.StartTLS()
	defer srv.Close()

	spread := newSpreadTransport(2, 8)
	for _, tr := range spread.transports {
		tr.TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	}
	client := &http.Client{Transport: spread}
	get := func() {
		resp, err := client.Get(srv.URL)
		if !assert.NoError(t, err) {
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		assert.NoError(t, err)
		assert.Equal(t, "HTTP/2.0", string(body))
	}
	// One request at a time first, as the bot's first commands come: a burst on a transport
	// with no connection yet dials for each request.
	get()
	get()
	require.EqualValues(t, 2, opened.Load(), "consecutive requests alternate between two connections")
	var wg sync.WaitGroup
	for range 40 {
		wg.Go(get)
	}
	wg.Wait()
	require.EqualValues(t, 2, opened.Load(), "40 concurrent requests over HTTP/2 share the two connections")

	client.CloseIdleConnections()
	require.Eventually(t, func() bool { return closed.Load() == 2 }, 5*time.Second, 10*time.Millisecond, "both connections closed")
}
