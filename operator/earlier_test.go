package operator_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/idvflow/idvflow/activities/userstore"
	"github.com/idvflow/idvflow/operator"
	"github.com/idvflow/idvflow/workflows"
)

// sessionRuns is visibility and history for one session's runs.
type sessionRuns struct {
	client.Client
	runs    []*workflowpb.WorkflowExecutionInfo
	history map[string][]*historypb.HistoryEvent
}

func (s sessionRuns) ListWorkflow(context.Context, *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error) {
	return &workflowservice.ListWorkflowExecutionsResponse{Executions: s.runs}, nil
}

func (s sessionRuns) GetWorkflowHistory(_ context.Context, _, runID string, _ bool, _ enumspb.HistoryEventFilterType) client.HistoryEventIterator {
	return &events{evs: s.history[runID]}
}

type events struct{ evs []*historypb.HistoryEvent }

func (i *events) HasNext() bool { return len(i.evs) > 0 }
func (i *events) Next() (*historypb.HistoryEvent, error) {
	e := i.evs[0]
	i.evs = i.evs[1:]
	return e, nil
}

func payloads(t *testing.T, v ...any) *commonpb.Payloads {
	t.Helper()
	p, err := converter.GetDefaultDataConverter().ToPayloads(v...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func startedWith(t *testing.T, in workflows.Input) *historypb.HistoryEvent {
	return &historypb.HistoryEvent{Attributes: &historypb.HistoryEvent_WorkflowExecutionStartedEventAttributes{
		WorkflowExecutionStartedEventAttributes: &historypb.WorkflowExecutionStartedEventAttributes{Input: payloads(t, in)}}}
}

func signalled(p *commonpb.Payloads) *historypb.HistoryEvent {
	return &historypb.HistoryEvent{Attributes: &historypb.HistoryEvent_WorkflowExecutionSignaledEventAttributes{
		WorkflowExecutionSignaledEventAttributes: &historypb.WorkflowExecutionSignaledEventAttributes{SignalName: workflows.SignalEvent, Input: p}}}
}

func runInfo(id, runID string, st enumspb.WorkflowExecutionStatus, started time.Time) *workflowpb.WorkflowExecutionInfo {
	return &workflowpb.WorkflowExecutionInfo{Execution: &commonpb.WorkflowExecution{WorkflowId: id, RunId: runID}, Status: st, StartTime: timestamppb.New(started)}
}

// What a reopened run takes from the session's other runs: what the runs
// that ended before their end held and no later run received, and their
// first receipts; an event in a history that cannot be decoded (a signal
// sent by hand in the wrong shape, on which the run was stuck when an
// operator terminated it) is left out, not the whole read. (One such
// event failed the read for good, and the reopened run retried it without
// end.)
func TestEarlierRunsLeavesOutWhatItCannotRead(t *testing.T) {
	t0 := time.Date(2026, 7, 6, 9, 0, 0, 0, time.UTC)
	id := workflows.WorkflowID("veriff", "s-earlier")
	in := workflows.Input{Provider: "veriff", SessionID: "s-earlier"}
	approval := workflows.Event{ID: "fullauto/a/approved", Provider: "veriff", SessionID: "s-earlier", Kind: workflows.KindDecision, ReceivedAt: t0}
	progress := workflows.Event{ID: "event/a/started", Provider: "veriff", SessionID: "s-earlier", ReceivedAt: t0.Add(time.Minute)}
	tc := sessionRuns{
		runs: []*workflowpb.WorkflowExecutionInfo{
			runInfo(id, "now", enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, t0.Add(time.Hour)),
			runInfo(id, "stuck", enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED, t0.Add(time.Minute)),
			runInfo(id, "failed", enumspb.WORKFLOW_EXECUTION_STATUS_FAILED, t0),
		},
		history: map[string][]*historypb.HistoryEvent{
			"stuck":  {startedWith(t, in), signalled(payloads(t, "not an event")), signalled(payloads(t, progress))},
			"failed": {startedWith(t, in), signalled(payloads(t, approval))},
		},
	}
	o := &operator.Operator{Temporal: tc, Log: slog.New(slog.DiscardHandler)}
	e, err := o.EarlierRuns(context.Background(), id, "now")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, ev := range e.Events {
		ids = append(ids, ev.ID)
	}
	if !e.Began.Equal(t0) || !e.Untimed[approval.ID].Equal(t0) || len(e.Untimed) != 1 || len(ids) != 2 || ids[0] != approval.ID || ids[1] != progress.ID {
		t.Fatalf("EarlierRuns = began %s, untimed %v, events %v; want began %s, the approval's first receipt, the approval then the progress event",
			e.Began, e.Untimed, ids, t0)
	}
}

// The receiver marks a run Reopened only when Temporal refused to start it
// because a run of the session had closed: a listing without that run is
// visibility not caught up yet, and the read is tried again (the
// activity's retry), not taken for a session without earlier runs.
func TestEarlierRunsWaitsForVisibilityToListTheClosedRun(t *testing.T) {
	id := workflows.WorkflowID("veriff", "s-lag")
	tc := sessionRuns{runs: []*workflowpb.WorkflowExecutionInfo{runInfo(id, "now", enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, time.Now())}}
	o := &operator.Operator{Temporal: tc, Log: slog.New(slog.DiscardHandler)}
	if e, err := o.EarlierRuns(context.Background(), id, "now"); err == nil {
		t.Fatalf("EarlierRuns = %+v with only the reopened run listed; want an error (try again)", e)
	}
	// The closed run listed, the reopened one not yet (Elasticsearch's
	// refresh): the read goes on.
	tc.runs = []*workflowpb.WorkflowExecutionInfo{runInfo(id, "closed", enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED, time.Now().Add(-time.Hour))}
	o.Temporal = tc
	if e, err := o.EarlierRuns(context.Background(), id, "now"); err != nil || len(e.Events) != 0 {
		t.Fatalf("EarlierRuns = %+v, %v with the closed run listed; want nothing to take, no error", e, err)
	}
}

// What a reopened run takes is recorded as one marker, which Temporal
// refuses past its payload limit: a failed run that held more than fits
// gives its newest events, within maxTakenBytes (512 KiB), the rest left
// for a retry.
func TestEarlierRunsKeepsTheMarkerUnderThePayloadLimit(t *testing.T) {
	t0 := time.Date(2026, 7, 6, 9, 0, 0, 0, time.UTC)
	id := workflows.WorkflowID("veriff", "s-big")
	in := workflows.Input{Provider: "veriff", SessionID: "s-big"}
	history := []*historypb.HistoryEvent{startedWith(t, in)}
	var last string
	for i := range 3000 {
		last = fmt.Sprintf("screening/%04d/%s", i, strings.Repeat("x", 480))
		history = append(history, signalled(payloads(t, workflows.Event{ID: last, Provider: "veriff", SessionID: "s-big",
			Kind: workflows.KindScreening, UserID: strings.Repeat("u", 255), ReceivedAt: t0.Add(time.Duration(i) * time.Second)})))
	}
	tc := sessionRuns{
		runs: []*workflowpb.WorkflowExecutionInfo{
			runInfo(id, "now", enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, t0.Add(time.Hour)),
			runInfo(id, "failed", enumspb.WORKFLOW_EXECUTION_STATUS_FAILED, t0),
		},
		history: map[string][]*historypb.HistoryEvent{"failed": history},
	}
	o := &operator.Operator{Temporal: tc, Log: slog.New(slog.DiscardHandler)}
	e, err := o.EarlierRuns(context.Background(), id, "now")
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 512<<10 || len(e.Events) == 0 || e.Events[len(e.Events)-1].ID != last || !e.Began.Equal(t0) {
		t.Fatalf("EarlierRuns: %d bytes, %d events, began %s; want at most 512 KiB ending with the newest event, began %s", len(b), len(e.Events), e.Began, t0)
	}
}

// retryRuns is sessionRuns that a retry can act on: the newest run is
// failed, its query times out (no worker has replayed it yet), and what
// the retry signals is kept.
type retryRuns struct {
	sessionRuns
	signalled []workflows.Event
}

func (r *retryRuns) DescribeWorkflowExecution(_ context.Context, id, _ string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	return &workflowservice.DescribeWorkflowExecutionResponse{WorkflowExecutionInfo: r.runs[0]}, nil
}

func (r *retryRuns) QueryWorkflow(context.Context, string, string, string, ...any) (converter.EncodedValue, error) {
	return nil, context.DeadlineExceeded
}

func (r *retryRuns) SignalWithStartWorkflow(_ context.Context, _, _ string, arg any, _ client.StartWorkflowOptions, _ any, _ ...any) (client.WorkflowRun, error) {
	r.signalled = append(r.signalled, arg.(workflows.Event))
	return nil, nil
}

type auditLog []userstore.Action

func (a *auditLog) RecordAction(_ context.Context, act userstore.Action) error {
	*a = append(*a, act)
	return nil
}

// A retry's audit record names the user even when the failed run cannot
// answer its query in time (a closed run answers only once a worker has
// replayed it, which a busy worker may not do within the query's five
// seconds): the webhooks the run received name her. (The record named no
// one, and her view of the user did not list the retry.)
func TestRetryNamesTheUserWhenTheRunCannotBeQueried(t *testing.T) {
	t0 := time.Date(2026, 7, 6, 9, 0, 0, 0, time.UTC)
	id := workflows.WorkflowID("passbase", "s-user")
	in := workflows.Input{Provider: "passbase", SessionID: "s-user"}
	approval := workflows.Event{ID: "reviewed/s-user/1/approved", Provider: "passbase", SessionID: "s-user", Kind: workflows.KindDecision,
		Decision: "approved", UserID: "user-named", ReceivedAt: t0}
	tc := &retryRuns{sessionRuns: sessionRuns{
		runs:    []*workflowpb.WorkflowExecutionInfo{runInfo(id, "failed", enumspb.WORKFLOW_EXECUTION_STATUS_FAILED, t0)},
		history: map[string][]*historypb.HistoryEvent{"failed": {startedWith(t, in), signalled(payloads(t, approval))}},
	}}
	var audit auditLog
	o := &operator.Operator{Temporal: tc, Audit: &audit, Log: slog.New(slog.DiscardHandler)}
	r, err := o.Do(context.Background(), operator.ActionRetry, operator.Target{Provider: "passbase", SessionID: "s-user"}, "")
	if err != nil || r.Outcome != operator.OutcomeRetried || len(tc.signalled) != 1 {
		t.Fatalf("retry: %+v, %v, %d signalled; want retried, the approval handed over", r, err, len(tc.signalled))
	}
	if r.UserID != "user-named" || len(audit) != 1 || audit[0].UserID != "user-named" {
		t.Fatalf("retry names user %q, audit %+v; want user-named", r.UserID, audit)
	}
}
