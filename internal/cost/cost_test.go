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
// session (19 events: the config's side-effect marker, the search
// attributes in one upsert, no poll timer for a decision that came with
// the start), and an onboarding run of two changes with a review (12
// actions in commands and signals, and the accepted review Update).
func TestOfRecordedHistories(t *testing.T) {
	for _, tc := range []struct {
		file                   string
		events, actions, tasks int
		markers                map[string]int
	}{
		{"v1.0/veriff-approved.json", 19, 6, 3, map[string]int{"SideEffect": 1}},
		{"v1.0/onboarding-approved-then-declined-reviewed.json", 39, 13, 6, map[string]int{"SideEffect": 1, "LocalActivity": 2}},
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
