package astroemu_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/astro"
	"github.com/orgtoken/orgtoken-bot/emulators/astroemu"
	"github.com/orgtoken/orgtoken-bot/emulators/loopbacktls"
)

// TestOverTLSTheBotsClientSpeaksHTTP2 serves HTTPS as Astro does: the bot's client, with a
// transport built like the binary's, multiplexes its requests over HTTP/2.
func TestOverTLSTheBotsClientSpeaksHTTP2(t *testing.T) {
	t.Parallel()
	cert, err := loopbacktls.New()
	require.NoError(t, err)
	srv := newSample(t, func(o *astroemu.Options) { o.TLS = cert.ServerConfig() })
	require.True(t, strings.HasPrefix(srv.URL(), "https://127.0.0.1:"), srv.URL())

	c := astro.New(testOrg, testToken, astro.WithBaseURL(srv.URL()), astro.WithHTTPClient(&http.Client{Transport: cert.Transport()}))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	page, err := c.ListTokens(ctx, astro.ListTokensOptions{})
	require.NoError(t, err)
	assert.Len(t, page.Tokens, sampleTokenCount)
	_, err = c.GetToken(ctx, astroemu.SampleTokenCIDeployer)
	require.NoError(t, err)

	recs := srv.Requests()
	require.Len(t, recs, 2)
	for _, r := range recs {
		assert.Equal(t, "HTTP/2.0", r.Proto, r.Path)
		assert.True(t, r.TLS, r.Path)
	}
	assert.Equal(t, 1, srv.Connections(), "both requests shared one connection")
}

// TestConnectionsCountsEveryDial tells a client that dials per request from one that reuses its
// connection.
func TestConnectionsCountsEveryDial(t *testing.T) {
	t.Parallel()
	srv := newSample(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dialer := astro.New(testOrg, testToken, astro.WithBaseURL(srv.URL()),
		astro.WithHTTPClient(&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}))
	for range 3 {
		_, err := dialer.GetToken(ctx, astroemu.SampleTokenCIDeployer)
		require.NoError(t, err)
	}
	assert.Equal(t, 3, srv.Connections())

	reuser := astro.New(testOrg, testToken, astro.WithBaseURL(srv.URL()), astro.WithHTTPClient(&http.Client{Transport: &http.Transport{}}))
	for range 3 {
		_, err := reuser.GetToken(ctx, astroemu.SampleTokenCIDeployer)
		require.NoError(t, err)
	}
	assert.Equal(t, 4, srv.Connections(), "three sequential requests over one kept-alive connection")
}

func TestPlainHTTPIsRecordedAsSuch(t *testing.T) {
	t.Parallel()
	srv := newSample(t)
	require.True(t, strings.HasPrefix(srv.URL(), "http://"), srv.URL())
	c := astro.New(testOrg, testToken, astro.WithBaseURL(srv.URL()))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c.ListTokens(ctx, astro.ListTokensOptions{})
	require.NoError(t, err)
	recs := srv.Requests()
	require.Len(t, recs, 1)
	assert.Equal(t, "HTTP/1.1", recs[0].Proto)
	assert.False(t, recs[0].TLS)
}
