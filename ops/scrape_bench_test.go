package ops_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"

	"github.com/orgtoken/orgtoken-bot/ops"
)

// BenchmarkMetricsScrape is one Prometheus scrape of /metrics as production sees it: Prometheus
// asks for gzip, and between scrapes (15 s or more apart) many GC cycles run, so nothing a
// previous scrape pooled is left. B/op is what each scrape adds to the bot's heap.
func BenchmarkMetricsScrape(b *testing.B) {
	h := ops.Handler(ops.Config{Logger: quietLogger()})
	srv := httptest.NewServer(h)
	defer srv.Close()
	client := srv.Client()
	scrape := func() int64 {
		req, err := http.NewRequest(http.MethodGet, srv.URL+"/metrics", nil)
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Accept-Encoding", "gzip")
		resp, err := client.Transport.RoundTrip(req)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		n, err := io.Copy(io.Discard, resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("scrape: %d, %v", resp.StatusCode, err)
		}
		return n
	}
	size := scrape()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		runtime.GC() // two cycles empty sync.Pools, as the time between real scrapes does
		runtime.GC()
		b.StartTimer()
		scrape()
	}
	b.ReportMetric(float64(size), "page-bytes")
}
