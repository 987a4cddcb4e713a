package main

import (
	"bufio"
	"cmp"
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

// Go runtime series of the bot's /metrics: heap bytes allocated since start, GC cycles, the
// time the world was stopped for them, and the longest of the last 256 such pauses.
const (
	botAllocMetric    = "go_memstats_alloc_bytes_total"
	botGCMetric       = "go_gc_duration_seconds_count"
	botGCPauseMetric  = "go_gc_duration_seconds_sum"
	botGCLongestPause = `go_gc_duration_seconds{quantile="1"}`
)

// metricsPage is one scrape of a Prometheus text-format page: each sample's value by its
// series as written (name, then labels if any).
type metricsPage map[string]float64

// scrapeMetrics reads the bot's /metrics page.
func scrapeMetrics(ctx context.Context, url string) (metricsPage, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	page := metricsPage{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		key, val, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		if v, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
			page[key] = v
		}
	}
	return page, sc.Err()
}

// value is the sample of a series without labels.
func (p metricsPage) value(name string) (float64, error) {
	v, ok := p[name]
	if !ok {
		return 0, fmt.Errorf("%s not on the metrics page", name)
	}
	return v, nil
}

// histogram collects the histogram name (without other labels than le).
func (p metricsPage) histogram(name string) (histogram, error) {
	h := histogram{buckets: map[float64]float64{}}
	count, err := p.value(name + "_count")
	if err != nil {
		return h, err
	}
	h.count = count
	for key, v := range p {
		le, ok := strings.CutPrefix(key, name+`_bucket{le="`)
		if !ok {
			continue
		}
		le = strings.TrimSuffix(le, `"}`)
		bound := math.Inf(1)
		if le != "+Inf" {
			if bound, err = strconv.ParseFloat(le, 64); err != nil {
				continue
			}
		}
		h.buckets[bound] = v
	}
	return h, nil
}

// goMemory is where the Go runtime says the bot's memory is, from its /metrics: heap spans in
// use, heap freed but not yet returned to the OS, goroutine stacks, and the runtime's own
// structures (GC metadata, span and cache structs, profiling buckets, other).
type goMemory struct {
	heapInuse, heapFree, stacks, runtime float64 // bytes
	err                                  error
}

func goMemoryOf(p metricsPage) goMemory {
	r := seriesReader{page: p}
	get := func(name string) float64 { return r.get("go_memstats_" + name) }
	m := goMemory{
		heapInuse: get("heap_inuse_bytes"),
		heapFree:  get("heap_idle_bytes") - get("heap_released_bytes"),
		stacks:    get("stack_inuse_bytes"),
		runtime: get("gc_sys_bytes") + get("mspan_sys_bytes") + get("mcache_sys_bytes") +
			get("buck_hash_sys_bytes") + get("other_sys_bytes"),
	}
	if r.err != nil {
		return goMemory{err: r.err}
	}
	return m
}

// seriesReader reads series from a page and remembers the first one missing, so a group of
// readings is either whole or reported as missing.
type seriesReader struct {
	page metricsPage
	err  error
}

func (r *seriesReader) get(name string) float64 {
	v, err := r.page.value(name)
	if r.err == nil {
		r.err = err
	}
	return v
}

// botCounters are the bot's runtime counters over the load phase, from its /metrics.
type botCounters struct {
	allocBytes, gcCycles float64
	// gcPause is how long the GC stopped the world in the load phase, in seconds: every
	// command in flight waits that long. longestPause is the longest of the last 256 pauses
	// (debug.ReadGCStats' window), which may include the bot's start.
	gcPause, longestPause float64
	err                   error // why they are missing
}

// countersBetween is what the bot's allocation and GC counters grew by from before to after.
func countersBetween(before, after metricsPage) botCounters {
	r0, r1 := seriesReader{page: before}, seriesReader{page: after}
	c := botCounters{
		allocBytes:   r1.get(botAllocMetric) - r0.get(botAllocMetric),
		gcCycles:     r1.get(botGCMetric) - r0.get(botGCMetric),
		gcPause:      r1.get(botGCPauseMetric) - r0.get(botGCPauseMetric),
		longestPause: r1.get(botGCLongestPause),
	}
	if err := cmp.Or(r0.err, r1.err); err != nil {
		return botCounters{err: err}
	}
	return c
}

// histogramBetween is histogram name as observed from before to after.
func histogramBetween(before, after metricsPage, name string) (histogram, error) {
	h0, err := before.histogram(name)
	if err != nil {
		return histogram{}, err
	}
	h1, err := after.histogram(name)
	if err != nil {
		return histogram{}, err
	}
	return h1.minus(h0), nil
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
