package cost_test

import (
	"os"
	"path/filepath"
	"testing"

	historypb "go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/idvflow/idvflow/internal/cost"
)

// The counts of recorded histories, read off by hand: the one-decision
// session before generation 1 (25 events: 2 markers, 4 upserts of which
// GetVersion's is not billed, a poll timer started and cancelled) and after it (19 events), and an onboarding
// run of two changes with a review (12 actions in commands and signals,
// and the accepted review Update).
func TestOfRecordedHistories(t *testing.T) {
	for _, tc := range []struct {
		file                   string
		events, actions, tasks int
		markers                map[string]int
	}{
		{"v4-onboarding/veriff-approved.json", 25, 10, 3, map[string]int{"SideEffect": 1, "Version": 1}},
		{"v5-generation-1/veriff-approved.json", 19, 6, 3, map[string]int{"SideEffect": 1}},
		{"v5-generation-1/onboarding-approved-then-declined-reviewed.json", 39, 13, 6, map[string]int{"SideEffect": 1, "LocalActivity": 2}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "histories", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			var h historypb.History
			if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(b, &h); err != nil {
				t.Fatal(err)
			}
			c := cost.Of(h.GetEvents())
			if c.Events != tc.events || c.Actions != tc.actions || c.Tasks != tc.tasks || len(c.Markers) != len(tc.markers) {
				t.Fatalf("got %+v; want %d events, %d actions, %d tasks, markers %v", c, tc.events, tc.actions, tc.tasks, tc.markers)
			}
			for name, n := range tc.markers {
				if c.Markers[name] != n {
					t.Errorf("markers %v, want %v", c.Markers, tc.markers)
				}
			}
		})
	}
}
