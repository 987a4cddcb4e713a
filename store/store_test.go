package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func latestMigration(t *testing.T) (version, count int) {
	t.Helper()
	ms, err := loadMigrations()
	require.NoError(t, err)
	require.NotEmpty(t, ms)
	return ms[len(ms)-1].version, len(ms)
}

func migrationRows(t *testing.T, s *Store) int {
	t.Helper()
	var n int
	require.NoError(t, s.db.QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&n))
	return n
}

func TestOpen(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, db testDB) {
		wantVersion, wantRows := latestMigration(t)

		t.Run("ReportsBackendAndPings", func(t *testing.T) {
			s := db.open(t)
			assert.Equal(t, db.backend, s.Backend())
			assert.NoError(t, s.Ping(context.Background()))
		})

		t.Run("MigrationsIdempotent", func(t *testing.T) {
			first := db.open(t)
			require.NoError(t, first.Close())
			again := db.open(t)
			v, err := again.SchemaVersion(context.Background())
			require.NoError(t, err)
			assert.Equal(t, wantVersion, v)
			assert.Equal(t, wantRows, migrationRows(t, again))
		})

		// Replicas (or a restart overlapping the old process) starting on a new database. On
		// SQLite the race is in the first connection's switch to WAL, which SQLite can refuse
		// at once with SQLITE_BUSY (TestOpenSQLiteWaitsOutAWriterOnAFreshFile forces it).
		t.Run("ConcurrentOpenOnFreshDatabase", func(t *testing.T) {
			for range 12 {
				fresh := newTestDB(t, db.backend)
				stores := make([]*Store, 6)
				errs := make([]error, 6)
				parallel(6, func(i int) {
					stores[i], errs[i] = Open(context.Background(), fresh.url)
				})
				for i := range stores {
					require.NoError(t, errs[i], "Open #%d", i)
					t.Cleanup(func() { _ = stores[i].Close() })
				}
				assert.Equal(t, wantRows, migrationRows(t, stores[0]))
				_, err := stores[1].AppendAudit(context.Background(), AuditEntry{Action: "store.opened"})
				assert.NoError(t, err, "schema usable after concurrent migration")
			}
		})
	})
}

func TestOpenSQLiteURLForms(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name string
		url  string
	}{
		{"SchemeWithAbsolutePath", "sqlite://" + filepath.Join(dir, "a.db")},
		{"SchemeWithThreeSlashes", "sqlite:///" + strings.TrimPrefix(filepath.Join(dir, "b.db"), "/")},
		{"FileURI", "file:" + filepath.Join(dir, "c.db") + "?cache=private"},
		{"BarePath", filepath.Join(dir, "d.db")},
		{"Memory", ":memory:"},
		{"SchemeMemory", "sqlite://:memory:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := Open(context.Background(), tt.url)
			require.NoError(t, err)
			defer s.Close()
			assert.Equal(t, BackendSQLite, s.Backend())
			_, err = s.AppendAudit(context.Background(), AuditEntry{Action: "store.opened"})
			assert.NoError(t, err)
		})
	}
}

// TestOpenSQLiteWaitsOutAWriterOnAFreshFile: while another connection holds the write lock of a
// new file still in rollback-journal mode (as a replica switching it to WAL does), SQLite
// refuses the switch at once, busy_timeout or not. Open waits the lock out instead of failing
// the bot's start, and a context that ends first is reported as such.
func TestOpenSQLiteWaitsOutAWriterOnAFreshFile(t *testing.T) {
	t.Parallel()
	holdWriteLock := func(t *testing.T, path string) (release func()) {
		t.Helper()
		db, err := sql.Open("sqlite", path)
		require.NoError(t, err)
		t.Cleanup(func() { _ = db.Close() })
		conn, err := db.Conn(context.Background())
		require.NoError(t, err)
		_, err = conn.ExecContext(context.Background(), "BEGIN IMMEDIATE")
		require.NoError(t, err)
		return func() {
			_, _ = conn.ExecContext(context.Background(), "COMMIT")
			_ = conn.Close()
		}
	}

	t.Run("OpensOnceTheLockIsReleased", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "store.db")
		release := holdWriteLock(t, path)
		released := time.AfterFunc(300*time.Millisecond, release)
		defer released.Stop()
		s, err := Open(context.Background(), "sqlite://"+path)
		require.NoError(t, err)
		defer s.Close()
		_, err = s.AppendAudit(context.Background(), AuditEntry{Action: "store.opened"})
		assert.NoError(t, err)
	})

	t.Run("ContextEndsFirst", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "store.db")
		defer holdWriteLock(t, path)()
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		_, err := Open(ctx, "sqlite://"+path)
		require.Error(t, err)
		assert.ErrorIs(t, err, context.DeadlineExceeded, "the caller's deadline, not only \"database is locked\"")
	})
}

func TestSQLiteDSN(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		url      string
		wantPath string
	}{
		{"RelativeAfterScheme", "sqlite://data/bot.db", "data/bot.db"},
		{"AbsoluteAfterScheme", "sqlite:///var/lib/bot.db", "/var/lib/bot.db"},
		{"OpaqueScheme", "sqlite:bot.db", "bot.db"},
		{"BarePath", "bot.db", "bot.db"},
		{"FileURIKeepsParams", "file:bot.db?mode=rwc", "file:bot.db?mode=rwc&"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dsn, _, err := sqliteDSN(tt.url)
			require.NoError(t, err)
			assert.True(t, strings.HasPrefix(dsn, tt.wantPath), "dsn %q", dsn)
			assert.Contains(t, dsn, "journal_mode(WAL)")
			assert.Contains(t, dsn, "busy_timeout")
			assert.Contains(t, dsn, "foreign_keys(1)")
		})
	}
}

// TestSQLiteCacheIsSmallUnlessTheURLSetsIt: the page cache is the store's own bound, and an
// operator's file: URL may choose another.
func TestSQLiteCacheIsSmallUnlessTheURLSetsIt(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tc := range []struct {
		url  string
		want int
	}{
		{"sqlite://" + filepath.Join(dir, "default.db"), sqliteCacheKiB},
		{"file:" + filepath.Join(dir, "own.db") + "?_pragma=cache_size(-4096)", -4096},
	} {
		s, err := Open(context.Background(), tc.url)
		require.NoError(t, err, tc.url)
		var got int
		require.NoError(t, s.db.QueryRowContext(context.Background(), "PRAGMA cache_size").Scan(&got))
		assert.Equal(t, tc.want, got, tc.url)
		require.NoError(t, s.Close())
	}
}

func TestOpenRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		url     string
		wantMsg string
	}{
		{"UnsupportedScheme", "mysql://root:hunter2@127.0.0.1/db", "unsupported database URL scheme"},
		{"SQLiteWithoutPath", "sqlite://", "names no file"},
		{"PostgresKeyValueString", "host=127.0.0.1 user=bot password=hunter2 dbname=x", "postgres://"},
		{"UnreachablePostgresHidesPassword", "postgres://bot:hunter2@127.0.0.1:1/db?connect_timeout=2", "PostgreSQL"},
		{"BadPostgresURLHidesPassword", "postgresql://bot:hunter2@127.0.0.1:notaport/db", "PostgreSQL"},
		// libpq and pgx also take the password as a query parameter.
		{"PasswordQueryParameterHidden", "postgres://bot@127.0.0.1:1/db?password=hunter2&connect_timeout=2", "PostgreSQL"},
		// A ";" makes url.Values drop the pair, but the driver's error may still quote it.
		{"PasswordQueryParameterWithSemicolonHidden", "postgres://bot@127.0.0.1:1/db?password=hunter2;x&connect_timeout=2", "PostgreSQL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := Open(context.Background(), tt.url)
			require.Error(t, err)
			assert.Nil(t, s)
			assert.Contains(t, err.Error(), tt.wantMsg)
			assert.NotContains(t, err.Error(), "hunter2")
		})
	}
}

func TestRedactURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"Password", "postgres://bot:s3cret@db:5432/x?sslmode=require", "postgres://bot:xxxxx@db:5432/x?sslmode=require"},
		{"UserOnly", "postgres://bot@db/x", "postgres://bot@db/x"},
		{"PasswordParameter", "postgres://bot@db/x?sslmode=require&password=s3cret", "postgres://bot@db/x?password=xxxxx&sslmode=require"},
		{"PasswordParameterWithSemicolon", "postgres://bot@db/x?sslmode=require&password=s3c;ret", "postgres://bot@db/x?password=xxxxx&sslmode=require"},
		{"Path", "sqlite:///var/lib/bot.db", "sqlite:///var/lib/bot.db"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, RedactURL(tt.in))
		})
	}
}
