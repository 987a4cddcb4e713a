package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/sethvargo/go-envconfig"
	"github.com/stretchr/testify/assert"
)

// The image's HEALTHCHECK runs "orgtoken-bot healthcheck" with no URL in the container's own
// environment, so the probe must go to the port the bot listens on, not always :8080.
func TestHealthcheckProbesTheConfiguredHTTPAddr(t *testing.T) {
	t.Parallel()
	var asked atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Store(r.URL.Path)
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{":" + port, "0.0.0.0:" + port, "127.0.0.1:" + port} {
		t.Run(addr, func(t *testing.T) {
			var out, errOut bytes.Buffer
			env := envconfig.MapLookuper(map[string]string{"ORGTOKEN_HTTP_ADDR": addr})
			code := run(context.Background(), []string{"healthcheck"}, nil, &out, &errOut, env)
			assert.Equal(t, 0, code, errOut.String())
			assert.Equal(t, "/healthz", asked.Load())
		})
	}
}
