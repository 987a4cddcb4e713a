package main

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// botAckMetric is the bot's own histogram of envelope received → ack handed to the socket
// writer. Beside the emulator's ack latency it tells the bot's share from the transport's.
const botAckMetric = "orgtoken_slack_ack_seconds"

// freeLoopbackAddr finds a port for the bot's health and metrics listener. The port is free
// when returned; another process could take it before the bot does, which only costs the
// bot-side ack row.
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().String(), nil
}

// histogram is a Prometheus histogram's cumulative bucket counts.
type histogram struct {
	buckets map[float64]float64 // upper bound → cumulative count
	count   float64
}

// scrapeHistogram reads one histogram from a Prometheus text-format /metrics page.
func scrapeHistogram(ctx context.Context, url, name string) (histogram, error) {
	h := histogram{buckets: map[float64]float64{}}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return h, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return h, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return h, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	found := false
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		key, val, ok := strings.Cut(line, " ")
		if !ok || !strings.HasPrefix(key, name) {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil {
			continue
		}
		switch {
		case key == name+"_count":
			h.count, found = v, true
		case strings.HasPrefix(key, name+`_bucket{le="`):
			le := strings.TrimSuffix(strings.TrimPrefix(key, name+`_bucket{le="`), `"}`)
			bound := math.Inf(1)
			if le != "+Inf" {
				if bound, err = strconv.ParseFloat(le, 64); err != nil {
					continue
				}
			}
			h.buckets[bound] = v
		}
	}
	if err := sc.Err(); err != nil {
		return h, err
	}
	if !found {
		return h, fmt.Errorf("%s not found at %s", name, url)
	}
	return h, nil
}

// minus is the histogram of what was observed between earlier and h.
func (h histogram) minus(earlier histogram) histogram {
	d := histogram{buckets: map[float64]float64{}, count: h.count - earlier.count}
	for b, v := range h.buckets {
		d.buckets[b] = v - earlier.buckets[b]
	}
	return d
}

// quantileBound is the smallest bucket bound that holds at least fraction q of observations:
// the quantile is at most this.
func (h histogram) quantileBound(q float64) (float64, bool) {
	if h.count <= 0 {
		return 0, false
	}
	bounds := make([]float64, 0, len(h.buckets))
	for b := range h.buckets {
		bounds = append(bounds, b)
	}
	slices.Sort(bounds)
	for _, b := range bounds {
		if h.buckets[b] >= q*h.count {
			return b, true
		}
	}
	return math.Inf(1), true
}
