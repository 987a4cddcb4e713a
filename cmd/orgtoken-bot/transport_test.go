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

// A Slack answer that stalls (headers sent, body never finished) ends the call at the client's
// bound instead of holding its caller, which may have no deadline of its own, for good.
func TestSlackClientEndsAStalledAnswer(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":`)
		w.(http.Flusher).Flush()
		<-release
	}))
	defer srv.Close()
	defer close(release)

	done := make(chan error, 1)
	go func() {
		resp, err := newSlackHTTPClient(4, 200*time.Millisecond).Post(srv.URL+"/api/chat.postMessage", "application/json", nil)
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			_ = resp.Body.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		// "Client.Timeout exceeded" while waiting for headers, "context deadline exceeded"
		// while reading the body: either way the call ended.
		require.Error(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("a stalled Slack answer still held the call after 10 s")
	}
}
