package workflows

import (
	"path/filepath"
	"testing"

	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// histories are recorded from real runs by `go run ./internal/recordhistories`,
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

func replay(v *Verification, file string) error {
	r := worker.NewWorkflowReplayer()
	r.RegisterWorkflowWithOptions(v.VerificationWorkflow, workflow.RegisterOptions{Name: WorkflowName})
	return r.ReplayWorkflowHistoryFromJSONFile(nil, file)
}

func TestReplayCommittedHistories(t *testing.T) {
	for _, file := range histories(t, "*/*.json") {
		t.Run(filepath.Base(filepath.Dir(file))+"/"+filepath.Base(file), func(t *testing.T) {
			if err := replay(&Verification{Config: DefaultConfig()}, file); err != nil {
				t.Fatalf("replay: %v", err)
			}
		})
	}
}
