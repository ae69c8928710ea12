package operator_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	failurepb "go.temporal.io/api/failure/v1"
	historypb "go.temporal.io/api/history/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/sdk/converter"

	"github.com/idvflow/idvflow/internal/payloadcodec"
	"github.com/idvflow/idvflow/operator"
	"github.com/idvflow/idvflow/workflows"
)

func encoded(t *testing.T, dc converter.DataConverter, v ...any) *commonpb.Payloads {
	t.Helper()
	p, err := dc.ToPayloads(v...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// laMarker is a local activity's marker as the Go SDK records it (the
// shape of testdata/histories/v1.1/veriff-reopened-after-terminated.json).
func laMarker(t *testing.T, dc converter.DataConverter, activityType string, result any, failure *failurepb.Failure) *historypb.HistoryEvent {
	data := struct {
		ActivityID, ActivityType string
		ReplayTime               time.Time
		Attempt                  int32
	}{"1", activityType, time.Now(), 1}
	details := map[string]*commonpb.Payloads{"data": encoded(t, dc, data)}
	if result != nil {
		details["result"] = encoded(t, dc, result)
	}
	return &historypb.HistoryEvent{Attributes: &historypb.HistoryEvent_MarkerRecordedEventAttributes{
		MarkerRecordedEventAttributes: &historypb.MarkerRecordedEventAttributes{MarkerName: "LocalActivity", Details: details, Failure: failure}}}
}

// A reopened run that took the failed run's approval (its EarlierRuns
// marker, encrypted with IDV_PAYLOAD_KEYS) and completed counts as having
// received it: the next reopened run, or a retry, hands it over no more. A
// failed marker and another local activity's marker give nothing.
func TestEarlierRunsCountsWhatARunTookAsReceived(t *testing.T) {
	codec, err := payloadcodec.ParseKeys(payloadcodec.NewKey("k"))
	if err != nil {
		t.Fatal(err)
	}
	dc := codec.DataConverter()
	t0 := time.Date(2026, 7, 6, 9, 0, 0, 0, time.UTC)
	id := workflows.WorkflowID("veriff", "s-took")
	in := workflows.Input{Provider: "veriff", SessionID: "s-took"}
	approval := workflows.Event{ID: "fullauto/a/approved", Provider: "veriff", SessionID: "s-took", Kind: workflows.KindDecision, ReceivedAt: t0}
	other := workflows.Event{ID: "fullauto/a/declined", Provider: "veriff", SessionID: "s-took", Kind: workflows.KindDecision, ReceivedAt: t0.Add(time.Second)}
	progress := workflows.Event{ID: "event/a/started", Provider: "veriff", SessionID: "s-took", ReceivedAt: t0.Add(time.Hour)}
	started := func(in workflows.Input) *historypb.HistoryEvent {
		return &historypb.HistoryEvent{Attributes: &historypb.HistoryEvent_WorkflowExecutionStartedEventAttributes{
			WorkflowExecutionStartedEventAttributes: &historypb.WorkflowExecutionStartedEventAttributes{Input: encoded(t, dc, in)}}}
	}
	reopened := in
	reopened.Reopened = true
	tc := sessionRuns{
		runs: []*workflowpb.WorkflowExecutionInfo{
			runInfo(id, "now", enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, t0.Add(2*time.Hour)),
			runInfo(id, "took", enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED, t0.Add(time.Hour)),
			runInfo(id, "failed", enumspb.WORKFLOW_EXECUTION_STATUS_FAILED, t0),
		},
		history: map[string][]*historypb.HistoryEvent{
			"failed": {started(in), signalled(encoded(t, dc, approval)), signalled(encoded(t, dc, other))},
			"took": {started(reopened), signalled(encoded(t, dc, progress)),
				laMarker(t, dc, "HeldDecision", workflows.Earlier{Events: []workflows.Event{other}}, nil),                                 // another local activity
				laMarker(t, dc, workflows.EarlierRunsActivity, workflows.Earlier{Events: []workflows.Event{other}}, &failurepb.Failure{}), // failed
				laMarker(t, dc, workflows.EarlierRunsActivity, workflows.Earlier{Began: t0, Events: []workflows.Event{approval}}, nil)},
		},
	}
	o := &operator.Operator{Temporal: tc, Data: dc, Log: slog.New(slog.DiscardHandler)}
	e, err := o.EarlierRuns(context.Background(), id, "now")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, ev := range e.Events {
		ids = append(ids, ev.ID)
	}
	if len(ids) != 1 || ids[0] != other.ID {
		t.Fatalf("EarlierRuns events %v; want only %s (the approval was taken by the completed run, through its encrypted marker; the decline only by markers that do not count)", ids, other.ID)
	}
}
