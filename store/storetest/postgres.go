// Package storetest gives tests a private PostgreSQL schema. Only tests import it.
package storetest

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
)

// DefaultPostgresURL is the PostgreSQL these machines run; ORGTOKEN_TEST_POSTGRES_URL overrides it.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

var (
	adminOnce sync.Once
	adminDB   *sql.DB
	adminErr  error
)

// BaseURL is the PostgreSQL the tests use.
func BaseURL() string {
	if u := os.Getenv("ORGTOKEN_TEST_POSTGRES_URL"); u != "" {
		return u
	}
	return DefaultPostgresURL
}

// PostgresURL creates a fresh schema for one test, dropped when it ends, and returns a URL whose
// search_path selects it, so tests (and bot processes) sharing the URL share exactly that schema.
// Without a reachable PostgreSQL the test is skipped with a visible message, except on CI
// (CI=true), where a silently skipped backend would hide failures.
func PostgresURL(t testing.TB) string {
	t.Helper()
	admin := adminPool(t)
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatalf("creating test schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil && !errors.Is(err, sql.ErrConnDone) {
			t.Logf("dropping schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(BaseURL())
	if err != nil {
		t.Fatalf("ORGTOKEN_TEST_POSTGRES_URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func adminPool(t testing.TB) *sql.DB {
	t.Helper()
	adminOnce.Do(func() {
		cfg, err := pgx.ParseConfig(BaseURL())
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
		shown := BaseURL()
		if u, err := url.Parse(shown); err == nil {
			shown = u.Redacted()
		}
		msg := fmt.Sprintf("PostgreSQL unavailable at %s (set ORGTOKEN_TEST_POSTGRES_URL): %v", shown, adminErr)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip("SKIPPING PostgreSQL test: " + msg)
	}
	return adminDB
}
