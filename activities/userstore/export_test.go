package userstore

// SetBeforeCommit holds every Apply just before it commits (tests only).
func (s *Store) SetBeforeCommit(f func()) { s.beforeCommit = f }
