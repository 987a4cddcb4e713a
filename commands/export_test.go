package commands

// OnListJoin makes s call f whenever a lookup by name joins a list of every Organization token
// that another lookup already has in flight, so tests can line up concurrent changes without
// sleeping. Call it before s is used.
func OnListJoin(s *Service, f func()) { s.orgTokens.onJoin = f }
