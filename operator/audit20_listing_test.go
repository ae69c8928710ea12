package operator_test

// Issue 20 audit (regression): the failed listing keeps a session whose
// newest run is running again (a webhook started a new run after the
// failure): visibility's `IdvStatus = "error"` drops the newest run, so
// the older failed run is the session's only candidate.

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/idvflow/idvflow/operator"
)

type visibility struct {
	client.Client
	runs []*workflowpb.WorkflowExecutionInfo // every run, newest first
}

func (v visibility) ListWorkflow(_ context.Context, req *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error) {
	// What Temporal answers `... AND IdvStatus = "error"`: the runs whose
	// status attribute is error.
	var out []*workflowpb.WorkflowExecutionInfo
	for _, r := range v.runs {
		if string(r.GetSearchAttributes().GetIndexedFields()["IdvStatus"].GetData()) == `"error"` {
			out = append(out, r)
		}
	}
	return &workflowservice.ListWorkflowExecutionsResponse{Executions: out}, nil
}

// DescribeWorkflowExecution answers the session's newest run.
func (v visibility) DescribeWorkflowExecution(_ context.Context, id, _ string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	for _, r := range v.runs {
		if r.GetExecution().GetWorkflowId() == id {
			return &workflowservice.DescribeWorkflowExecutionResponse{WorkflowExecutionInfo: r}, nil
		}
	}
	return nil, errors.New("not found")
}

type noHistory struct{}

func (noHistory) HasNext() bool                          { return false }
func (noHistory) Next() (*historypb.HistoryEvent, error) { return nil, nil }

func (v visibility) GetWorkflowHistory(context.Context, string, string, bool, enumspb.HistoryEventFilterType) client.HistoryEventIterator {
	return noHistory{}
}

func run(id, runID string, status enumspb.WorkflowExecutionStatus, idv string, started time.Time) *workflowpb.WorkflowExecutionInfo {
	return &workflowpb.WorkflowExecutionInfo{
		Execution: &commonpb.WorkflowExecution{WorkflowId: id, RunId: runID},
		Type:      &commonpb.WorkflowType{Name: "VerificationWorkflow"},
		StartTime: timestamppb.New(started), Status: status,
		SearchAttributes: &commonpb.SearchAttributes{IndexedFields: map[string]*commonpb.Payload{
			"IdvStatus": {Metadata: map[string][]byte{"encoding": []byte("json/plain")}, Data: []byte(`"` + idv + `"`)},
		}},
	}
}

func TestAuditFailedListingIgnoresTheNewestRun(t *testing.T) {
	now := time.Now()
	tc := visibility{runs: []*workflowpb.WorkflowExecutionInfo{
		run("veriff:s1", "run-2", enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, "waiting", now.Add(-time.Hour)),
		run("veriff:s1", "run-1", enumspb.WORKFLOW_EXECUTION_STATUS_FAILED, "error", now.Add(-48*time.Hour)),
	}}
	o := &operator.Operator{Temporal: tc, Log: slog.New(slog.DiscardHandler)}
	list, _, err := o.Sessions(context.Background(), operator.Filter{State: operator.StateFailed})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 0 {
		t.Fatalf("listed as failed although its newest run (run-2) is running: %+v", list)
	}
}

// Whatever the operator's visibility query selects, only session
// workflows of the registered providers are listed: the query cannot widen
// the listing to onboarding or operation workflows.
func TestAuditListingKeepsToSessions(t *testing.T) {
	now := time.Now()
	other := run("onboarding:user-1", "r3", enumspb.WORKFLOW_EXECUTION_STATUS_FAILED, "error", now.Add(-time.Hour))
	other.Type = &commonpb.WorkflowType{Name: "OnboardingWorkflow"}
	tc := visibility{runs: []*workflowpb.WorkflowExecutionInfo{
		other,
		run("operation:x", "r4", enumspb.WORKFLOW_EXECUTION_STATUS_FAILED, "error", now.Add(-time.Hour)),
		run("veriff:s2", "r5", enumspb.WORKFLOW_EXECUTION_STATUS_FAILED, "error", now.Add(-time.Hour)),
	}}
	o := &operator.Operator{Temporal: tc, Log: slog.New(slog.DiscardHandler), Providers: map[string]bool{"veriff": true, "passbase": true}}
	list, _, err := o.Sessions(context.Background(), operator.Filter{State: operator.StateFailed, Query: `IdvProvider = "veriff") OR (WorkflowType = "OperationWorkflow"`})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].WorkflowID != "veriff:s2" {
		t.Fatalf("listed: %+v", list)
	}
}
