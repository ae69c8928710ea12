package workflows_test

import (
	"path/filepath"
	"strings"
	"testing"

	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/idvflow/idvflow/onboarding"
	"github.com/idvflow/idvflow/providers/registry"
	"github.com/idvflow/idvflow/workflows"
)

// histories are recorded from real runs by `go run ./cmd/recordhistories`,
// one folder per version of the workflow's commands. Every one must replay
// with the current code: that is what lets sessions in flight survive a
// deploy.
func histories(t *testing.T, pattern string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "testdata", "histories", pattern))
	if err != nil || len(files) == 0 {
		t.Fatalf("no histories match %s (%v)", pattern, err)
	}
	return files
}

func replay(v *workflows.Verification, file string) error {
	r := worker.NewWorkflowReplayer()
	r.RegisterWorkflowWithOptions(v.VerificationWorkflow, workflow.RegisterOptions{Name: workflows.WorkflowName})
	o := &workflows.Onboarding{}
	r.RegisterWorkflowWithOptions(o.OnboardingWorkflow, workflow.RegisterOptions{Name: onboarding.WorkflowName})
	return r.ReplayWorkflowHistoryFromJSONFile(nil, file)
}

func TestReplayCommittedHistories(t *testing.T) {
	for _, file := range histories(t, "*/*.json") {
		t.Run(filepath.Base(filepath.Dir(file))+"/"+filepath.Base(file), func(t *testing.T) {
			v := &workflows.Verification{Config: workflows.DefaultConfig(), Legacy: registry.LegacyRules}
			if err := replay(v, file); err != nil {
				t.Fatalf("replay: %v", err)
			}
		})
	}
}

// TestVersionGuardIsWhatKeepsOldSessionsReplaying replays the histories
// recorded before the notify step existed with the guard switched off: the
// new step's activity then meets history that has none, and the replayer
// must report non-determinism. With the guard (the test above) they replay.
func TestVersionGuardIsWhatKeepsOldSessionsReplaying(t *testing.T) {
	for _, file := range histories(t, "v0-before-notify/*.json") {
		name := filepath.Base(file)
		t.Run(name, func(t *testing.T) {
			v := &workflows.Verification{Config: workflows.DefaultConfig(), Legacy: registry.LegacyRules}
			workflows.IgnoreVersions(v)
			err := replay(v, file)
			if name == "passbase-identity-not-found.json" {
				// The session failed before any final decision: no step ran
				// then, and none runs now.
				if err != nil {
					t.Fatalf("replay: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(strings.ToLower(err.Error()), "nondetermin") {
				t.Fatalf("replay without the version guard: %v, want a non-determinism error", err)
			}
		})
	}
}
