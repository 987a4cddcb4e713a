package rxstamp_test

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/emulators/loopbacktls"
	"github.com/orgtoken/orgtoken-bot/emulators/rxstamp"
)

// pair is an accepted connection and the client end dialled to it.
func pair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	l := rxstamp.Wrap(ln)
	t.Cleanup(func() { _ = l.Close() })
	client, err = net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { _ = client.Close() })
	server, err = l.Accept()
	require.NoError(t, err)
	t.Cleanup(func() { _ = server.Close() })
	return server, client
}

// untilStamped sends bytes from client to server until the server's reads are stamped: the
// kernel turns timestamping on for the system a moment after the first socket asks.
func untilStamped(t *testing.T, sc *rxstamp.Conn, server, client net.Conn) {
	t.Helper()
	buf := make([]byte, 1)
	require.Eventually(t, func() bool {
		if _, err := client.Write([]byte("x")); err != nil {
			return false
		}
		_, err := io.ReadFull(server, buf)
		return err == nil && !sc.Arrival().IsZero()
	}, 5*time.Second, time.Millisecond)
}

func requireStamps(t *testing.T) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("receive timestamps are read on Linux only")
	}
}

// The point of the package: bytes that waited in the socket while the reader was busy are
// stamped with when they arrived, not with when they were read.
func TestArrivalIsWhenTheBytesReachedTheSocket(t *testing.T) {
	t.Parallel()
	requireStamps(t)
	server, client := pair(t)
	sc := rxstamp.Of(server)
	require.NotNil(t, sc, "an accepted TCP connection is stamped")
	assert.True(t, sc.Arrival().IsZero(), "nothing read yet")
	untilStamped(t, sc, server, client)
	buf := make([]byte, 16)

	sent := time.Now()
	_, err := client.Write([]byte("ack"))
	require.NoError(t, err)
	time.Sleep(50 * time.Millisecond) // the reader is busy elsewhere
	readAt := time.Now()
	n, err := server.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "ack", string(buf[:n]))

	arrived := sc.Arrival()
	assert.False(t, arrived.Before(sent.Add(-time.Millisecond)), "arrived %v, sent %v", arrived, sent)
	assert.True(t, arrived.Before(readAt), "arrival %v is the socket's time, not the read's (%v)", arrived, readAt)
	assert.Equal(t, arrived, rxstamp.ArrivalOr(sc, time.Now()))
}

// A stamped connection behaves as the plain one under TLS: data, deadlines that net/http and
// TLS recognise as timeouts, and the end of the stream.
func TestStampedConnectionsCarryTLSDeadlinesAndEOF(t *testing.T) {
	t.Parallel()
	requireStamps(t)
	cert, err := loopbacktls.New()
	require.NoError(t, err)
	server, client := pair(t)
	ts := tls.Server(server, cert.ServerConfig())
	cfg := cert.ClientConfig()
	cfg.ServerName = "127.0.0.1"
	tc := tls.Client(client, cfg)
	payload := make([]byte, 256<<10) // many records and reads
	for i := range payload {
		payload[i] = byte(i)
	}
	wrote := make(chan error, 1)
	go func() {
		_, err := tc.Write(payload)
		wrote <- err
	}()
	got := make([]byte, len(payload))
	_, err = io.ReadFull(ts, got)
	require.NoError(t, err)
	require.NoError(t, <-wrote)
	assert.Equal(t, payload, got)
	assert.False(t, rxstamp.Of(ts).Arrival().IsZero(), "the TLS connection's reads were stamped")

	require.NoError(t, ts.SetReadDeadline(time.Now().Add(20*time.Millisecond)))
	_, err = ts.Read(got)
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	assert.True(t, ne.Timeout(), "a passed deadline reads as a timeout: %v", err)
	assert.ErrorIs(t, err, os.ErrDeadlineExceeded)

	require.NoError(t, server.SetReadDeadline(time.Time{}))
	require.NoError(t, client.Close())
	_, err = server.Read(got)
	assert.ErrorIs(t, err, io.EOF, "the peer's close is io.EOF")

	require.NoError(t, server.Close())
	_, err = server.Read(got)
	assert.True(t, errors.Is(err, net.ErrClosed), "reading a closed connection: %v", err)
}

func TestWithoutAStampArrivalFallsBack(t *testing.T) {
	t.Parallel()
	now := time.Now()
	assert.Equal(t, now, rxstamp.ArrivalOr(nil, now), "no stamped connection")
	assert.Nil(t, rxstamp.Of(&net.TCPConn{}), "a connection the listener did not wrap")
	assert.Nil(t, rxstamp.Of(tls.Client(&net.TCPConn{}, &tls.Config{})), "nor a TLS one over it")
}

// What a peer did before writing is visible to the reader after its read, for the race
// detector too (it fails this test under -race if stamped reads lose Go's I/O ordering).
func TestAReadSeesWhatHappenedBeforeTheWrite(t *testing.T) {
	t.Parallel()
	server, client := pair(t)
	var note string
	go func() {
		note = "written before the bytes"
		_, _ = client.Write([]byte("x"))
	}()
	buf := make([]byte, 1)
	_, err := io.ReadFull(server, buf)
	require.NoError(t, err)
	assert.Equal(t, "written before the bytes", note)
}

// Copying out of a stamped connection goes through its Read, so the copy is stamped too.
func TestCopyingOutIsStamped(t *testing.T) {
	t.Parallel()
	requireStamps(t)
	server, client := pair(t)
	sc := rxstamp.Of(server)
	require.NotNil(t, sc)
	untilStamped(t, sc, server, client)
	before := sc.Arrival()
	time.Sleep(2 * time.Millisecond)
	var out bytes.Buffer
	go func() {
		_, _ = client.Write([]byte("rest"))
		_ = client.Close()
	}()
	_, err := io.Copy(&out, server) // through WriteTo, which net.TCPConn has too
	require.NoError(t, err)
	assert.Equal(t, "rest", out.String())
	assert.True(t, sc.Arrival().After(before), "the copy's reads were stamped")
}
