package main

import (
	"net/http"
	"sync/atomic"
	"time"
)

// apiConnections is how many connections the bot keeps to each of Slack's and Astro's APIs.
// Measured with cmd/orgtoken-load on 2 cores (docs/performance.md, tenth measurement): two
// connections instead of one cut the changes' p99 beyond Astro's own time in each of three
// interleaved pairs (by 12–52 %); four did no better than two and held more memory.
const apiConnections = 2

// spreadTransport sends requests round robin over several transports, so each host gets
// several connections. Over HTTP/2 a transport keeps one connection per host and multiplexes
// every request on it, and that connection's one reader goroutine decrypts and hands out every
// answer in turn: when a wave of answers arrives (hundreds of commands waiting on the same slow
// Astro), the last waits for all the others, and every window update and new request queues on
// the same connection's writer. Each transport also keeps an idle connection per worker, as the
// default of two per host would open (and TLS-handshake) a new HTTP/1.1 connection for nearly
// every request under load.
type spreadTransport struct {
	transports []*http.Transport
	next       atomic.Uint64
}

func newSpreadTransport(connections, workers int) *spreadTransport {
	s := &spreadTransport{}
	for range max(connections, 1) {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = max(workers, 2)
		t.MaxIdleConns = max(workers, 2) * 2
		s.transports = append(s.transports, t)
	}
	return s
}

func (s *spreadTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return s.transports[s.next.Add(1)%uint64(len(s.transports))].RoundTrip(req)
}

// CloseIdleConnections lets http.Client.CloseIdleConnections reach every transport.
func (s *spreadTransport) CloseIdleConnections() {
	for _, t := range s.transports {
		t.CloseIdleConnections()
	}
}

// slackCallTimeout bounds one Slack Web API or response_url request, its answer read whole.
// Some callers have no deadline of their own (revert and drift announcements run detached
// from any command), and a connection that stalls without closing would otherwise hold them,
// and the shutdown waiting on them, for good. Rate-limit waits come between requests, so they
// are not cut short by it.
const slackCallTimeout = 30 * time.Second

// newSlackHTTPClient is the pooled client for Slack's Web API and response_url.
func newSlackHTTPClient(workers int, timeout time.Duration) *http.Client {
	return &http.Client{Transport: newSpreadTransport(apiConnections, workers), Timeout: timeout}
}
