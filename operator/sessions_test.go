package operator_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/idvflow/idvflow/operator"
	"github.com/idvflow/idvflow/workflows"
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

// The failed listing goes by a session's newest run: a session whose
// newest run is running again (a webhook started a new run after the
// failure) is not listed as failed, though visibility's
// `IdvStatus = "error"` drops the newest run and answers only the older
// failed one.
func TestFailedListingLeavesOutASessionWhoseNewestRunIsRunning(t *testing.T) {
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
func TestListingKeepsToSessions(t *testing.T) {
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

type openRuns struct {
	client.Client
	runs    []*workflowpb.WorkflowExecutionInfo // newest first, as visibility orders them
	started map[string]time.Time
}

// ListWorkflow answers as visibility would the parts of the query this
// test depends on: the run's status and StartTime < a time.
func (v openRuns) ListWorkflow(_ context.Context, req *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error) {
	var runs []*workflowpb.WorkflowExecutionInfo
	var before time.Time
	if m := regexp.MustCompile(`StartTime < "([^"]+)"`).FindStringSubmatch(req.Query); m != nil {
		before, _ = time.Parse(time.RFC3339Nano, m[1])
	}
	for _, r := range v.runs {
		if strings.Contains(req.Query, `ExecutionStatus = "ContinuedAsNew"`) && r.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW ||
			strings.Contains(req.Query, `ExecutionStatus = "Running"`) && r.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			continue
		}
		if !before.IsZero() && !r.GetStartTime().AsTime().Before(before) {
			continue
		}
		runs = append(runs, r)
	}
	from := 0
	if len(req.NextPageToken) > 0 {
		from, _ = strconv.Atoi(string(req.NextPageToken))
	}
	to := min(from+int(req.PageSize), len(runs))
	resp := &workflowservice.ListWorkflowExecutionsResponse{Executions: runs[from:to]}
	if to < len(runs) {
		resp.NextPageToken = []byte(strconv.Itoa(to))
	}
	return resp, nil
}

type stateValue struct{ st workflows.SessionState }

func (s stateValue) HasValue() bool { return true }
func (s stateValue) Get(p any) error {
	*p.(*workflows.SessionState) = s.st
	return nil
}

func (v openRuns) QueryWorkflow(_ context.Context, id, _, _ string, _ ...any) (converter.EncodedValue, error) {
	return stateValue{workflows.SessionState{StartedAt: v.started[id], Status: workflows.StatusWaiting}}, nil
}

// older_than is asked of visibility, not applied to the runs read from it
// (at most 5,000, newest first, StartTime DESC): with more than 5,000 open
// sessions, "waiting older than 24h" (the outage runbook's query) still
// finds the old sessions it asks for, and idvctl's advice ("narrow with
// --older-than") can help.
func TestWaitingOlderThanFindsOldSessionsAmongMany(t *testing.T) {
	now := time.Now()
	v := openRuns{started: map[string]time.Time{}}
	add := func(id string, at time.Time) {
		v.runs = append(v.runs, &workflowpb.WorkflowExecutionInfo{
			Execution: &commonpb.WorkflowExecution{WorkflowId: id, RunId: "r-" + id},
			Type:      &commonpb.WorkflowType{Name: workflows.WorkflowName},
			StartTime: timestamppb.New(at), Status: enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING,
		})
		v.started[id] = at
	}
	for i := range 5000 { // today's open sessions
		add(fmt.Sprintf("veriff:new-%04d", i), now.Add(-time.Duration(i)*time.Second))
	}
	for i := range 10 { // the ones whose decision webhooks were lost two days ago
		add(fmt.Sprintf("veriff:old-%02d", i), now.Add(-48*time.Hour-time.Duration(i)*time.Second))
	}
	o := &operator.Operator{Temporal: v, Log: slog.New(slog.DiscardHandler)}
	list, truncated, err := o.Sessions(context.Background(), operator.Filter{State: operator.StateWaiting, OlderThan: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 10 {
		t.Fatalf("waiting older than 24h: %d listed (truncated %v), want the 10 sessions that waited two days", len(list), truncated)
	}
}

// describeRuns answers DescribeWorkflowExecution with a session's open run.
type describeRuns struct {
	openRuns
	open map[string]*workflowpb.WorkflowExecutionInfo
}

func (v describeRuns) DescribeWorkflowExecution(_ context.Context, id, _ string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	return &workflowservice.DescribeWorkflowExecutionResponse{WorkflowExecutionInfo: v.open[id]}, nil
}

// With older_than asked of visibility, a session that began two days ago
// and continued as new an hour ago has an open run younger than the
// cutoff: its closed run names it, and it is listed from its state (the
// session's own start).
func TestWaitingOlderThanFindsASessionThatContinuedAsNew(t *testing.T) {
	now := time.Now()
	began := now.Add(-48 * time.Hour)
	id := "veriff:long-session"
	run := func(runID string, at time.Time, st enumspb.WorkflowExecutionStatus) *workflowpb.WorkflowExecutionInfo {
		return &workflowpb.WorkflowExecutionInfo{
			Execution: &commonpb.WorkflowExecution{WorkflowId: id, RunId: runID},
			Type:      &commonpb.WorkflowType{Name: workflows.WorkflowName},
			StartTime: timestamppb.New(at), Status: st,
		}
	}
	open := run("r-2", now.Add(-time.Hour), enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING)
	v := describeRuns{
		openRuns: openRuns{
			runs:    []*workflowpb.WorkflowExecutionInfo{open, run("r-1", began, enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW)},
			started: map[string]time.Time{id: began},
		},
		open: map[string]*workflowpb.WorkflowExecutionInfo{id: open},
	}
	o := &operator.Operator{Temporal: v, Log: slog.New(slog.DiscardHandler)}
	list, _, err := o.Sessions(context.Background(), operator.Filter{State: operator.StateWaiting, OlderThan: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].RunID != "r-2" || !list[0].StartedAt.Equal(began) {
		t.Fatalf("listed %+v; want the session's open run r-2, begun two days ago", list)
	}
}

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
// listing does not show it as "waiting" with "no decision", where the
// outage runbook's bulk resync would act on it: visibility's
// IdvStatus = "waiting" keeps every decided session out of the candidates.
func TestDecidedSessionWithoutStateQueryIsNotWaiting(t *testing.T) {
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
