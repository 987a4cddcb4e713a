package commands

import "time"

// OnListJoin makes s call f whenever a lookup by name joins a list of every Organization token
// that another lookup already has in flight, so tests can line up concurrent changes without
// sleeping. Call it before s is used.
func OnListJoin(s *Service, f func()) { s.orgTokens.onJoin = f }

// SetWorkerLockWait sets how long s's revert worker and expiry sweeper wait for a token's lock.
// Call it before s is used.
func SetWorkerLockWait(s *Service, d time.Duration) { s.workerLockWait = d }
