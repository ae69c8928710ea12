package onboarding_test

import (
	"bytes"
	"cmp"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/idvflow/idvflow/onboarding"
)

// A database orders owed changes by SortKey: it must be the record's
// order (Compare) for any two changes, ties and prefixes included.
func TestSortKeyOrdersAsCompare(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	str := rapid.SampledFrom([]string{"", "a", "ab", "b", "approved", "declined", "expired"})
	change := rapid.Custom(func(t *rapid.T) onboarding.Change {
		return onboarding.Change{
			At:     t0.Add(time.Duration(rapid.IntRange(-3, 3).Draw(t, "at")) * time.Microsecond),
			Rank:   rapid.IntRange(0, 3).Draw(t, "rank"),
			Status: str.Draw(t, "status"), Provider: str.Draw(t, "provider"), SessionID: str.Draw(t, "session"),
			Reason: str.Draw(t, "reason"), ID: str.Draw(t, "id"),
		}
	})
	rapid.Check(t, func(t *rapid.T) {
		a, b := change.Draw(t, "a"), change.Draw(t, "b")
		if got, want := bytes.Compare(a.SortKey(), b.SortKey()), cmp.Compare(onboarding.Compare(a, b), 0); got != want {
			t.Fatalf("SortKey orders %+v and %+v as %d, Compare as %d", a, b, got, want)
		}
	})
}
