package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"time"
)

// RevertState is a scheduled revert's lifecycle state. A pending revert
// whose lease has not run out is being worked on by LeaseOwner.
type RevertState string

// Revert states.
const (
	RevertPending   RevertState = "pending"
	RevertDone      RevertState = "done"
	RevertCancelled RevertState = "cancelled"
)

// Revert undoes a time-boxed role change when it falls due.
type Revert struct {
	ID           string // "v" + 12 base32 chars; assigned by ScheduleRevert
	RequestID    string // the approval request that granted the elevation, if any
	TokenID      string
	TokenName    string
	WorkspaceID  string
	RevertTo     string // role to restore; "" = remove the token from the workspace
	ExpectedRole string // the role we set; if the token holds another, someone changed it: report, don't clobber
	DueAt        time.Time
	RequestedBy  string
	ChannelID    string

	State       RevertState
	LeaseOwner  string
	LeaseUntil  time.Time
	Attempts    int // times claimed
	Outcome     string
	CreatedAt   time.Time
	FinishedAt  time.Time // completed or cancelled
	CancelledBy string
	// MayHaveWritten: an attempt's write may have landed unseen (Astro's answer was lost), so a
	// role found put back may be the bot's doing (NoteMayHaveWritten).
	MayHaveWritten bool
}

const revertColumns = `id, request_id, token_id, token_name, workspace_id, revert_to, expected_role, due_at,
	requested_by, channel_id, state, claimed_by, lease_until, attempts, outcome, created_at, finished_at, cancelled_by,
	may_have_written`

func scanRevert(row rowScanner) (Revert, error) {
	var (
		r                                      Revert
		state                                  string
		dueAt, leaseUntil, createdAt, finished int64
		written                                int64
	)
	err := row.Scan(&r.ID, &r.RequestID, &r.TokenID, &r.TokenName, &r.WorkspaceID, &r.RevertTo, &r.ExpectedRole, &dueAt,
		&r.RequestedBy, &r.ChannelID, &state, &r.LeaseOwner, &leaseUntil, &r.Attempts, &r.Outcome, &createdAt, &finished, &r.CancelledBy,
		&written)
	r.State = RevertState(state)
	r.DueAt, r.LeaseUntil, r.CreatedAt, r.FinishedAt = fromDB(dueAt), fromDB(leaseUntil), fromDB(createdAt), fromDB(finished)
	r.MayHaveWritten = written != 0
	return r, err
}

func boolToDB(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// ScheduleRevert stores r as a pending revert with a fresh ID. Of what attempts leave behind it
// keeps only MayHaveWritten, so that an attempt handed on to a new revert (a failed revert-now's
// retry) is not forgotten.
func (s *Store) ScheduleRevert(ctx context.Context, r Revert) (Revert, error) {
	if r.TokenID == "" || r.WorkspaceID == "" || r.DueAt.IsZero() {
		return Revert{}, fmt.Errorf("%w: revert needs TokenID, WorkspaceID and DueAt", ErrInvalid)
	}
	r.ID = newID("v")
	r.State = RevertPending
	r.DueAt = r.DueAt.UTC().Truncate(time.Microsecond)
	r.CreatedAt = s.clock(time.Time{})
	r.LeaseOwner, r.LeaseUntil, r.Attempts, r.Outcome, r.FinishedAt, r.CancelledBy = "", time.Time{}, 0, "", time.Time{}, ""
	_, err := s.db.ExecContext(ctx, s.rebind(`INSERT INTO reverts (`+revertColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		r.ID, r.RequestID, r.TokenID, r.TokenName, r.WorkspaceID, r.RevertTo, r.ExpectedRole, toDB(r.DueAt),
		r.RequestedBy, r.ChannelID, string(r.State), "", int64(0), 0, "", toDB(r.CreatedAt), int64(0), "", boolToDB(r.MayHaveWritten))
	if err != nil {
		return Revert{}, fmt.Errorf("store: schedule revert: %w", err)
	}
	return r, nil
}

// ClaimDueReverts leases up to 50 pending reverts due at or before now to
// owner until now+lease, earliest first. A revert is handed to one claimer
// at a time across replicas; if that claimer neither completes nor cancels
// it before the lease runs out (it died), a later call hands it out again.
func (s *Store) ClaimDueReverts(ctx context.Context, now time.Time, owner string, lease time.Duration) ([]Revert, error) {
	if owner == "" || lease <= 0 {
		return nil, fmt.Errorf("%w: claim needs an owner and a positive lease", ErrInvalid)
	}
	now = s.clock(now)
	nowUS, until := toDB(now), toDB(now.Add(lease))
	// On PostgreSQL, SKIP LOCKED lets concurrent claimers split the due rows
	// instead of queueing; the outer conditions are re-checked against the
	// latest row version, so a row is never leased twice. SQLite's
	// immediate transaction serialises claimers outright.
	lockClause := ""
	if s.backend == BackendPostgres {
		lockClause = " FOR UPDATE SKIP LOCKED"
	}
	query := `UPDATE reverts SET claimed_by = ?, lease_until = ?, attempts = attempts + 1
		WHERE id IN (SELECT id FROM reverts WHERE state = ? AND due_at <= ? AND lease_until <= ?
		             ORDER BY due_at, id LIMIT 50` + lockClause + `)
		  AND state = ? AND due_at <= ? AND lease_until <= ?
		RETURNING ` + revertColumns
	var out []Revert
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, s.rebind(query), owner, until,
			string(RevertPending), nowUS, nowUS, string(RevertPending), nowUS, nowUS)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			r, err := scanRevert(rows)
			if err != nil {
				return err
			}
			out = append(out, r)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("store: claim reverts: %w", err)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].DueAt.Equal(out[j].DueAt) {
			return out[i].DueAt.Before(out[j].DueAt)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// ReleaseRevert hands back claim, a revert as ClaimDueReverts returned it, that its claimer did
// not get to attempt (the token's lock could not be had in time): its lease ends, so the next
// claim may take it at once, and the claim is not counted among its attempts. It reports whether
// it did so; a revert since completed, ended or claimed again (its lease ran out) is left alone.
func (s *Store) ReleaseRevert(ctx context.Context, claim Revert) (bool, error) {
	res, err := s.db.ExecContext(ctx, s.rebind(`UPDATE reverts SET lease_until = 0, attempts = attempts - 1
		WHERE id = ? AND state = ? AND claimed_by = ? AND lease_until = ? AND attempts = ? AND attempts > 0`),
		claim.ID, string(RevertPending), claim.LeaseOwner, toDB(claim.LeaseUntil), claim.Attempts)
	if err != nil {
		return false, fmt.Errorf("store: release revert: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store: release revert: %w", err)
	}
	return n == 1, nil
}

// CompleteRevert marks a pending revert done with outcome (e.g. "reverted
// to WORKSPACE_MEMBER", "skipped: role changed to ... by someone else").
// Completing a revert that is no longer pending returns a *StateError
// wrapping ErrStateConflict.
func (s *Store) CompleteRevert(ctx context.Context, id, outcome string) (Revert, error) {
	return s.updatePendingRevert(ctx, id, `UPDATE reverts SET state = ?, outcome = ?, finished_at = ? WHERE id = ? AND state = ?`,
		string(RevertDone), outcome, toDB(s.clock(time.Time{})), id, string(RevertPending))
}

const (
	cancelIdleRevertSQL = `UPDATE reverts SET state = ?, cancelled_by = ?, finished_at = ?
		WHERE id = ? AND state = ? AND lease_until <= ?`
	supersedeRevertSQL = `UPDATE reverts SET state = ?, cancelled_by = ?, outcome = ?, finished_at = ? WHERE id = ? AND state = ?`
	retargetRevertSQL  = `UPDATE reverts SET expected_role = ? WHERE id = ? AND state = ?`
)

func (s *Store) cancelIdleArgs(id, by string) []any {
	now := toDB(s.clock(time.Time{}))
	return []any{string(RevertCancelled), by, now, id, string(RevertPending), now}
}

func (s *Store) supersedeArgs(id, by, outcome string) []any {
	return []any{string(RevertCancelled), by, outcome, toDB(s.clock(time.Time{})), id, string(RevertPending)}
}

// SupersedeRevert cancels a pending revert whatever its lease, recording by and outcome: a later
// change to the same role has made it wrong. Only a caller holding the token's lock may call it;
// a worker that claimed the revert checks its state under that lock before writing, and
// completes it before letting the lock go, so the revert is either finished or not begun.
func (s *Store) SupersedeRevert(ctx context.Context, id, by, outcome string) (Revert, error) {
	return s.updatePendingRevert(ctx, id, supersedeRevertSQL, s.supersedeArgs(id, by, outcome)...)
}

// NoteMayHaveWritten records on pending revert id whether an attempt's write may have landed
// unseen (MayHaveWritten); false when a later attempt's read proved the earlier ones did not. A
// revert no longer pending gives a *StateError wrapping ErrStateConflict.
func (s *Store) NoteMayHaveWritten(ctx context.Context, id string, may bool) (Revert, error) {
	return s.updatePendingRevert(ctx, id, `UPDATE reverts SET may_have_written = ? WHERE id = ? AND state = ?`, boolToDB(may), id, string(RevertPending))
}

// NestedEnd is a pending revert to end together with the one it is nested in, and the outcome
// to record for it.
type NestedEnd struct{ ID, Outcome string }

// EndNestedReverts stores expectedRole as the role pending revert id is to undo and ends the
// reverts nested in it, cancelled by by, in one transaction: a worker that ends an outer
// time-box from the role its nested ones left must find, on its next attempt, both done or
// neither. Nested ones no longer pending are skipped; it returns the IDs it ended. If id is not
// pending, nothing changes and the error is a *StateError wrapping ErrStateConflict. The caller
// holds the token's lock.
func (s *Store) EndNestedReverts(ctx context.Context, id, expectedRole, by string, nested []NestedEnd) ([]string, error) {
	return s.withNestedEnded(ctx, by, nested, func(tx *sql.Tx) error {
		_, err := s.updatePendingRevertTx(ctx, tx, id, retargetRevertSQL, expectedRole, id, string(RevertPending))
		return err
	})
}

// CancelRevertAndNested cancels pending revert id that no claimer is working on (one under a
// live lease gives a *StateError, state "in progress": it may already be half done) and ends the reverts nested in it, in one transaction: ending a time-box early
// by hand must not leave a nested one pending to bring its elevation back, nor end the nested
// ones and leave the outer one to the worker half done. Returns the nested IDs it ended, as
// EndNestedReverts does. The caller holds the token's lock.
func (s *Store) CancelRevertAndNested(ctx context.Context, id, by string, nested []NestedEnd) ([]string, error) {
	return s.withNestedEnded(ctx, by, nested, func(tx *sql.Tx) error {
		_, err := s.updatePendingRevertTx(ctx, tx, id, cancelIdleRevertSQL, s.cancelIdleArgs(id, by)...)
		return err
	})
}

// withNestedEnded runs outer and ends the pending ones of nested in the same transaction.
func (s *Store) withNestedEnded(ctx context.Context, by string, nested []NestedEnd, outer func(tx *sql.Tx) error) ([]string, error) {
	var ended []string
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := outer(tx); err != nil {
			return err
		}
		for _, n := range nested {
			_, err := s.updatePendingRevertTx(ctx, tx, n.ID, supersedeRevertSQL, s.supersedeArgs(n.ID, by, n.Outcome)...)
			switch {
			case errors.Is(err, ErrStateConflict):
				continue // it ended meanwhile
			case err != nil:
				return err
			}
			ended = append(ended, n.ID)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ended, nil
}

// GetRevert returns the revert with id, whatever its state.
func (s *Store) GetRevert(ctx context.Context, id string) (Revert, error) {
	r, err := scanRevert(s.db.QueryRowContext(ctx, s.rebind(`SELECT `+revertColumns+` FROM reverts WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return Revert{}, fmt.Errorf("%w: revert %s", ErrNotFound, id)
	}
	if err != nil {
		return Revert{}, fmt.Errorf("store: read revert: %w", err)
	}
	return r, nil
}

// updatePendingRevert runs update, which changes the revert id only while it is pending, and
// returns the revert as it then is; a revert no longer pending, or leased where update needs it
// not to be, gives a *StateError wrapping ErrStateConflict.
func (s *Store) updatePendingRevert(ctx context.Context, id, update string, args ...any) (Revert, error) {
	var out Revert
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = s.updatePendingRevertTx(ctx, tx, id, update, args...)
		return err
	})
	if err != nil {
		return Revert{}, err
	}
	return out, nil
}

// updatePendingRevertTx is updatePendingRevert inside the caller's transaction.
func (s *Store) updatePendingRevertTx(ctx context.Context, tx *sql.Tx, id, update string, args ...any) (Revert, error) {
	res, err := tx.ExecContext(ctx, s.rebind(update), args...)
	if err != nil {
		return Revert{}, fmt.Errorf("store: update revert: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return Revert{}, fmt.Errorf("store: update revert: %w", err)
	}
	r, err := scanRevert(tx.QueryRowContext(ctx, s.rebind(`SELECT `+revertColumns+` FROM reverts WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return Revert{}, fmt.Errorf("%w: revert %s", ErrNotFound, id)
	}
	if err != nil {
		return Revert{}, fmt.Errorf("store: read revert: %w", err)
	}
	if n == 0 {
		state := string(r.State)
		if r.State == RevertPending {
			state = "in progress"
		}
		return Revert{}, &StateError{ID: id, State: state, Err: ErrStateConflict}
	}
	return r, nil
}

// RevertsOfRequest returns every revert scheduled for approval request requestID, whatever its
// state, oldest first.
func (s *Store) RevertsOfRequest(ctx context.Context, requestID string) ([]Revert, error) {
	if requestID == "" {
		return nil, fmt.Errorf("%w: empty request id", ErrInvalid)
	}
	rows, err := s.db.QueryContext(ctx, s.rebind(`SELECT `+revertColumns+` FROM reverts WHERE request_id = ? ORDER BY created_at, id`), requestID)
	if err != nil {
		return nil, fmt.Errorf("store: reverts of request: %w", err)
	}
	defer rows.Close()
	var out []Revert
	for rows.Next() {
		r, err := scanRevert(rows)
		if err != nil {
			return nil, fmt.Errorf("store: reverts of request: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: reverts of request: %w", err)
	}
	return out, nil
}

// pendingOfTokenStmt returns ListPendingReverts' prepared query for one token, preparing it the
// first time.
func (s *Store) pendingOfTokenStmt(ctx context.Context, query string) (*sql.Stmt, error) {
	p := &s.pendingOfToken
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stmt == nil {
		stmt, err := s.db.PrepareContext(ctx, s.rebind(query))
		if err != nil {
			return nil, err
		}
		p.stmt = stmt
	}
	return p.stmt, nil
}

// ListPendingReverts returns pending reverts for tokenID ("" = all tokens),
// earliest due first.
func (s *Store) ListPendingReverts(ctx context.Context, tokenID string) ([]Revert, error) {
	const list = `SELECT ` + revertColumns + ` FROM reverts WHERE state = ?`
	const order = ` ORDER BY due_at, id LIMIT 1000`
	var (
		rows *sql.Rows
		err  error
	)
	if tokenID == "" {
		rows, err = s.db.QueryContext(ctx, s.rebind(list+order), string(RevertPending))
	} else {
		stmt, perr := s.pendingOfTokenStmt(ctx, list+` AND token_id = ?`+order)
		if perr != nil {
			return nil, fmt.Errorf("store: list reverts: %w", perr)
		}
		rows, err = stmt.QueryContext(ctx, string(RevertPending), tokenID)
	}
	if err != nil {
		return nil, fmt.Errorf("store: list reverts: %w", err)
	}
	defer rows.Close()
	var out []Revert
	for rows.Next() {
		r, err := scanRevert(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list reverts: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list reverts: %w", err)
	}
	return out, nil
}
