package temporalconn

import (
	"context"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
)

// guard makes a payload that workflow code cannot decode a failure of the
// workflow task, not of the workflow. The SDK turns an error while decoding
// a workflow's input, signal or activity result into the end of the run; a
// panic instead fails only the task (the worker's panic policy is
// BlockWorkflow), which Temporal retries, visibly, on any worker of the task
// queue. So a worker whose configuration differs from the others' (no
// IDV_PAYLOAD_KEYS, an old key set) leaves the session to a worker that can
// run it, and never ends it. Outside workflow code (clients, activities)
// errors stay errors: an activity attempt fails and is retried.
type guard struct {
	converter.DataConverter
	inWorkflow bool
}

// Guarded wraps dc (nil: the SDK's default) in a guard.
func Guarded(dc converter.DataConverter) converter.DataConverter {
	if dc == nil {
		dc = converter.GetDefaultDataConverter()
	}
	return guard{DataConverter: dc}
}

// ErrUndecodable is what a guarded workflow panics with.
type ErrUndecodable struct{ Err error }

func (e ErrUndecodable) Error() string {
	return "this worker cannot decode a payload of the workflow (is its IDV_PAYLOAD_KEYS the same as the other workers'?): " + e.Err.Error()
}

func (g guard) check(err error) error {
	if err != nil && g.inWorkflow {
		panic(ErrUndecodable{Err: err})
	}
	return err
}

func (g guard) FromPayload(p *commonpb.Payload, v any) error {
	return g.check(g.DataConverter.FromPayload(p, v))
}

func (g guard) FromPayloads(ps *commonpb.Payloads, vs ...any) error {
	return g.check(g.DataConverter.FromPayloads(ps, vs...))
}

func (g guard) ToString(p *commonpb.Payload) string { return g.DataConverter.ToString(p) }

func (g guard) WithWorkflowContext(ctx converter.WorkflowContext) converter.DataConverter {
	inner := g.DataConverter
	if ca, ok := inner.(converter.ContextAware); ok {
		inner = ca.WithWorkflowContext(ctx)
	}
	return guard{DataConverter: inner, inWorkflow: true}
}

func (g guard) WithContext(ctx context.Context) converter.DataConverter {
	inner := g.DataConverter
	if ca, ok := inner.(converter.ContextAware); ok {
		inner = ca.WithContext(ctx)
	}
	return guard{DataConverter: inner}
}
