// Package loopbacktls makes a throwaway certificate for 127.0.0.1 so the emulators can speak
// HTTPS on loopback, as the real Slack and Astro APIs do. Over TLS a Go client negotiates
// HTTP/2 and multiplexes every request on one connection, where plain HTTP/1.1 opens a
// connection (and two goroutines) per request in flight: a load test over plain HTTP measures
// a connection pool production never builds.
package loopbacktls

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"time"
)

// Certificate is a self-signed certificate for 127.0.0.1, ::1 and localhost. It is its own
// authority: a client that trusts CAPEM trusts the servers that present it, and nothing else.
type Certificate struct {
	cert tls.Certificate
	pool *x509.CertPool
	// CAPEM is the certificate in PEM, for a client's trust store (SSL_CERT_FILE for a Go
	// process).
	CAPEM []byte
}

// New makes a certificate valid for a day.
func New() (*Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("loopbacktls: key: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(now.UnixNano()),
		Subject:               pkix.Name{CommonName: "orgtoken emulators on loopback"},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("loopbacktls: certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("loopbacktls: certificate: %w", err)
	}
	c := &Certificate{
		cert:  tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf},
		pool:  x509.NewCertPool(),
		CAPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
	}
	c.pool.AddCert(leaf)
	return c, nil
}

// ServerConfig is what an http.Server serving with ServeTLS needs; net/http adds HTTP/2 to it.
func (c *Certificate) ServerConfig() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{c.cert}, MinVersion: tls.VersionTLS12}
}

// Transport is an HTTP transport built like the bot's (a clone of Go's default, so it offers
// HTTP/2) that trusts this certificate only.
func (c *Certificate) Transport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = c.ClientConfig()
	return t
}

// ClientConfig trusts this certificate only.
func (c *Certificate) ClientConfig() *tls.Config {
	return &tls.Config{RootCAs: c.pool, MinVersion: tls.VersionTLS12}
}
