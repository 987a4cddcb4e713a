package e2e

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/store"
)

const defaultTestPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

var (
	pgOnce  sync.Once
	pgAdmin *sql.DB
	pgErr   error
)

// postgresSchemaURL creates a fresh schema for one test and returns a URL whose search_path
// selects it. Without a reachable PostgreSQL the test is skipped, except on CI (CI=true).
func postgresSchemaURL(t *testing.T) string {
	t.Helper()
	base := os.Getenv("ORGTOKEN_TEST_POSTGRES_URL")
	if base == "" {
		base = defaultTestPostgresURL
	}
	pgOnce.Do(func() {
		cfg, err := pgx.ParseConfig(base)
		if err != nil {
			pgErr = err
			return
		}
		db := stdlib.OpenDB(*cfg)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		if err := db.PingContext(ctx); err != nil {
			_ = db.Close()
			pgErr = err
			return
		}
		pgAdmin = db
	})
	if pgErr != nil {
		msg := fmt.Sprintf("PostgreSQL unavailable at %s (set ORGTOKEN_TEST_POSTGRES_URL): %v", store.RedactURL(base), pgErr)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip("SKIPPING PostgreSQL test: " + msg)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "e2e_" + hex.EncodeToString(b[:])
	_, err := pgAdmin.Exec("CREATE SCHEMA " + schema)
	require.NoError(t, err)
	t.Cleanup(func() {
		if _, err := pgAdmin.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil && !errors.Is(err, sql.ErrConnDone) {
			t.Logf("dropping schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	require.NoError(t, err)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
