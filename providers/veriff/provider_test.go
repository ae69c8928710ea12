package veriff_test

import (
	"encoding/json"
	"testing"

	"github.com/idvflow/idvflow/providers/veriff"
	"github.com/idvflow/idvflow/workflows"
)

// Runs recorded before rules were recorded kept Veriff's one configurable
// rule in their config as veriff_await_submitted; their replay reads it
// from the recorded bytes.
func TestLegacyRules(t *testing.T) {
	for _, tc := range []struct {
		name     string
		recorded string // "" for a config that was never recorded
		want     bool
	}{
		{"await submitted", `{"processed_grace":300000000000,"veriff_await_submitted":true}`, true},
		{"not set", `{"processed_grace":300000000000}`, false},
		{"set off", `{"veriff_await_submitted":false}`, false},
		{"never recorded", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var cfg workflows.Config
			if tc.recorded != "" {
				if err := json.Unmarshal([]byte(tc.recorded), &cfg); err != nil {
					t.Fatal(err)
				}
			}
			if got := (veriff.Provider{}).LegacyRules(cfg).AwaitsProcessed; got != tc.want {
				t.Fatalf("AwaitsProcessed %v, want %v", got, tc.want)
			}
		})
	}
}
