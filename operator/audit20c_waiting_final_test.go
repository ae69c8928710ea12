package operator_test

// Issue 20 third audit (regression): a decided session that cannot answer
// its state query was listed as waiting.

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/idvflow/idvflow/operator"
	"github.com/idvflow/idvflow/workflows"
)

// unanswering is visibility with open session runs whose state query
// fails (as every query does while a bad build's workflow tasks fail).
type unanswering struct {
	client.Client
	runs []*workflowpb.WorkflowExecutionInfo
}

func (v unanswering) ListWorkflow(_ context.Context, req *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error) {
	var out []*workflowpb.WorkflowExecutionInfo
	for _, r := range v.runs {
		st := r.GetSearchAttributes().GetIndexedFields()[workflows.AttrStatus.GetName()]
		var status string
		_ = converter.GetDefaultDataConverter().FromPayload(st, &status)
		if strings.Contains(req.Query, workflows.AttrStatus.GetName()+` = "waiting"`) && status != "waiting" {
			continue
		}
		if strings.Contains(req.Query, `ExecutionStatus = "ContinuedAsNew"`) {
			continue
		}
		out = append(out, r)
	}
	return &workflowservice.ListWorkflowExecutionsResponse{Executions: out}, nil
}

func (v unanswering) QueryWorkflow(context.Context, string, string, string, ...any) (converter.EncodedValue, error) {
	return nil, serviceerror.NewQueryFailed("[TMPRL1100] nondeterministic workflow: history event is WorkflowTaskCompleted")
}

// A session approved an hour ago stays open in its late-event window
// (R1: "the run goes on to the onboarding steps and the late-event
// window"); visibility says IdvStatus "approved". If its state query
// cannot answer (a bad deploy, the very runbook that lists sessions), the
// listing now shows it as "waiting" with "no decision", and the outage
// runbook's bulk resync would act on it. Before the fix, visibility's
// IdvStatus = "waiting" kept every decided session out of the candidates.
func TestAudit20cDecidedSessionWithoutStateQueryIsNotWaiting(t *testing.T) {
	now := time.Now()
	status, _ := converter.GetDefaultDataConverter().ToPayload("approved")
	runs := []*workflowpb.WorkflowExecutionInfo{{
		Execution:        &commonpb.WorkflowExecution{WorkflowId: "veriff:decided-session", RunId: "r-1"},
		Type:             &commonpb.WorkflowType{Name: workflows.WorkflowName},
		StartTime:        timestamppb.New(now.Add(-2 * time.Hour)),
		Status:           enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING,
		SearchAttributes: &commonpb.SearchAttributes{IndexedFields: map[string]*commonpb.Payload{workflows.AttrStatus.GetName(): status}},
	}}
	o := &operator.Operator{Temporal: unanswering{runs: runs}, Log: slog.New(slog.DiscardHandler)}
	list, _, err := o.Sessions(context.Background(), operator.Filter{State: operator.StateWaiting})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 0 {
		t.Fatalf("a session visibility shows as IdvStatus=approved is listed as waiting: %+v", list)
	}
}
