package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// pgUniqueViolation is PostgreSQL's SQLSTATE for a unique index refusing a row.
const pgUniqueViolation = "23505"

// State is an approval request's lifecycle state.
type State string

// Request states. pending → approved (quorum reached, being applied) →
// applying (a write to Astro is about to be sent) → applied | failed;
// approved → applied | failed | stale | expired when no write is needed or
// made, or pending again when approvals it was approved with no longer
// count; pending → denied | expired | cancelled | stale.
const (
	StatePending   State = "pending"
	StateApproved  State = "approved"
	StateApplying  State = "applying"
	StateApplied   State = "applied"
	StateFailed    State = "failed"
	StateDenied    State = "denied"
	StateExpired   State = "expired"
	StateCancelled State = "cancelled"
	StateStale     State = "stale"
)

// Request is a role change waiting for (or past) approval.
type Request struct {
	ID              string // "r" + 12 base32 chars; assigned by CreateRequest
	RequesterID     string
	ChannelID       string // where it was requested
	TokenID         string
	TokenName       string
	WorkspaceID     string
	WorkspaceName   string
	CurrentRole     string // role when requested; "" = none
	RequestedRole   string // "" = removal
	Action          string // add, update, remove
	Reason          string
	Rule            string // the policy rule that demanded approval
	ApprovalsNeeded int
	ApproverGroups  []string
	ApprovalChannel string
	MessageTS       string
	Elevation       time.Duration // 0 = permanent; else revert after this long
	State           State
	CreatedAt       time.Time
	ExpiresAt       time.Time
	DecidedAt       time.Time // time of the latest state change
	DecidedBy       string
	Result          string
	Approvals       []Approval // oldest first
	// ApplyingSeq is the audit record's last Seq when the request was claimed for applying
	// (Transition to StateApplying): entries of changes after its write went out have a greater
	// Seq, whatever their At. 0 when none was kept (never claimed, claimed before it was kept,
	// or claimed while the record was empty).
	ApplyingSeq int64
}

// Approval is one approver's vote.
type Approval struct {
	UserID string
	At     time.Time
}

// RequestFilter selects requests for ListRequests; zero fields match all.
type RequestFilter struct {
	States      []State
	RequesterID string
	TokenID     string
	Limit       int // default 100, max 1000
}

// TransitionUpdate is recorded with a state change. Empty fields leave the
// stored values alone; a zero At means now.
type TransitionUpdate struct {
	DecidedBy string
	Result    string
	At        time.Time
}

const requestColumns = `id, requester_id, channel_id, token_id, token_name, workspace_id, workspace_name,
	role_before, role_requested, action, reason, rule, approvals_needed, approver_groups,
	approval_channel, message_ts, elevation_ms, state, created_at, expires_at, decided_at, decided_by, result,
	applying_seq`

type rowScanner interface {
	Scan(dest ...any) error
}

type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func scanRequest(row rowScanner) (Request, error) {
	var (
		r                               Request
		groups                          string
		elevationMS                     int64
		createdAt, expiresAt, decidedAt int64
		state                           string
		applyingSeq                     sql.NullInt64
	)
	err := row.Scan(&r.ID, &r.RequesterID, &r.ChannelID, &r.TokenID, &r.TokenName, &r.WorkspaceID, &r.WorkspaceName,
		&r.CurrentRole, &r.RequestedRole, &r.Action, &r.Reason, &r.Rule, &r.ApprovalsNeeded, &groups,
		&r.ApprovalChannel, &r.MessageTS, &elevationMS, &state, &createdAt, &expiresAt, &decidedAt, &r.DecidedBy, &r.Result,
		&applyingSeq)
	if err != nil {
		return Request{}, err
	}
	if err := json.Unmarshal([]byte(groups), &r.ApproverGroups); err != nil {
		return Request{}, fmt.Errorf("store: request %s: approver groups: %w", r.ID, err)
	}
	r.Elevation = time.Duration(elevationMS) * time.Millisecond
	r.State = State(state)
	r.CreatedAt, r.ExpiresAt, r.DecidedAt = fromDB(createdAt), fromDB(expiresAt), fromDB(decidedAt)
	r.ApplyingSeq = applyingSeq.Int64 // 0 when NULL
	return r, nil
}

// CreateRequest stores r as a new pending request with a fresh ID. If an
// identical request is already pending — same token, workspace, action and
// requested role, whoever asked — that one is returned with created=false,
// even when its ExpiresAt has passed: the caller closes it (expires it,
// redrawing its message) and tries again, rather than the store closing it
// where nobody would tell its requester or approvers.
func (s *Store) CreateRequest(ctx context.Context, r Request) (Request, bool, error) {
	if err := validateRequest(r); err != nil {
		return Request{}, false, err
	}
	r.State = StatePending
	r.CreatedAt = s.clock(r.CreatedAt)
	r.ExpiresAt = r.ExpiresAt.UTC().Truncate(time.Microsecond)
	r.DecidedAt, r.DecidedBy, r.Result, r.Approvals = time.Time{}, "", "", nil
	if r.ApproverGroups == nil {
		r.ApproverGroups = []string{}
	}
	groups, err := json.Marshal(r.ApproverGroups)
	if err != nil {
		return Request{}, false, fmt.Errorf("store: approver groups: %w", err)
	}

	// A conflicting pending row may leave the pending state between our
	// insert and our read; then the insert is simply tried again.
	for attempt := 0; attempt < 5; attempt++ {
		var (
			out     Request
			created bool
		)
		r.ID = newID("r") // fresh each try: a (vanishingly rare) ID collision also lands here
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, s.rebind(`INSERT INTO requests (`+requestColumns+`)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)
				ON CONFLICT DO NOTHING`),
				r.ID, r.RequesterID, r.ChannelID, r.TokenID, r.TokenName, r.WorkspaceID, r.WorkspaceName,
				r.CurrentRole, r.RequestedRole, r.Action, r.Reason, r.Rule, r.ApprovalsNeeded, string(groups),
				r.ApprovalChannel, r.MessageTS, r.Elevation.Milliseconds(), string(r.State),
				toDB(r.CreatedAt), toDB(r.ExpiresAt), int64(0), "", "")
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n == 1 {
				out, created = r, true
				return nil
			}
			row := tx.QueryRowContext(ctx, s.rebind(`SELECT `+requestColumns+` FROM requests
				WHERE token_id = ? AND workspace_id = ? AND action = ? AND role_requested = ? AND state = ?`),
				r.TokenID, r.WorkspaceID, r.Action, r.RequestedRole, string(StatePending))
			existing, err := scanRequest(row)
			if err != nil {
				return err
			}
			if existing.Approvals, err = s.loadApprovals(ctx, tx, existing.ID); err != nil {
				return err
			}
			out = existing
			return nil
		})
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return Request{}, false, fmt.Errorf("store: create request: %w", err)
		}
		return out, created, nil
	}
	return Request{}, false, fmt.Errorf("store: create request: %w: identical request kept changing state", ErrStateConflict)
}

func validateRequest(r Request) error {
	var missing []string
	for name, v := range map[string]string{"RequesterID": r.RequesterID, "TokenID": r.TokenID, "WorkspaceID": r.WorkspaceID, "Action": r.Action} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: request needs %s", ErrInvalid, strings.Join(missing, ", "))
	}
	if r.ApprovalsNeeded < 1 {
		return fmt.Errorf("%w: request needs ApprovalsNeeded >= 1, got %d", ErrInvalid, r.ApprovalsNeeded)
	}
	if r.ExpiresAt.IsZero() {
		return fmt.Errorf("%w: request needs ExpiresAt", ErrInvalid)
	}
	if r.Elevation < 0 {
		return fmt.Errorf("%w: negative elevation %s", ErrInvalid, r.Elevation)
	}
	return nil
}

// GetRequest returns the request with its approvals, or ErrNotFound.
func (s *Store) GetRequest(ctx context.Context, id string) (Request, error) {
	r, err := s.getRequest(ctx, s.db, id, false)
	if err != nil {
		return Request{}, err
	}
	return r, nil
}

// getRequest reads a request and its approvals; lock takes a row lock on
// PostgreSQL (q must then be a transaction).
func (s *Store) getRequest(ctx context.Context, q querier, id string, lock bool) (Request, error) {
	query := `SELECT ` + requestColumns + ` FROM requests WHERE id = ?`
	if lock {
		query += s.forUpdate()
	}
	r, err := scanRequest(q.QueryRowContext(ctx, s.rebind(query), id))
	if errors.Is(err, sql.ErrNoRows) {
		return Request{}, fmt.Errorf("%w: request %s", ErrNotFound, id)
	}
	if err != nil {
		return Request{}, fmt.Errorf("store: get request %s: %w", id, err)
	}
	if r.Approvals, err = s.loadApprovals(ctx, q, id); err != nil {
		return Request{}, err
	}
	return r, nil
}

func (s *Store) loadApprovals(ctx context.Context, q querier, id string) ([]Approval, error) {
	rows, err := q.QueryContext(ctx, s.rebind(`SELECT user_id, approved_at FROM approvals WHERE request_id = ? ORDER BY approved_at, user_id`), id)
	if err != nil {
		return nil, fmt.Errorf("store: approvals of %s: %w", id, err)
	}
	defer rows.Close()
	var out []Approval
	for rows.Next() {
		var a Approval
		var at int64
		if err := rows.Scan(&a.UserID, &at); err != nil {
			return nil, err
		}
		a.At = fromDB(at)
		out = append(out, a)
	}
	return out, rows.Err()
}

// SetRequestMessage records where the approval message was posted.
func (s *Store) SetRequestMessage(ctx context.Context, id, channel, ts string) error {
	res, err := s.db.ExecContext(ctx, s.rebind(`UPDATE requests SET approval_channel = ?, message_ts = ? WHERE id = ?`), channel, ts, id)
	if err != nil {
		return fmt.Errorf("store: set request message: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("store: set request message: %w", err)
	} else if n == 0 {
		return fmt.Errorf("%w: request %s", ErrNotFound, id)
	}
	return nil
}

// ListRequests returns matching requests, newest first.
func (s *Store) ListRequests(ctx context.Context, f RequestFilter) ([]Request, error) {
	var (
		where []string
		args  []any
	)
	if len(f.States) > 0 {
		where = append(where, "state IN (?"+strings.Repeat(", ?", len(f.States)-1)+")")
		for _, st := range f.States {
			args = append(args, string(st))
		}
	}
	if f.RequesterID != "" {
		where = append(where, "requester_id = ?")
		args = append(args, f.RequesterID)
	}
	if f.TokenID != "" {
		where = append(where, "token_id = ?")
		args = append(args, f.TokenID)
	}
	query := `SELECT ` + requestColumns + ` FROM requests`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY created_at DESC, id LIMIT ?"
	args = append(args, clampLimit(f.Limit, 100, 1000))
	return s.queryRequests(ctx, query, args...)
}

// ListExpiredPending returns pending requests whose ExpiresAt is at or
// before now, oldest expiry first, for the expiry sweeper.
func (s *Store) ListExpiredPending(ctx context.Context, now time.Time) ([]Request, error) {
	return s.queryRequests(ctx, `SELECT `+requestColumns+` FROM requests
		WHERE state = ? AND expires_at <= ? ORDER BY expires_at, id LIMIT 500`, string(StatePending), toDB(now))
}

func (s *Store) queryRequests(ctx context.Context, query string, args ...any) ([]Request, error) {
	rows, err := s.db.QueryContext(ctx, s.rebind(query), args...)
	if err != nil {
		return nil, fmt.Errorf("store: list requests: %w", err)
	}
	var out []Request
	for rows.Next() {
		r, err := scanRequest(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: list requests: %w", err)
		}
		out = append(out, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list requests: %w", err)
	}
	// Approvals are read after the request rows are closed: SQLite has a
	// single connection, which the open cursor would still hold.
	for i := range out {
		if out[i].Approvals, err = s.loadApprovals(ctx, s.db, out[i].ID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func clampLimit(n, def, max int) int {
	switch {
	case n <= 0:
		return def
	case n > max:
		return max
	}
	return n
}

// Tally is a caller's fresh check of the approvals already recorded on a request, given to
// AddApproval and CompleteApproval: group membership and policy change while a request waits, so
// only the caller, who asked again, knows which still count. Approvals by Counted count; Void
// ones no longer do and are removed (matched by user and time, so a later approval by the same
// person is kept); any other recorded approval was not checked and counts for nothing.
type Tally struct {
	Counted []string
	Void    []Approval
}

// AddApproval records userID's approval of request id at at (zero = now).
// When userID and the recorded approvals t counts reach the quorum, the same
// transaction moves the request from pending to approved and won is true:
// exactly one caller, in any replica, sees won and must apply the change.
// t's void approvals are removed either way. The request returned holds
// every approval recorded, counted or not. Once approved, further approvals
// fail with ErrNotPending.
//
// Errors: ErrNotFound; ErrNotPending (a *StateError naming the current
// state); ErrExpired when ExpiresAt has passed (nothing is recorded);
// ErrDuplicateApproval when userID already approved (nothing is recorded).
func (s *Store) AddApproval(ctx context.Context, id, userID string, at time.Time, t Tally) (req Request, won bool, err error) {
	if userID == "" {
		return Request{}, false, fmt.Errorf("%w: empty approver id", ErrInvalid)
	}
	at = s.clock(at)
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		r, err := s.pendingForApproval(ctx, tx, id, at)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, s.rebind(`INSERT INTO approvals (request_id, user_id, approved_at) VALUES (?, ?, ?)
			ON CONFLICT DO NOTHING`), id, userID, toDB(at))
		if err != nil {
			return fmt.Errorf("store: add approval: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("store: add approval: %w", err)
		} else if n == 0 {
			return fmt.Errorf("%w: %s on %s", ErrDuplicateApproval, userID, id)
		}
		r.Approvals = append(r.Approvals, Approval{UserID: userID, At: at})
		t.Counted = append(slices.Clip(t.Counted), userID)
		if won, err = s.decideApproval(ctx, tx, &r, userID, at, t); err != nil {
			return err
		}
		req = r
		return nil
	})
	if err != nil {
		return Request{}, false, err
	}
	return req, won, nil
}

// CompleteApproval moves pending request id to approved, on by's behalf, when
// the recorded approvals t counts reach the quorum (won), after removing t's
// void approvals. It is for approvals recorded concurrently, which the caller
// that saw them last checks and counts. Errors as AddApproval.
func (s *Store) CompleteApproval(ctx context.Context, id, by string, at time.Time, t Tally) (req Request, won bool, err error) {
	at = s.clock(at)
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		r, err := s.pendingForApproval(ctx, tx, id, at)
		if err != nil {
			return err
		}
		if won, err = s.decideApproval(ctx, tx, &r, by, at, t); err != nil {
			return err
		}
		req = r
		return nil
	})
	if err != nil {
		return Request{}, false, err
	}
	return req, won, nil
}

// pendingForApproval reads request id with a lock, and fails unless it is
// pending and unexpired at at.
func (s *Store) pendingForApproval(ctx context.Context, tx *sql.Tx, id string, at time.Time) (Request, error) {
	r, err := s.getRequest(ctx, tx, id, true)
	if err != nil {
		return Request{}, err
	}
	if r.State != StatePending {
		return Request{}, &StateError{ID: id, State: string(r.State), Err: ErrNotPending}
	}
	if !at.Before(r.ExpiresAt) {
		return Request{}, fmt.Errorf("%w: request %s expired at %s", ErrExpired, id, r.ExpiresAt.Format(time.RFC3339))
	}
	return r, nil
}

// decideApproval removes t's void approvals from locked pending request r and
// approves it, on by's behalf, when the approvals t counts reach the quorum.
func (s *Store) decideApproval(ctx context.Context, tx *sql.Tx, r *Request, by string, at time.Time, t Tally) (won bool, err error) {
	if err := s.removeVoid(ctx, tx, r, t.Void); err != nil {
		return false, err
	}
	counted := 0
	for _, a := range r.Approvals {
		if slices.Contains(t.Counted, a.UserID) {
			counted++
		}
	}
	if counted < r.ApprovalsNeeded {
		return false, nil
	}
	// The row is locked (PostgreSQL) or the database is (SQLite), so this
	// cannot race; the state guard is belt and braces.
	if _, err := tx.ExecContext(ctx, s.rebind(`UPDATE requests SET state = ?, decided_at = ?, decided_by = ?
		WHERE id = ? AND state = ?`), string(StateApproved), toDB(at), by, r.ID, string(StatePending)); err != nil {
		return false, fmt.Errorf("store: approve: %w", err)
	}
	r.State, r.DecidedAt, r.DecidedBy = StateApproved, at, by
	return true, nil
}

// removeVoid deletes the void approvals from r, in the store and in r.
func (s *Store) removeVoid(ctx context.Context, tx *sql.Tx, r *Request, void []Approval) error {
	for _, v := range void {
		if _, err := tx.ExecContext(ctx, s.rebind(`DELETE FROM approvals WHERE request_id = ? AND user_id = ? AND approved_at = ?`),
			r.ID, v.UserID, toDB(v.At)); err != nil {
			return fmt.Errorf("store: remove approval: %w", err)
		}
		r.Approvals = slices.DeleteFunc(r.Approvals, func(a Approval) bool { return a.UserID == v.UserID && a.At.Equal(v.At) })
	}
	return nil
}

// Reopen moves approved request id back to pending, removing its void
// approvals, for when approvals it was approved with no longer count.
// Errors: ErrNotFound; a *StateError wrapping ErrStateConflict when it is not
// approved; ErrPendingExists when an identical request was opened meanwhile
// (only one may be pending).
func (s *Store) Reopen(ctx context.Context, id string, void []Approval, at time.Time) (Request, error) {
	at = s.clock(at)
	var out Request
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		r, err := s.getRequest(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if r.State != StateApproved {
			return &StateError{ID: id, State: string(r.State), Err: ErrStateConflict}
		}
		var other string
		err = tx.QueryRowContext(ctx, s.rebind(`SELECT id FROM requests
			WHERE token_id = ? AND workspace_id = ? AND action = ? AND role_requested = ? AND state = ?`),
			r.TokenID, r.WorkspaceID, r.Action, r.RequestedRole, string(StatePending)).Scan(&other)
		switch {
		case err == nil:
			return fmt.Errorf("%w: %s", ErrPendingExists, other)
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("store: reopen: %w", err)
		}
		if _, err := tx.ExecContext(ctx, s.rebind(`UPDATE requests SET state = ?, decided_at = ?, decided_by = '' WHERE id = ?`),
			string(StatePending), toDB(at), id); err != nil {
			// On PostgreSQL another replica may have opened an identical request since the
			// look above; the unique index then refuses this one.
			if pgErr := (*pgconn.PgError)(nil); errors.As(err, &pgErr) && pgErr.Code == pgUniqueViolation {
				return fmt.Errorf("%w: %v", ErrPendingExists, err)
			}
			return fmt.Errorf("store: reopen: %w", err)
		}
		if err := s.removeVoid(ctx, tx, &r, void); err != nil {
			return err
		}
		r.State, r.DecidedAt, r.DecidedBy = StatePending, at, ""
		out = r
		return nil
	})
	if err != nil {
		return Request{}, err
	}
	return out, nil
}

// Transition moves request id from state from to state to, recording upd,
// as a compare-and-set: if the request is not in from, nothing changes and
// a *StateError wrapping ErrStateConflict names the state found. Used for
// deny, cancel, expire, stale (from pending); applying, and applied, failed,
// stale, expired without a write (from approved); applied, failed (from
// applying). A transition to StateApplying also records the audit record's
// last seq then (Request.ApplyingSeq).
func (s *Store) Transition(ctx context.Context, id string, from, to State, upd TransitionUpdate) (Request, error) {
	at := s.clock(upd.At)
	var out Request
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.rebind(`UPDATE requests SET state = ?, decided_at = ?,
			decided_by = CASE WHEN ? = '' THEN decided_by ELSE ? END,
			result = CASE WHEN ? = '' THEN result ELSE ? END,
			applying_seq = CASE WHEN ? = '' THEN applying_seq ELSE (SELECT seq FROM audit_head WHERE id = 1) END
			WHERE id = ? AND state = ?`),
			string(to), toDB(at), upd.DecidedBy, upd.DecidedBy, upd.Result, upd.Result, applyingMark(to), id, string(from))
		if err != nil {
			return fmt.Errorf("store: transition: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("store: transition: %w", err)
		}
		r, err := s.getRequest(ctx, tx, id, false)
		if err != nil {
			return err
		}
		if n == 0 {
			return &StateError{ID: id, State: string(r.State), Err: ErrStateConflict}
		}
		out = r
		return nil
	})
	if err != nil {
		return Request{}, err
	}
	return out, nil
}

// applyingMark is non-empty for a transition to StateApplying, which records the audit record's
// last seq (Request.ApplyingSeq): every entry appended before the claim has at most that seq.
func applyingMark(to State) string {
	if to == StateApplying {
		return "applying"
	}
	return ""
}
