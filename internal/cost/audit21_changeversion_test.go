package cost_test

import (
	"os"
	"path/filepath"
	"testing"

	historypb "go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/idvflow/idvflow/internal/cost"
)

// Audit of issue 21: Temporal Cloud's list of billable actions
// (docs.temporal.io/cloud/actions, "Search Attribute upsert requested")
// exempts the TemporalChangeVersion search attribute that GetVersion
// upserts: "The TemporalChangeVersion Search Attribute, used for Workflow
// versioning, is also exempt from Action counting." cost.Of counts every
// UpsertWorkflowSearchAttributes event as an action, so every "before"
// figure of generation 0 (and the README's "a marker and its
// TemporalChangeVersion upsert are two actions a session") is one action
// per changed version too high. The one-decision session of v4 has 11
// counted actions, of which event 9 is the TemporalChangeVersion upsert.
func TestAudit21ChangeVersionUpsertIsNotBilled(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "histories", "v4-onboarding", "veriff-approved.json"))
	if err != nil {
		t.Fatal(err)
	}
	var h historypb.History
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	c := cost.Of(h.GetEvents())
	const want = 10 // start, signal, SideEffect, Version marker, 3 Idv* upserts, 2 timers, 1 activity
	if c.Actions != want {
		t.Fatalf("cost.Of counts %d actions for v4-onboarding/veriff-approved.json; Temporal Cloud bills %d (its TemporalChangeVersion upsert is exempt)", c.Actions, want)
	}
}
