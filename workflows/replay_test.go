package workflows_test

import (
	"path/filepath"
	"testing"

	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/idvflow/idvflow/onboarding"
	"github.com/idvflow/idvflow/operator"
	"github.com/idvflow/idvflow/workflows"
)

// histories are recorded from real runs of each release's code by `go run
// ./cmd/recordhistories -out testdata/histories/v<release>` (v1.0: the 1.0
// code; v1.1: the code with 1.1's GetVersion changes, and the late-event
// run that asks the store first). Every one must replay with the current
// code: that is what lets sessions in flight survive a deploy. A change to
// the workflows' commands goes behind workflow.GetVersion
// (docs/extending.md) or ships as a new Worker Deployment version; a
// release's histories are never re-recorded.
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
	r.RegisterWorkflowWithOptions(operator.OperationWorkflow, workflow.RegisterOptions{Name: operator.WorkflowName})
	return r.ReplayWorkflowHistoryFromJSONFile(nil, file)
}

func TestReplayCommittedHistories(t *testing.T) {
	for _, file := range histories(t, "*/*.json") {
		t.Run(filepath.Base(filepath.Dir(file))+"/"+filepath.Base(file), func(t *testing.T) {
			v := &workflows.Verification{Config: workflows.DefaultConfig()}
			if err := replay(v, file); err != nil {
				t.Fatalf("replay: %v", err)
			}
		})
	}
}
