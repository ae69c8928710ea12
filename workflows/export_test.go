package workflows

// IgnoreVersions lets the replay test (package workflows_test) switch the
// version guard off, to show that it is what keeps old sessions replaying.
func IgnoreVersions(v *Verification) { v.ignoreVersions = true }
