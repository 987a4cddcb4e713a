package loopbacktls_test

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/emulators/loopbacktls"
)

// serve answers with the protocol each request arrived over.
func serve(t *testing.T, cert *loopbacktls.Certificate) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, r.Proto) }),
		TLSConfig:         cert.ServerConfig(),
		ReadHeaderTimeout: 5 * time.Second,
	}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { _ = srv.Close() })
	return "https://" + ln.Addr().String() + "/"
}

func TestAClientTrustingTheCertificateSpeaksHTTP2(t *testing.T) {
	t.Parallel()
	cert, err := loopbacktls.New()
	require.NoError(t, err)
	url := serve(t, cert)

	resp, err := (&http.Client{Transport: cert.Transport(), Timeout: 10 * time.Second}).Get(url)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, "HTTP/2.0", string(body), "the server negotiates HTTP/2, as Slack's and Astro's do")
}

func TestOtherClientsDoNotTrustIt(t *testing.T) {
	t.Parallel()
	cert, err := loopbacktls.New()
	require.NoError(t, err)
	other, err := loopbacktls.New()
	require.NoError(t, err)
	url := serve(t, cert)

	for name, tr := range map[string]*http.Transport{
		"system roots":                  {},
		"another throwaway certificate": {TLSClientConfig: other.ClientConfig()},
	} {
		resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get(url)
		if resp != nil {
			_ = resp.Body.Close()
		}
		assert.ErrorContains(t, err, "certificate", name)
	}
}

// TestCAPEMIsWhatATrustStoreNeeds is how the load driver's bot trusts the emulators: through
// SSL_CERT_FILE holding CAPEM, nothing else.
func TestCAPEMIsWhatATrustStoreNeeds(t *testing.T) {
	t.Parallel()
	cert, err := loopbacktls.New()
	require.NoError(t, err)
	url := serve(t, cert)

	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(cert.CAPEM))
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get(url)
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}
