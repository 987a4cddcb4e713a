package astroemu_test

import (
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/orgtoken/orgtoken-bot/emulators/astroemu"
)

func benchServer(b *testing.B, n int) (*astroemu.Server, *http.Client) {
	b.Helper()
	srv, err := astroemu.Start(astroemu.Options{OrganizationID: testOrg, APIToken: testToken, MaxRecorded: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(srv.Close)
	srv.SeedLarge(n)
	return srv, &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
}

func benchGet(b *testing.B, srv *astroemu.Server, client *http.Client, path string) {
	b.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL()+path, nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	b.ReportAllocs()
	for b.Loop() {
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}

// Over a real loopback socket, including response transfer: the figure tests pay.
func BenchmarkListTokens10kLimit1000(b *testing.B) {
	srv, client := benchServer(b, 10000)
	benchGet(b, srv, client, "/organizations/"+testOrg+"/tokens?limit=1000&offset=4000")
}

func BenchmarkListTokens10kWorkspaceFilter(b *testing.B) {
	srv, client := benchServer(b, 10000)
	benchGet(b, srv, client, "/organizations/"+testOrg+"/tokens?limit=1000&workspaceId="+srv.Workspaces()[0].ID)
}

func BenchmarkListTokens10kSortedByName(b *testing.B) {
	srv, client := benchServer(b, 10000)
	benchGet(b, srv, client, "/organizations/"+testOrg+"/tokens?limit=1000&sorts=name:asc")
}

func BenchmarkGetToken10k(b *testing.B) {
	srv, client := benchServer(b, 10000)
	benchGet(b, srv, client, "/organizations/"+testOrg+"/tokens/"+srv.Tokens()[5000].ID)
}

func BenchmarkSeedLarge10k(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		srv, err := astroemu.Start(astroemu.Options{})
		if err != nil {
			b.Fatal(err)
		}
		srv.SeedLarge(10000)
		srv.Close()
	}
}
