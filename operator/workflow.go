package operator

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/idvflow/idvflow/workflows"
)

// Activities are the bulk operation's activities.
type Activities struct{ Operator *Operator }

// Step is one action on one session of a bulk operation.
type Step struct {
	Operation string `json:"operation"`
	Action    Action `json:"action"`
	Target    Target `json:"target"`
}

// Act runs one step (Operator.Do): its outcome, failed or not, is the
// activity's result; only an audit record that cannot be written is
// retried.
func (a *Activities) Act(ctx context.Context, s Step) (Result, error) {
	return a.Operator.Do(ctx, s.Action, s.Target, s.Operation)
}

// EarlierRuns is the local activity workflows.EarlierRunsActivity, with
// which a session's run that reopens it reads the session's other runs
// (Operator.EarlierRuns). Every worker registers it with the bulk
// operations' activities.
func (a *Activities) EarlierRuns(ctx context.Context) (workflows.Earlier, error) {
	run := activity.GetInfo(ctx).WorkflowExecution
	e, err := a.Operator.EarlierRuns(ctx, run.ID, run.RunID)
	if err != nil {
		return e, fmt.Errorf("read the earlier runs of %s: %w", run.ID, err)
	}
	return e, nil
}

var a *Activities

// OperationWorkflow is one bulk operation: the action on each of the
// targets the operator saw in the dry run, at most RatePerSecond a second
// (one batch of that many at a time, then the rest of the second), until
// done or cancelled. Progress answers the progress query as it goes.
func OperationWorkflow(ctx workflow.Context, req Request) (Progress, error) {
	p := Progress{ID: req.ID, Action: req.Action, State: OperationRunning, Total: len(req.Targets), Outcomes: map[string]int{}}
	if err := workflow.SetQueryHandler(ctx, QueryProgress, func() (Progress, error) { return p, nil }); err != nil {
		return p, err
	}
	rate := max(req.RatePerSecond, 1)
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute},
	})
	for start := 0; start < len(req.Targets); start += rate {
		// 1. A batch of at most rate sessions, at once.
		began := workflow.Now(ctx)
		batch := req.Targets[start:min(start+rate, len(req.Targets))]
		futures := make([]workflow.Future, len(batch))
		for i, t := range batch {
			futures[i] = workflow.ExecuteActivity(actx, a.Act, Step{Operation: req.ID, Action: req.Action, Target: t})
		}
		for i, f := range futures {
			var r Result
			if err := f.Get(ctx, &r); err != nil {
				if temporal.IsCanceledError(err) {
					continue // counted below, as not done
				}
				r = Result{Target: batch[i], Action: req.Action, Outcome: OutcomeFailed, Detail: err.Error()}
			}
			p.Done++
			p.Outcomes[r.Outcome]++
			if r.Outcome == OutcomeFailed && len(p.Failures) < 100 {
				p.Failures = append(p.Failures, r)
			}
		}
		// 2. The rest of the second, unless the operator cancelled.
		if ctx.Err() != nil {
			break
		}
		if start+rate < len(req.Targets) {
			if rest := time.Second - workflow.Now(ctx).Sub(began); rest > 0 {
				if err := workflow.Sleep(ctx, rest); err != nil && !errors.Is(err, workflow.ErrCanceled) {
					return p, err
				}
			}
		}
		if ctx.Err() != nil {
			break
		}
	}
	if ctx.Err() != nil {
		p.State = OperationCancelled
		return p, nil
	}
	p.State = OperationCompleted
	return p, nil
}
