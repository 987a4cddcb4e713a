package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/require"
)

const defaultTestPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

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
	admin := postgresAdmin(t)
	schema := "t_" + newID("")
	_, err := admin.Exec("CREATE SCHEMA " + schema)
	require.NoError(t, err)
	t.Cleanup(func() {
		_, err := admin.Exec("DROP SCHEMA " + schema + " CASCADE")
		require.NoError(t, err)
	})
	u, err := url.Parse(postgresURL())
	require.NoError(t, err)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return testDB{backend: backend, url: u.String()}
}

func postgresURL() string {
	if u := os.Getenv("ORGTOKEN_TEST_POSTGRES_URL"); u != "" {
		return u
	}
	return defaultTestPostgresURL
}

var (
	adminOnce sync.Once
	adminDB   *sql.DB
	adminErr  error
)

// postgresAdmin returns a pool for creating and dropping test schemas. If
// PostgreSQL is unreachable the test is skipped, except on CI (CI=true),
// where a silently skipped backend would hide failures.
func postgresAdmin(t *testing.T) *sql.DB {
	t.Helper()
	adminOnce.Do(func() {
		cfg, err := pgx.ParseConfig(postgresURL())
		if err != nil {
			adminErr = err
			return
		}
		db := stdlib.OpenDB(*cfg)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		if err := db.PingContext(ctx); err != nil {
			_ = db.Close()
			adminErr = err
			return
		}
		adminDB = db
	})
	if adminErr != nil {
		msg := fmt.Sprintf("PostgreSQL unavailable at %s (set ORGTOKEN_TEST_POSTGRES_URL): %v", RedactURL(postgresURL()), adminErr)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip("SKIPPING PostgreSQL tests: " + msg)
	}
	return adminDB
}

func TestMain(m *testing.M) {
	code := m.Run()
	if adminDB != nil {
		_ = adminDB.Close()
	}
	os.Exit(code)
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
