package store

import (
	"bufio"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// AuditEntry is one line of the append-only audit record. Seq, PrevHash and
// Hash are assigned by AppendAudit.
type AuditEntry struct {
	Seq            int64     `json:"seq"`
	At             time.Time `json:"at"`
	ActorID        string    `json:"actor_id,omitempty"`
	Action         string    `json:"action"` // e.g. role.changed, request.created, request.approved, revert.done
	TokenID        string    `json:"token_id,omitempty"`
	TokenName      string    `json:"token_name,omitempty"`
	WorkspaceID    string    `json:"workspace_id,omitempty"`
	Before         string    `json:"before,omitempty"`
	After          string    `json:"after,omitempty"`
	RequestID      string    `json:"request_id,omitempty"`
	AstroRequestID string    `json:"astro_request_id,omitempty"`
	SlackLink      string    `json:"slack_link,omitempty"`
	Detail         string    `json:"detail,omitempty"`
	PrevHash       string    `json:"prev_hash"`
	Hash           string    `json:"hash"`
}

// AuditFilter selects entries for ListAudit; zero fields match all.
type AuditFilter struct {
	TokenID   string
	RequestID string
	AfterSeq  int64     // only entries with a greater Seq
	Since     time.Time // inclusive
	Until     time.Time // exclusive
	Limit     int       // default 50, max 1000
	Newest    bool      // newest first (the default is oldest first)
}

// AuditError names the first entry that fails verification; it wraps
// ErrAuditTampered.
type AuditError struct {
	Seq    int64
	Reason string
}

func (e *AuditError) Error() string {
	return fmt.Sprintf("%v at seq %d: %s", ErrAuditTampered, e.Seq, e.Reason)
}

func (e *AuditError) Unwrap() error { return ErrAuditTampered }

const auditColumns = `seq, at, actor_id, action, token_id, token_name, workspace_id, before_value, after_value,
	request_id, astro_request_id, slack_link, detail, prev_hash, hash`

// AppendAudit appends e to the record and returns it with Seq, PrevHash and
// Hash set (and At defaulted to now, truncated to microseconds). Appends are
// serialised across replicas by locking the chain head row.
func (s *Store) AppendAudit(ctx context.Context, e AuditEntry) (AuditEntry, error) {
	if e.Action == "" {
		return AuditEntry{}, fmt.Errorf("%w: audit entry needs an Action", ErrInvalid)
	}
	e.At = s.clock(e.At)
	// On SQLite, appends batched together share one transaction, so each
	// reads the head the one before it wrote.
	err := s.write(ctx, func(ctx context.Context, tx querier) error {
		var headSeq int64
		var headHash string
		if err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1`+s.forUpdate()).Scan(&headSeq, &headHash); err != nil {
			return fmt.Errorf("store: audit head: %w", err)
		}
		e.Seq, e.PrevHash = headSeq+1, headHash
		e.Hash = auditHash(e)
		if _, err := tx.ExecContext(ctx, s.rebind(`INSERT INTO audit_log (`+auditColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			e.Seq, toDB(e.At), e.ActorID, e.Action, e.TokenID, e.TokenName, e.WorkspaceID, e.Before, e.After,
			e.RequestID, e.AstroRequestID, e.SlackLink, e.Detail, e.PrevHash, e.Hash); err != nil {
			return fmt.Errorf("store: append audit: %w", err)
		}
		if _, err := tx.ExecContext(ctx, s.rebind(`UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1`), e.Seq, e.Hash); err != nil {
			return fmt.Errorf("store: audit head: %w", err)
		}
		return nil
	})
	if err != nil {
		return AuditEntry{}, err
	}
	return e, nil
}

// auditHash is hex(sha256(PrevHash || "\n" || canonical)), where canonical
// is the JSON encoding of every stored field except Hash, in fixed order,
// with At as Unix microseconds. Changing this breaks verification of
// existing records.
func auditHash(e AuditEntry) string {
	canonical, _ := json.Marshal(struct {
		Seq            int64  `json:"seq"`
		At             int64  `json:"at_us"`
		ActorID        string `json:"actor_id"`
		Action         string `json:"action"`
		TokenID        string `json:"token_id"`
		TokenName      string `json:"token_name"`
		WorkspaceID    string `json:"workspace_id"`
		Before         string `json:"before"`
		After          string `json:"after"`
		RequestID      string `json:"request_id"`
		AstroRequestID string `json:"astro_request_id"`
		SlackLink      string `json:"slack_link"`
		Detail         string `json:"detail"`
	}{e.Seq, toDB(e.At), e.ActorID, e.Action, e.TokenID, e.TokenName, e.WorkspaceID, e.Before, e.After,
		e.RequestID, e.AstroRequestID, e.SlackLink, e.Detail})
	h := sha256.New()
	h.Write([]byte(e.PrevHash))
	h.Write([]byte("\n"))
	h.Write(canonical)
	return hex.EncodeToString(h.Sum(nil))
}

func scanAudit(row rowScanner) (AuditEntry, error) {
	var e AuditEntry
	var at int64
	err := row.Scan(&e.Seq, &at, &e.ActorID, &e.Action, &e.TokenID, &e.TokenName, &e.WorkspaceID, &e.Before, &e.After,
		&e.RequestID, &e.AstroRequestID, &e.SlackLink, &e.Detail, &e.PrevHash, &e.Hash)
	e.At = fromDB(at)
	return e, err
}

// ListAudit returns matching entries, oldest first unless f.Newest.
func (s *Store) ListAudit(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	var (
		where []string
		args  []any
	)
	if f.TokenID != "" {
		where = append(where, "token_id = ?")
		args = append(args, f.TokenID)
	}
	if f.RequestID != "" {
		where = append(where, "request_id = ?")
		args = append(args, f.RequestID)
	}
	if f.AfterSeq > 0 {
		where = append(where, "seq > ?")
		args = append(args, f.AfterSeq)
	}
	if !f.Since.IsZero() {
		where = append(where, "at >= ?")
		args = append(args, toDB(f.Since))
	}
	if !f.Until.IsZero() {
		where = append(where, "at < ?")
		args = append(args, toDB(f.Until))
	}
	query := `SELECT ` + auditColumns + ` FROM audit_log`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	if f.Newest {
		query += " ORDER BY seq DESC"
	} else {
		query += " ORDER BY seq"
	}
	query += " LIMIT ?"
	args = append(args, clampLimit(f.Limit, 50, 1000))

	rows, err := s.db.QueryContext(ctx, s.rebind(query), args...)
	if err != nil {
		return nil, fmt.Errorf("store: list audit: %w", err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list audit: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list audit: %w", err)
	}
	return out, nil
}

// VerifyAudit walks the whole chain and reports how many entries verified.
// An edited, deleted, reordered or inserted entry yields an *AuditError
// naming the first bad Seq. Appending a forged entry and rewriting the head
// to match cannot be detected from inside the database; export the head
// hash elsewhere if that matters.
func (s *Store) VerifyAudit(ctx context.Context) (int64, error) {
	// Read the head first and then only entries up to it, so appends that
	// land during the walk are not mistaken for tampering.
	var headSeq int64
	var headHash string
	if err := s.db.QueryRowContext(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1`).Scan(&headSeq, &headHash); err != nil {
		return 0, fmt.Errorf("store: verify audit: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, s.rebind(`SELECT `+auditColumns+` FROM audit_log WHERE seq <= ? ORDER BY seq`), headSeq)
	if err != nil {
		return 0, fmt.Errorf("store: verify audit: %w", err)
	}
	defer rows.Close()
	var (
		want     int64 = 1
		prevHash string
	)
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return want - 1, fmt.Errorf("store: verify audit: %w", err)
		}
		switch {
		case e.Seq != want:
			return want - 1, &AuditError{Seq: want, Reason: fmt.Sprintf("entry missing (next entry is seq %d)", e.Seq)}
		case e.PrevHash != prevHash:
			return want - 1, &AuditError{Seq: e.Seq, Reason: "previous-hash link broken"}
		case auditHash(e) != e.Hash:
			return want - 1, &AuditError{Seq: e.Seq, Reason: "contents do not match hash"}
		}
		prevHash = e.Hash
		want++
	}
	if err := rows.Err(); err != nil {
		return want - 1, fmt.Errorf("store: verify audit: %w", err)
	}
	if want-1 != headSeq {
		return want - 1, &AuditError{Seq: want, Reason: fmt.Sprintf("entry missing (chain head is seq %d)", headSeq)}
	}
	if prevHash != headHash {
		return want - 1, &AuditError{Seq: headSeq, Reason: "does not match the chain head"}
	}
	// Rows past the head were not written by AppendAudit.
	var extra sql.NullInt64
	if err := s.db.QueryRowContext(ctx, s.rebind(`SELECT MIN(seq) FROM audit_log WHERE seq > ?`), headSeq).Scan(&extra); err != nil {
		return want - 1, fmt.Errorf("store: verify audit: %w", err)
	}
	if extra.Valid {
		// A concurrent append may have moved the head since we read it.
		var nowHead int64
		if err := s.db.QueryRowContext(ctx, `SELECT seq FROM audit_head WHERE id = 1`).Scan(&nowHead); err != nil {
			return want - 1, fmt.Errorf("store: verify audit: %w", err)
		}
		if extra.Int64 > nowHead {
			return want - 1, &AuditError{Seq: extra.Int64, Reason: "entry beyond the chain head"}
		}
	}
	return want - 1, nil
}

// ExportAudit writes entries with At >= since (zero = all) to w as JSON
// lines, oldest first, each with its seq and hashes so the chain can be
// checked outside the database.
func (s *Store) ExportAudit(ctx context.Context, since time.Time, w io.Writer) error {
	rows, err := s.db.QueryContext(ctx, s.rebind(`SELECT `+auditColumns+` FROM audit_log WHERE at >= ? ORDER BY seq`), toDB(since))
	if err != nil {
		return fmt.Errorf("store: export audit: %w", err)
	}
	defer rows.Close()
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return fmt.Errorf("store: export audit: %w", err)
		}
		if err := enc.Encode(e); err != nil {
			return fmt.Errorf("store: export audit: %w", err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: export audit: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("store: export audit: %w", err)
	}
	return nil
}
