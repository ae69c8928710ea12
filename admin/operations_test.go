package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
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

	"github.com/idvflow/idvflow/activities/userstore"
	"github.com/idvflow/idvflow/operator"
	"github.com/idvflow/idvflow/providers"
	"github.com/idvflow/idvflow/providers/veriff"
	"github.com/idvflow/idvflow/workflows"
)

type jsonValue struct{ v any }

func (j jsonValue) HasValue() bool { return true }
func (j jsonValue) Get(p any) error {
	b, err := json.Marshal(j.v)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, p)
}

type opRun struct{ id string }

func (r opRun) GetID() string                  { return r.id }
func (r opRun) GetRunID() string               { return "run-1" }
func (r opRun) GetFirstExecutionRunID() string { return "run-1" }
func (r opRun) Get(context.Context, any) error { return nil }
func (r opRun) GetWithOptions(context.Context, any, client.WorkflowRunGetOptions) error {
	return nil
}

// bulkTemporal is Temporal with one waiting session and an operation that,
// once started, runs (as Temporal with WorkflowIDConflictPolicy FAIL
// answers a second start: WorkflowExecutionAlreadyStarted).
type bulkTemporal struct {
	client.Client
	mu      sync.Mutex
	started bool
}

func (b *bulkTemporal) ListWorkflow(context.Context, *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error) {
	return &workflowservice.ListWorkflowExecutionsResponse{Executions: []*workflowpb.WorkflowExecutionInfo{{
		Execution: &commonpb.WorkflowExecution{WorkflowId: "veriff:s-1", RunId: "r-1"},
		Type:      &commonpb.WorkflowType{Name: workflows.WorkflowName},
		StartTime: timestamppb.New(time.Now().Add(-time.Hour)), Status: enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING,
	}}}, nil
}

func (b *bulkTemporal) QueryWorkflow(_ context.Context, id, _, query string, _ ...any) (converter.EncodedValue, error) {
	if query == operator.QueryProgress {
		return jsonValue{operator.Progress{ID: id, State: operator.OperationRunning, Total: 1, Outcomes: map[string]int{}}}, nil
	}
	return jsonValue{workflows.SessionState{Provider: "veriff", SessionID: "s-1", Status: workflows.StatusWaiting, StartedAt: time.Now().Add(-time.Hour)}}, nil
}

func (b *bulkTemporal) ExecuteWorkflow(_ context.Context, o client.StartWorkflowOptions, _ any, _ ...any) (client.WorkflowRun, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.started {
		return nil, serviceerror.NewWorkflowExecutionAlreadyStarted("workflow execution already started", "", "run-1")
	}
	b.started = true
	return opRun{o.ID}, nil
}

func (b *bulkTemporal) DescribeWorkflowExecution(_ context.Context, id, _ string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if strings.HasPrefix(id, operator.WorkflowID("")) && !b.started {
		return nil, serviceerror.NewNotFound("workflow not found")
	}
	return &workflowservice.DescribeWorkflowExecutionResponse{WorkflowExecutionInfo: &workflowpb.WorkflowExecutionInfo{Status: enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING}}, nil
}

// flakyActions fails the first audit record write, as a database that
// blips.
type flakyActions struct {
	*userstore.Store
	once sync.Once
}

func (f *flakyActions) RecordAction(ctx context.Context, a userstore.Action) error {
	failed := false
	f.once.Do(func() { failed = true })
	if failed {
		return errors.New("database is locked")
	}
	return f.Store.RecordAction(ctx, a)
}

// README ("Acting on sessions"): "an action whose audit record cannot be
// written (the database down) answers 503 though it was done, and done
// again (every action is idempotent) it is recorded". A bulk start whose
// "started" record fails answers 503; the operator sends it again, and
// the repeat, though it finds the operation already started
// (WorkflowIDConflictPolicy FAIL), writes the record: the running
// operation has one "started" in the audit trail.
func TestBulkStartRepeatedAfterAFailedRecordWriteIsRecordedOnce(t *testing.T) {
	st := tempStore(t)
	audit := &flakyActions{Store: st}
	tc := &bulkTemporal{}
	h := New(nil, nil, "tok", slog.New(slog.DiscardHandler)).
		WithOps(Ops{Operator: &operator.Operator{Temporal: tc, TaskQueue: "q", Log: slog.New(slog.DiscardHandler)}, Store: audit,
			Providers: providers.Registry{veriff.Provider{}}}).Handler()
	post := func(req OperationRequest) (int, []byte) {
		b, _ := json.Marshal(req)
		r := httptest.NewRequest(http.MethodPost, "/v1/operations", bytes.NewReader(b))
		r.Header.Set("Authorization", "Bearer tok")
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code, w.Body.Bytes()
	}
	code, body := post(OperationRequest{Action: operator.ActionResync, State: operator.StateWaiting, DryRun: true})
	var dry DryRunView
	if err := json.Unmarshal(body, &dry); err != nil || code != http.StatusOK || dry.Count != 1 {
		t.Fatalf("dry run: %d %s", code, body)
	}
	req := OperationRequest{Action: operator.ActionResync, State: operator.StateWaiting, Confirm: dry.Confirm}
	first, _ := post(req)  // started; its audit record fails: 503
	second, _ := post(req) // done again
	acts, err := st.Actions(context.Background(), userstore.ActionFilter{})
	if err != nil {
		t.Fatal(err)
	}
	starts := 0
	for _, a := range acts {
		if a.Action == "bulk-resync" && a.Outcome == "started" {
			starts++
		}
	}
	if starts != 1 {
		t.Fatalf("first start answered %d (audit write failed), the repeat %d; %d \"started\" records in the audit trail for the running operation, want 1", first, second, starts)
	}
}
