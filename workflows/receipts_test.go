package workflows_test

import (
	"maps"
	"testing"
	"time"

	"github.com/idvflow/idvflow/activities"
	"github.com/idvflow/idvflow/workflows"
)

// FirstReceipts is what a reopened run learns of an earlier one: the
// earliest receipt it knew, and the first receipt of each event without a
// provider time. The store's own decision is no receipt.
func TestFirstReceipts(t *testing.T) {
	t0 := time.Date(2026, 7, 6, 9, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	timed := workflows.Event{ID: "decision/a/declined/t", Kind: workflows.KindDecision, OccurredAt: at(-30), ReceivedAt: at(5)}
	untimed := workflows.Event{ID: "fullauto/a/approved", Kind: workflows.KindDecision, ReceivedAt: at(7)}
	store := workflows.Event{ID: "store/approved//x", Type: "store", Kind: workflows.KindDecision, OccurredAt: at(-60), ReceivedAt: at(-60)}
	for _, tc := range []struct {
		name    string
		in      workflows.Input
		signals []workflows.Event
		want    activities.Receipts
	}{
		{"nothing received", workflows.Input{}, nil, activities.Receipts{}},
		{"signals: the earliest receipt, untimed events by identity", workflows.Input{}, []workflows.Event{
			timed, untimed, {ID: "event/a/started", ReceivedAt: at(3)}, {ID: "unstamped"}, {ID: untimed.ID, ReceivedAt: at(9)},
		}, activities.Receipts{Began: at(3), Untimed: map[string]time.Time{"event/a/started": at(3), untimed.ID: at(7)}}},
		{"a continued run: its beginning and what its input held", workflows.Input{Carried: &workflows.Carried{
			Began: at(1), Applied: &store, Latest: &untimed, Unwritten: []workflows.Event{timed},
			Earlier: map[string]time.Time{"poll/approved//-": at(2)},
		}}, nil, activities.Receipts{Began: at(1), Untimed: map[string]time.Time{"poll/approved//-": at(2), untimed.ID: at(7)}}},
		{"the store's decision alone", workflows.Input{Carried: &workflows.Carried{Applied: &store}}, nil, activities.Receipts{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := workflows.FirstReceipts(tc.in, tc.signals)
			if !got.Began.Equal(tc.want.Began) || !maps.EqualFunc(got.Untimed, tc.want.Untimed, time.Time.Equal) {
				t.Fatalf("FirstReceipts = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// Merge keeps the earlier of each receipt, whichever run had it.
func TestReceiptsMergeKeepsTheEarliest(t *testing.T) {
	t0 := time.Date(2026, 7, 6, 9, 0, 0, 0, time.UTC)
	r := activities.Receipts{Began: t0.Add(time.Minute), Untimed: map[string]time.Time{"x": t0.Add(time.Minute), "y": t0}}
	r.Merge(activities.Receipts{Began: t0, Untimed: map[string]time.Time{"x": t0, "y": t0.Add(time.Hour), "z": t0}})
	r.Merge(activities.Receipts{}) // a run that received nothing
	want := map[string]time.Time{"x": t0, "y": t0, "z": t0}
	if !r.Began.Equal(t0) || !maps.EqualFunc(r.Untimed, want, time.Time.Equal) {
		t.Fatalf("merged %+v, want began %s and %v", r, t0, want)
	}
}
