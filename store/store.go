// Package store persists orgtoken-bot's shared state: approval requests, the
// hash-chained audit record, Slack envelope de-duplication, per-token locks and
// scheduled reverts of time-boxed role changes.
//
// Two backends sit behind one API. SQLite (the default, pure Go) needs nothing
// else but means exactly one replica: its token locks live in process memory.
// PostgreSQL lets several replicas share state; every cross-replica guarantee
// (one approval winner, one revert claimer, one envelope claimer, one chain
// appender, token locks) is enforced by the database, not by this process.
//
// Times are stored as Unix microseconds (UTC) in BIGINT columns on both
// backends, so one schema and one set of queries serve both and comparisons
// never depend on a driver's time formatting.
package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base32"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"modernc.org/sqlite" // also registers the "sqlite" database/sql driver
	sqlite3 "modernc.org/sqlite/lib"
)

// DefaultURL is used when Open is given an empty URL: an SQLite file in the
// working directory, so a single replica needs no database server.
const DefaultURL = "sqlite://orgtoken-bot.db"

// Backend names reported by Store.Backend.
const (
	BackendSQLite   = "sqlite"
	BackendPostgres = "postgres"
)

// Errors returned by Store methods; test with errors.Is.
var (
	ErrNotFound          = errors.New("store: not found")
	ErrInvalid           = errors.New("store: invalid argument")
	ErrNotPending        = errors.New("store: request is not pending")
	ErrDuplicateApproval = errors.New("store: user already approved this request")
	ErrExpired           = errors.New("store: request has expired")
	ErrStateConflict     = errors.New("store: state changed concurrently")
	ErrPendingExists     = errors.New("store: an identical request is pending")
	ErrAuditTampered     = errors.New("store: audit record does not verify")
)

// StateError reports a request (or revert) that was not in the state the
// caller needed. It wraps ErrNotPending or ErrStateConflict and carries the
// state actually found, so callers can tell "already approved" from "denied".
type StateError struct {
	ID    string
	State string // the state found
	Err   error  // ErrNotPending or ErrStateConflict
}

func (e *StateError) Error() string {
	return fmt.Sprintf("%v: %s is %s", e.Err, e.ID, e.State)
}

func (e *StateError) Unwrap() error { return e.Err }

// Store is safe for concurrent use.
type Store struct {
	db      *sql.DB
	lockDB  *sql.DB // PostgreSQL only: connections that hold token locks, kept apart so lock waiters never starve queries
	backend string
	schema  string // PostgreSQL schema the store lives in; namespaces advisory lock keys
	now     func() time.Time
	memLock *keyedMutex   // SQLite only
	batcher *writeBatcher // SQLite only: group-commits hot writes (see write)
	// SQLite files only: checkpoints the WAL off the writer's path (see checkpointer).
	checkpointer *checkpointer

	lastPrune atomic.Int64 // Unix microseconds of the last envelope prune

	// pendingOfToken is ListPendingReverts' query for one token, which every change the bot
	// makes runs: prepared once, as SQLite would otherwise compile it each time (half its cost).
	pendingOfToken struct {
		mu   sync.Mutex
		stmt *sql.Stmt // nil until prepared; a failed prepare is tried again next time
	}
}

// Option configures Open.
type Option func(*options)

type options struct {
	now      func() time.Time
	maxConns int
}

// WithClock sets the clock used where a caller leaves a time unset
// (CreatedAt, audit At, cancellation times). Defaults to time.Now.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// WithMaxConns caps the PostgreSQL query pool (default 10). Token locks use a
// separate pool of up to 64 connections. SQLite always uses one connection.
func WithMaxConns(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.maxConns = n
		}
	}
}

// Open connects to the database named by rawURL and applies pending
// migrations. Accepted forms:
//
//	postgres://user:pass@host:5432/db?sslmode=disable (or postgresql://)
//	sqlite:///abs/path.db, sqlite://rel/path.db, file:path.db?..., a bare path
//	:memory: or sqlite://:memory: (tests; one connection, gone on Close)
//
// An empty rawURL means DefaultURL. Errors never contain the URL's password.
func Open(ctx context.Context, rawURL string, opts ...Option) (*Store, error) {
	o := options{now: time.Now, maxConns: 10}
	for _, opt := range opts {
		opt(&o)
	}
	if rawURL == "" {
		rawURL = DefaultURL
	}
	s := &Store{now: o.now}
	var err error
	switch scheme := urlScheme(rawURL); scheme {
	case "postgres", "postgresql":
		err = s.openPostgres(ctx, rawURL, o)
	case "sqlite", "file", "":
		err = s.openSQLite(ctx, rawURL)
	default:
		return nil, fmt.Errorf("store: unsupported database URL scheme %q (want postgres://, sqlite:// or a file path)", scheme)
	}
	if err != nil {
		s.closeDBs()
		return nil, redactError(err, rawURL)
	}
	if err := s.migrate(ctx); err != nil {
		s.closeDBs()
		return nil, redactError(fmt.Errorf("store: migrate: %w", err), rawURL)
	}
	return s, nil
}

func urlScheme(raw string) string {
	i := strings.Index(raw, ":")
	if i <= 0 {
		return ""
	}
	scheme := strings.ToLower(raw[:i])
	for _, r := range scheme {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '+' || r == '-' || r == '.') {
			return "" // e.g. a Windows drive letter or an odd path: treat as a file path
		}
	}
	if len(scheme) == 1 {
		return "" // C:\path
	}
	return scheme
}

func (s *Store) openPostgres(ctx context.Context, rawURL string, o options) error {
	cfg, err := pgx.ParseConfig(rawURL)
	if err != nil {
		return fmt.Errorf("store: parse PostgreSQL URL %s: %w", RedactURL(rawURL), err)
	}
	s.backend = BackendPostgres
	s.db = stdlib.OpenDB(*cfg)
	s.db.SetMaxOpenConns(o.maxConns)
	s.db.SetMaxIdleConns(o.maxConns)
	s.db.SetConnMaxIdleTime(5 * time.Minute)
	s.lockDB = stdlib.OpenDB(*cfg.Copy(), stdlib.OptionAfterConnect(keepIdleLockSessions))
	s.lockDB.SetMaxOpenConns(64)
	s.lockDB.SetMaxIdleConns(2)
	s.lockDB.SetConnMaxIdleTime(5 * time.Minute)

	var schema sql.NullString
	if err := s.db.QueryRowContext(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return fmt.Errorf("store: connect to PostgreSQL %s: %w", RedactURL(rawURL), err)
	}
	if !schema.Valid {
		return fmt.Errorf("store: PostgreSQL %s: search_path names no existing schema", RedactURL(rawURL))
	}
	s.schema = schema.String
	return nil
}

// keepIdleLockSessions exempts a token-lock session from idle_session_timeout (PostgreSQL 14+),
// which a server, role or database may set: the session sits idle while its holder talks to
// Astro, and ending it would release the lock unnoticed while the holder's write goes ahead.
// Older servers have no such setting, so it is changed only where it exists.
func keepIdleLockSessions(ctx context.Context, conn *pgx.Conn) error {
	_, err := conn.Exec(ctx, `SELECT set_config('idle_session_timeout', '0', false)
		WHERE current_setting('idle_session_timeout', true) IS NOT NULL`)
	return err
}

// sqliteCacheKiB is SQLite's page cache (a negative cache_size counts KiB). The store's
// writes land on a few dozen pages (the envelopes' and audit log's right edges, their indexes'
// upper levels); SQLite's default of 2,000 KiB only kept pages read once, and cost the bot ≈ 3 MB
// of RSS at rest after 10,000 commands at no gain in speed (BenchmarkConcurrentInbox). A file:
// URL that sets cache_size itself keeps its own.
const sqliteCacheKiB = -512

// sqliteDSN turns an accepted SQLite URL into a modernc.org/sqlite DSN with
// the pragmas the store relies on. _txlock=immediate makes every transaction
// take the write lock at BEGIN, so read-then-write transactions cannot
// deadlock or lose updates when two processes share the file. ownCheckpoints says the
// store checkpoints the WAL itself (see checkpointer): a file whose URL leaves that to it.
func sqliteDSN(rawURL string) (dsn string, ownCheckpoints bool, err error) {
	path := rawURL
	switch {
	case strings.HasPrefix(strings.ToLower(rawURL), "sqlite://"):
		path = rawURL[len("sqlite://"):]
	case strings.HasPrefix(strings.ToLower(rawURL), "sqlite:"):
		path = rawURL[len("sqlite:"):]
	}
	if path == "" {
		return "", false, fmt.Errorf("store: SQLite URL %q names no file", rawURL)
	}
	if strings.Contains(path, "=") && strings.ContainsAny(path, " \t") && !strings.HasPrefix(path, "file:") {
		return "", false, fmt.Errorf("store: database URL looks like a PostgreSQL key=value string; use postgres://user@host/db")
	}
	memory := path == ":memory:" || strings.Contains(path, "mode=memory") || strings.HasPrefix(path, "file::memory:")
	if !strings.HasPrefix(path, "file:") && strings.Contains(path, "?") {
		return "", false, fmt.Errorf("store: SQLite path %q contains '?'; use a file: URI for parameters", path)
	}
	params := "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"
	if !memory {
		params += "&_pragma=journal_mode(WAL)"
		// A URL that sets wal_autocheckpoint chose how its WAL is checkpointed: SQLite's way.
		if ownCheckpoints = !strings.Contains(path, "wal_autocheckpoint"); ownCheckpoints {
			params += "&_pragma=wal_autocheckpoint(" + strconv.Itoa(sqliteCommitCheckpointPages) + ")"
		}
	}
	if !strings.Contains(path, "cache_size") {
		params += "&_pragma=cache_size(" + strconv.Itoa(sqliteCacheKiB) + ")"
	}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return path + sep + params, ownCheckpoints, nil
}

func (s *Store) openSQLite(ctx context.Context, rawURL string) error {
	dsn, ownCheckpoints, err := sqliteDSN(rawURL)
	if err != nil {
		return err
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return fmt.Errorf("store: open SQLite: %w", err)
	}
	s.backend = BackendSQLite
	s.db = db
	s.memLock = newKeyedMutex()
	// One connection serialises this process's writers (SQLite allows one
	// writer anyway) and keeps a :memory: database alive and shared.
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if err := pingSQLite(ctx, db); err != nil {
		return fmt.Errorf("store: open SQLite %s: %w", rawURL, err)
	}
	onCommit := func() {}
	if ownCheckpoints {
		cpDB, err := sql.Open("sqlite", dsn)
		if err != nil {
			return fmt.Errorf("store: open SQLite: %w", err)
		}
		cpDB.SetMaxOpenConns(1)
		cpDB.SetConnMaxLifetime(0)
		cpDB.SetConnMaxIdleTime(0)
		s.checkpointer = newCheckpointer(cpDB)
		onCommit = s.checkpointer.committed
	}
	s.batcher = newWriteBatcher(db, onCommit)
	return nil
}

// sqliteOpenBusyWait bounds how long pingSQLite retries a busy first connection: as long as
// the DSN's busy_timeout would have waited (a try begun just before it may wait out its own).
const sqliteOpenBusyWait = 10 * time.Second

// pingSQLite opens the first connection, which runs the DSN's pragmas. On a file still in
// rollback-journal mode its journal_mode(WAL) fails with SQLITE_BUSY at once, busy_timeout
// notwithstanding, while another connection holds or is taking the file's write lock (SQLite
// refuses rather than risk a deadlock): two replicas, or a restart overlapping the old
// process, starting on a new database, where the other is switching it to WAL. So a busy
// answer is retried, with a short pause, for as long as busy_timeout would have waited. A
// context that ends first is reported as such, beside the last busy answer.
func pingSQLite(ctx context.Context, db *sql.DB) error {
	deadline := time.Now().Add(sqliteOpenBusyWait)
	pause := 5 * time.Millisecond
	for {
		err := db.PingContext(ctx)
		var se *sqlite.Error
		if err == nil || !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_BUSY || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), err)
		case <-time.After(pause):
		}
		pause = min(2*pause, 200*time.Millisecond)
	}
}

// Close releases the database connections. Token locks still held are
// released on PostgreSQL because their sessions end. On SQLite, a write batch
// already running commits first; writes still queued fail.
func (s *Store) Close() error {
	return s.closeDBs()
}

func (s *Store) closeDBs() error {
	if s.batcher != nil {
		s.batcher.close() // before the DB closes, so it can finish its batch
	}
	var errs []error
	if s.checkpointer != nil {
		errs = append(errs, s.checkpointer.close())
	}
	if s.lockDB != nil {
		errs = append(errs, s.lockDB.Close())
	}
	s.pendingOfToken.mu.Lock()
	if s.pendingOfToken.stmt != nil {
		errs = append(errs, s.pendingOfToken.stmt.Close())
	}
	s.pendingOfToken.mu.Unlock()
	if s.db != nil {
		errs = append(errs, s.db.Close())
	}
	return errors.Join(errs...)
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping %s: %w", s.backend, err)
	}
	return nil
}

// Backend reports BackendSQLite or BackendPostgres.
func (s *Store) Backend() string { return s.backend }

// RedactURL returns rawURL with any password replaced by "xxxxx", for logs.
func RedactURL(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		if strings.Contains(rawURL, "@") || strings.Contains(strings.ToLower(rawURL), "password") {
			return "(unparseable database URL)"
		}
		return rawURL
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
	}
	// libpq and pgx also take the password as a query parameter.
	if q := u.Query(); q.Has("password") || len(queryPasswords(u.RawQuery)) > 0 {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// queryPasswords returns the password query parameters' values, as written and unescaped.
// It reads the query itself: url.Values drops a pair with a ";" in it (password=a;b), which a
// driver's error may still quote.
func queryPasswords(rawQuery string) []string {
	var pws []string
	for _, part := range strings.Split(rawQuery, "&") {
		k, v, _ := strings.Cut(part, "=")
		if key, err := url.QueryUnescape(k); err == nil {
			k = key
		}
		if k != "password" || v == "" {
			continue
		}
		pws = append(pws, v)
		if pw, err := url.QueryUnescape(v); err == nil && pw != v && pw != "" {
			pws = append(pws, pw)
		}
	}
	return pws
}

// redactError strips the URL's password from err's text; drivers sometimes
// echo connection strings back in their messages.
func redactError(err error, rawURL string) error {
	u, perr := url.Parse(rawURL)
	if perr != nil {
		return err
	}
	var pws []string
	if u.User != nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			pws = append(pws, pw)
		}
	}
	pws = append(pws, queryPasswords(u.RawQuery)...)
	msg := err.Error()
	for _, pw := range pws {
		for _, secret := range []string{pw, url.QueryEscape(pw), url.PathEscape(pw)} {
			msg = strings.ReplaceAll(msg, secret, "xxxxx")
		}
	}
	if msg == err.Error() {
		return err
	}
	return redactedError{msg: msg, err: err}
}

// redactedError shows a scrubbed message but still unwraps to the cause, so
// errors.Is(err, context.Canceled) keeps working.
type redactedError struct {
	msg string
	err error
}

func (e redactedError) Error() string { return e.msg }
func (e redactedError) Unwrap() error { return e.err }

// rebind rewrites '?' placeholders as $1, $2... for PostgreSQL. Queries in
// this package never contain a literal '?'.
func (s *Store) rebind(query string) string {
	if s.backend != BackendPostgres {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// forUpdate locks the selected rows on PostgreSQL; SQLite transactions are
// already exclusive (_txlock=immediate).
func (s *Store) forUpdate() string {
	if s.backend == BackendPostgres {
		return " FOR UPDATE"
	}
	return ""
}

// inTx runs fn in a transaction, committing when fn returns nil.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	if s.checkpointer != nil {
		s.checkpointer.committed()
	}
	return nil
}

func (s *Store) clock(t time.Time) time.Time {
	if t.IsZero() {
		t = s.now()
	}
	return t.UTC().Truncate(time.Microsecond)
}

// toDB and fromDB map times to stored Unix microseconds; the zero time is 0.
func toDB(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromDB(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newID returns prefix + 12 random base32 characters (60 bits): short enough
// for a Slack button value, URL-safe, and unguessable enough that IDs are not
// an enumeration target.
func newID(prefix string) string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return prefix + idEncoding.EncodeToString(b[:])[:12]
}
