package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/proto"

	"github.com/idvflow/idvflow/activities/userstore"
	"github.com/idvflow/idvflow/providers/passbase"
	"github.com/idvflow/idvflow/providers/sim"
	"github.com/idvflow/idvflow/providers/veriff"
	"github.com/idvflow/idvflow/workflows"
)

// PathCost is what one kind of session costs, measured on real histories:
// the history events of its workflow, the Temporal actions they amount to,
// and the rows it adds to the user store.
type PathCost struct {
	Path     string             `json:"path"`
	Sessions int                `json:"sessions"`
	Events   float64            `json:"history_events_per_session"`
	Actions  float64            `json:"actions_per_session"`
	Rows     map[string]float64 `json:"rows_per_session"`
	Signals  float64            `json:"signals_per_session"`
	// Bytes is the history's size as protobuf (payloads encrypted when
	// the stack has IDV_PAYLOAD_KEYS, as in production).
	Bytes      float64 `json:"history_bytes_per_session"`
	Activities float64 `json:"activity_attempts_per_session"`
	Tasks      float64 `json:"workflow_tasks_per_session"`
}

// sizingPath sends one session of a kind and returns its workflow id.
type sizingPath struct {
	name string
	send func(ctx context.Context, o Options, i int) (string, error)
}

// Sizing runs n sessions of each common path, one path at a time on a
// quiet stack, and measures each (docs/operations.md). The stack's
// timings must be short (a grace, poll delay and late window of seconds),
// or the sessions take hours to close.
func Sizing(ctx context.Context, o Options, users *userstore.Store, n int) ([]PathCost, error) {
	run := time.Now().UnixNano()
	var out []PathCost
	for _, p := range sizingPaths(run) {
		before, err := users.RowCounts(ctx)
		if err != nil {
			return nil, err
		}
		var ids []string
		for i := range n {
			id, err := p.send(ctx, o, i)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", p.name, err)
			}
			ids = append(ids, id)
		}
		cost := PathCost{Path: p.name, Sessions: n, Rows: map[string]float64{}}
		for _, id := range ids {
			events, err := closedHistory(ctx, o, id)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", p.name, err)
			}
			cost.Events += float64(len(events)) / float64(n)
			cost.Actions += float64(actions(events)) / float64(n)
			for _, e := range events {
				cost.Bytes += float64(proto.Size(e)) / float64(n)
				switch e.GetEventType() {
				case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
					cost.Signals += 1 / float64(n)
				case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
					cost.Activities += float64(max(1, e.GetActivityTaskStartedEventAttributes().GetAttempt())) / float64(n)
				case enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
					cost.Tasks += 1 / float64(n)
				}
			}
		}
		after, err := users.RowCounts(ctx)
		if err != nil {
			return nil, err
		}
		for t, v := range after {
			cost.Rows[t] = float64(v-before[t]) / float64(n)
		}
		out = append(out, cost)
	}
	return out, nil
}

func sizingPaths(run int64) []sizingPath {
	at := time.Now().UTC().Add(-time.Minute).Truncate(time.Millisecond)
	user := func(path string, i int) string { return fmt.Sprintf("size-%s-%d-%d", path, run%1e6, i) }
	sendVeriff := func(ctx context.Context, o Options, bodies ...[]byte) error {
		for _, b := range bodies {
			if err := sendOK(ctx, o, veriff.Name, b); err != nil {
				return err
			}
		}
		return nil
	}
	return []sizingPath{
		{"one decision (Veriff decision webhook)", func(ctx context.Context, o Options, i int) (string, error) {
			id, att := sim.NewUUID(), sim.NewUUID()
			return workflows.WorkflowID(veriff.Name, id), sendVeriff(ctx, o, veriff.DecisionBody(id, att, user("one", i), "approved", at))
		}},
		{"decision first, processed within the grace (Passbase)", func(ctx context.Context, o Options, i int) (string, error) {
			key, u := sim.NewUUID(), user("grace", i)
			if err := o.Target.Put(ctx, passbase.Name, key, passbase.IdentityObject(key, u, "approved", at.Add(-time.Minute), at)); err != nil {
				return "", err
			}
			for _, b := range [][]byte{
				passbase.ReviewedBody(passbase.VocabularyNew, key, "", "approved", at.Add(-time.Minute), at),
				passbase.ProcessedBody(passbase.VocabularyNew, key, "", "pending", at.Add(-time.Minute), at.Add(-time.Second)),
			} {
				if err := sendOK(ctx, o, "passbase", b); err != nil {
					return "", err
				}
			}
			return workflows.WorkflowID(passbase.Name, key), nil
		}},
		{"decision webhook lost, found by polling (Veriff)", func(ctx context.Context, o Options, i int) (string, error) {
			id, att, u := sim.NewUUID(), sim.NewUUID(), user("poll", i)
			v, _ := json.Marshal(veriff.Verification(id, att, u, "approved", at))
			if err := o.Target.Put(ctx, veriff.Name, id, v); err != nil {
				return "", err
			}
			return workflows.WorkflowID(veriff.Name, id), sendVeriff(ctx, o,
				veriff.EventBody(id, att, u, veriff.Started), veriff.EventBody(id, att, u, veriff.Submitted))
		}},
		{"re-review: resubmission requested, then approved (Veriff)", func(ctx context.Context, o Options, i int) (string, error) {
			id, att, u := sim.NewUUID(), sim.NewUUID(), user("rereview", i)
			return workflows.WorkflowID(veriff.Name, id), sendVeriff(ctx, o,
				veriff.EventBody(id, att, u, veriff.Started), veriff.EventBody(id, att, u, veriff.Submitted),
				veriff.DecisionBody(id, att, u, "resubmission_requested", at.Add(-time.Minute)),
				veriff.DecisionBody(id, sim.NewUUID(), u, "approved", at))
		}},
	}
}

func sendOK(ctx context.Context, o Options, provider string, body []byte) error {
	for k := range 20 {
		code, answer, err := o.targets()[k%len(o.targets())].Send(ctx, provider, body)
		if err == nil && code == http.StatusOK {
			return nil
		}
		if err == nil && code != http.StatusServiceUnavailable {
			return fmt.Errorf("%s webhook: %d %s", provider, code, strings.TrimSpace(answer))
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("%s webhook never acknowledged", provider)
}

// closedHistory waits for the session's run chain to complete and returns
// the events of every run (continue-as-new included).
func closedHistory(ctx context.Context, o Options, workflowID string) ([]*historypb.HistoryEvent, error) {
	deadline := time.Now().Add(3 * time.Minute)
	for {
		d, err := o.Temporal.DescribeWorkflowExecution(ctx, workflowID, "")
		if err == nil && d.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%s still open after 3 minutes (are the stack's timings short?)", workflowID)
		}
		time.Sleep(250 * time.Millisecond)
	}
	var events []*historypb.HistoryEvent
	it := o.Temporal.GetWorkflowHistory(ctx, workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return nil, err
		}
		events = append(events, e)
	}
	return events, nil
}

// actions counts the history's billable actions as Temporal Cloud lists
// them: a workflow started (or continued as new), each signal, each
// activity attempt, each timer, each search attribute or memo update, and
// each marker (version, side effect, local activity). Queries and the
// receiver's describe calls are not in a history and are not counted.
func actions(events []*historypb.HistoryEvent) int {
	n := 0
	for _, e := range events {
		switch e.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
			enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
			enumspb.EVENT_TYPE_TIMER_STARTED,
			enumspb.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
			enumspb.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED,
			enumspb.EVENT_TYPE_MARKER_RECORDED:
			n++
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
			n += int(max(1, e.GetActivityTaskStartedEventAttributes().GetAttempt()))
		}
	}
	return n
}

// SizingMarkdown is the per-path table of docs/operations.md.
func SizingMarkdown(costs []PathCost) string {
	var b strings.Builder
	b.WriteString("| path | history events | history KiB | actions | signals | workflow tasks | activity attempts | rows: users / user_changes / sessions / change_log |\n|---|---|---|---|---|---|---|---|\n")
	for _, c := range costs {
		fmt.Fprintf(&b, "| %s (%d sessions) | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f / %.1f / %.1f / %.1f |\n", c.Path, c.Sessions, c.Events, c.Bytes/1024, c.Actions, c.Signals,
			c.Tasks, c.Activities, c.Rows["users"], c.Rows["user_changes"], c.Rows["sessions"], c.Rows["change_log"])
	}
	return b.String()
}
