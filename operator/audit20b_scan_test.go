package operator_test

// Issue 20 second audit (regression; fixed: older_than is asked of
// visibility): the listing read at most 5,000 runs from visibility, newest
// first (StartTime DESC), and applies older_than afterwards. With more
// than 5,000 open sessions, "waiting older than 24h" (the outage runbook's
// query) reads only the newest 5,000 and so never sees the old sessions it
// asks for; idvctl's advice ("narrow with --older-than") cannot help,
// since older_than never reaches visibility.

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/idvflow/idvflow/operator"
	"github.com/idvflow/idvflow/workflows"
)

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

func TestAudit20bWaitingOlderThanFindsOldSessionsAmongMany(t *testing.T) {
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
