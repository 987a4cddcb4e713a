package store

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/orgtoken/orgtoken-bot/store/storetest"

	"github.com/stretchr/testify/require"
)

// testDB is one isolated database (an SQLite file, or a PostgreSQL schema)
// that any number of Stores can open, like replicas sharing state.
type testDB struct {
	backend string
	url     string
}

func (d testDB) open(t *testing.T, opts ...Option) *Store {
	t.Helper()
	s, err := Open(context.Background(), d.url, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// eachBackend runs test once against SQLite and once against PostgreSQL,
// each on a fresh database.
func eachBackend(t *testing.T, test func(t *testing.T, db testDB)) {
	t.Helper()
	for _, backend := range []string{BackendSQLite, BackendPostgres} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			test(t, newTestDB(t, backend))
		})
	}
}

func newTestDB(t *testing.T, backend string) testDB {
	t.Helper()
	if backend == BackendSQLite {
		return testDB{backend: backend, url: "sqlite://" + filepath.Join(t.TempDir(), "store.db")}
	}
	return testDB{backend: backend, url: storetest.PostgresURL(t)}
}

// rawExec runs SQL directly against the store's database, bypassing the API,
// to play the part of someone tampering with rows.
func rawExec(t *testing.T, s *Store, query string, args ...any) {
	t.Helper()
	_, err := s.db.Exec(s.rebind(query), args...)
	require.NoError(t, err)
}

// parallel runs fn(i) for i in [0,n) at once and waits for all of them.
func parallel(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			fn(i)
		}()
	}
	close(start)
	wg.Wait()
}
