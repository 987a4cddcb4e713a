package astro

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// h2ResetServer speaks just enough HTTP/2 to take requests and answer each, once its body is
// in, with RST_STREAM PROTOCOL_ERROR: a reset that says nothing about whether the server acted
// on the request, yet one Go 1.26's HTTP/2 transport replays a request on by itself (again and
// again) whenever it can rewind the body (GetBody).
type h2ResetServer struct {
	ln     net.Listener
	scheme string
	// Requests received over every connection (HEADERS frames): without a body, and with one.
	reads, writes atomic.Int32
}

// newH2ResetServer serves HTTP/2 over TLS (as Astro does), or cleartext HTTP/2 with prior
// knowledge, and returns a transport that speaks it to the server.
func newH2ResetServer(t *testing.T, overTLS bool) (*h2ResetServer, *http.Transport) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &h2ResetServer{ln: ln, scheme: "http"}
	tr := &http.Transport{Protocols: new(http.Protocols)}
	if overTLS {
		// httptest's certificate, and a client that trusts it.
		certs := httptest.NewUnstartedServer(nil)
		certs.StartTLS()
		certs.Close()
		s.ln, s.scheme = tls.NewListener(ln, &tls.Config{Certificates: certs.TLS.Certificates, NextProtos: []string{"h2"}}), "https"
		tr.TLSClientConfig = certs.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
		tr.Protocols.SetHTTP2(true)
	} else {
		tr.Protocols.SetUnencryptedHTTP2(true)
	}
	t.Cleanup(tr.CloseIdleConnections)
	t.Cleanup(func() { _ = s.ln.Close() })
	go func() {
		for {
			conn, err := s.ln.Accept()
			if err != nil {
				return
			}
			go s.serve(conn)
		}
	}()
	return s, tr
}

func (s *h2ResetServer) URL() string { return s.scheme + "://" + s.ln.Addr().String() + "/v1" }

const (
	h2Data, h2Headers, h2RSTStream, h2Settings = 0x0, 0x1, 0x3, 0x4
	h2FlagEndStream, h2FlagAck                 = 0x1, 0x1
	h2ProtocolError                            = 0x1
)

func (s *h2ResetServer) serve(conn net.Conn) {
	defer conn.Close()
	r := bufio.NewReader(conn)
	if _, err := io.ReadFull(r, make([]byte, len("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"))); err != nil {
		return
	}
	writeFrame := func(typ, flags byte, stream uint32, payload []byte) {
		hdr := make([]byte, 9)
		hdr[0], hdr[1], hdr[2] = byte(len(payload)>>16), byte(len(payload)>>8), byte(len(payload))
		hdr[3], hdr[4] = typ, flags
		binary.BigEndian.PutUint32(hdr[5:], stream)
		_, _ = conn.Write(append(hdr, payload...))
	}
	writeFrame(h2Settings, 0, 0, nil)
	hdr := make([]byte, 9)
	for {
		if _, err := io.ReadFull(r, hdr); err != nil {
			return
		}
		length := int(hdr[0])<<16 | int(hdr[1])<<8 | int(hdr[2])
		typ, flags, stream := hdr[3], hdr[4], binary.BigEndian.Uint32(hdr[5:])&0x7fffffff
		if _, err := io.CopyN(io.Discard, r, int64(length)); err != nil {
			return
		}
		switch {
		case typ == h2Settings && flags&h2FlagAck == 0:
			writeFrame(h2Settings, h2FlagAck, 0, nil)
		case typ == h2Headers && flags&h2FlagEndStream != 0:
			s.reads.Add(1)
		case typ == h2Headers:
			s.writes.Add(1)
		}
		if (typ == h2Headers || typ == h2Data) && flags&h2FlagEndStream != 0 {
			writeFrame(h2RSTStream, 0, stream, binary.BigEndian.AppendUint32(nil, h2ProtocolError))
		}
	}
}

// TestTransportNeverResendsARoleWrite: a role write whose stream the server reset after the body
// went out reaches the server once, not again from http.Transport's own retry, and is
// outcome-unknown. A read on the same server shows the transport does replay what it can.
func TestTransportNeverResendsARoleWrite(t *testing.T) {
	t.Parallel()
	for _, overTLS := range []bool{true, false} {
		t.Run(map[bool]string{true: "TLS", false: "Cleartext"}[overTLS], func(t *testing.T) {
			t.Parallel()
			srv, tr := newH2ResetServer(t, overTLS)
			c := New(testOrg, testAPIToken, WithBaseURL(srv.URL()), WithHTTPClient(&http.Client{Transport: tr}))
			ft := &fakeTime{now: time.Unix(0, 0)}
			c.now, c.sleep = ft.Now, ft.Sleep

			ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
			defer cancel()
			_, err := c.GetToken(ctx, "tok-1")
			require.Error(t, err)
			assert.Greater(t, srv.reads.Load(), int32(1), "the transport replays a read")

			_, err = c.UpdateTokenRoles(t.Context(), "tok-1", []Role{{EntityType: EntityWorkspace, EntityID: "ws-1", Role: RoleWorkspaceOwner}})

			assert.True(t, IsOutcomeUnknown(err), "%v", err)
			assert.Equal(t, int32(1), srv.writes.Load(), "the write is sent once")
		})
	}
}
