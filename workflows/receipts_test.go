package workflows_test

import (
	"maps"
	"testing"
	"time"

	"github.com/idvflow/idvflow/workflows"
)

// FirstReceipts is what a reopened run learns of an earlier one: the
// earliest receipt it knew, and the first receipt of each decision or
// screening without a provider time (a progress event's orders nothing).
// The store's own decision is no receipt.
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
		want    workflows.Earlier
	}{
		{"nothing received", workflows.Input{}, nil, workflows.Earlier{}},
		{"signals: the earliest receipt, untimed events by identity", workflows.Input{}, []workflows.Event{
			timed, untimed, {ID: "event/a/started", ReceivedAt: at(3)}, {ID: "unstamped"}, {ID: untimed.ID, ReceivedAt: at(9)},
		}, workflows.Earlier{Began: at(3), Untimed: map[string]time.Time{untimed.ID: at(7)}}},
		{"a continued run: its beginning and what its input held", workflows.Input{Carried: &workflows.Carried{
			Began: at(1), Applied: &store, Latest: &untimed, Unwritten: []workflows.Event{timed},
			Earlier: map[string]time.Time{"poll/approved//-": at(2)},
		}}, nil, workflows.Earlier{Began: at(1), Untimed: map[string]time.Time{"poll/approved//-": at(2), untimed.ID: at(7)}}},
		{"the store's decision alone", workflows.Input{Carried: &workflows.Carried{Applied: &store}}, nil, workflows.Earlier{}},
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
	r := workflows.Earlier{Began: t0.Add(time.Minute), Untimed: map[string]time.Time{"x": t0.Add(time.Minute), "y": t0}}
	r.Merge(workflows.Earlier{Began: t0, Untimed: map[string]time.Time{"x": t0, "y": t0.Add(time.Hour), "z": t0}})
	r.Merge(workflows.Earlier{}) // a run that received nothing
	want := map[string]time.Time{"x": t0, "y": t0, "z": t0}
	if !r.Began.Equal(t0) || !maps.EqualFunc(r.Untimed, want, time.Time.Equal) {
		t.Fatalf("merged %+v, want began %s and %v", r, t0, want)
	}
}
