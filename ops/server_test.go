package ops_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/ops"
)

func TestServeAnswersOnTheBoundAddress(t *testing.T) {
	t.Parallel()
	srv, err := ops.Listen("127.0.0.1:0", ops.Handler(ops.Config{Metrics: ops.NewMetrics()}))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()

	addr := srv.Addr().(*net.TCPAddr)
	require.NotZero(t, addr.Port, "port 0 is resolved to the real port")
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		resp, err := http.Get("http://" + srv.Addr().String() + path)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode, path)
	}

	cancel()
	assert.NoError(t, <-done)
	_, err = net.Dial("tcp", srv.Addr().String())
	assert.Error(t, err, "the port is released after shutdown")
}

func TestListenReportsABusyPort(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()
	_, err = ops.Listen(taken.Addr().String(), http.NotFoundHandler())
	assert.ErrorContains(t, err, taken.Addr().String())
}

func TestServeLetsRequestsInFlightFinish(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	release := make(chan struct{})
	slow := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		close(started)
		<-release
		_, _ = io.WriteString(w, "finished")
	})
	srv, err := ops.Listen("127.0.0.1:0", slow)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()

	type result struct {
		body string
		err  error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := http.Get("http://" + srv.Addr().String() + "/scrape")
		if err != nil {
			got <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		got <- result{string(b), err}
	}()
	<-started

	cancel()
	// Shutdown has begun once new connections are refused; only then let the request finish.
	require.Eventually(t, func() bool {
		c, err := net.Dial("tcp", srv.Addr().String())
		if err == nil {
			c.Close()
		}
		return err != nil
	}, 5*time.Second, 5*time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("Serve returned (%v) while a request was still in flight", err)
	default:
	}
	close(release)

	r := <-got
	require.NoError(t, r.err)
	assert.Equal(t, "finished", r.body)
	assert.NoError(t, <-done)
}

func TestProbe(t *testing.T) {
	t.Parallel()
	var connected atomic.Bool
	srv := httptest.NewServer(ops.Handler(ops.Config{
		Metrics:        ops.NewMetrics(),
		SlackConnected: connected.Load,
		Logger:         quietLogger(),
	}))
	defer srv.Close()
	ctx := context.Background()

	assert.NoError(t, ops.Probe(ctx, srv.URL+"/healthz"))
	err := ops.Probe(ctx, srv.URL+"/readyz")
	assert.ErrorContains(t, err, "503")
	assert.ErrorContains(t, err, "slack: FAIL: Socket Mode is not connected", "the reason reaches docker inspect")
	connected.Store(true)
	assert.NoError(t, ops.Probe(ctx, srv.URL+"/readyz"))

	srv.Close()
	assert.Error(t, ops.Probe(ctx, srv.URL+"/healthz"), "nothing listening")
}
