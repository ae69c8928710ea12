package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/serviceerror"

	"github.com/idvflow/idvflow/activities/userstore"
	"github.com/idvflow/idvflow/internal/cost"
	"github.com/idvflow/idvflow/onboarding"
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
	// Floor is the least the path can cost under docs/semantics.md.
	Floor Floor `json:"floor"`
}

// Floor is the least history a path can write and still keep the rules,
// derived from what the rules need (docs/operations.md, "Floors"), not
// measured.
type Floor struct {
	Actions float64 `json:"actions"`
	Events  float64 `json:"history_events"`
	Tasks   float64 `json:"workflow_tasks"`
	// Why is the derivation, one term per needed command.
	Why string `json:"why"`
}

// floor derives a path's floor from the commands the rules need: webhooks
// (the first one's SignalWithStart is a start and a signal), activities
// (each a scheduled, started and completed event, and a workflow task for
// its result), upserts, timers (started, and fired or cancelled), and the
// workflow tasks that must happen apart (tasks).
func floor(webhooks, activities, upserts, timers, tasks int, why string) Floor {
	return Floor{
		Actions: float64(1 + webhooks + activities + upserts + timers),
		Events:  float64(1 + webhooks + 3*activities + upserts + 2*timers + 3*tasks + 1),
		Tasks:   float64(tasks),
		Why:     why,
	}
}

// sizingPath sends one session of a kind and returns its workflow id and
// its user's id.
type sizingPath struct {
	name  string
	floor Floor
	send  func(ctx context.Context, o Options, i int) (workflowID, userID string, err error)
}

// onboardingFloor is the user's onboarding run for one final decision with
// IDV_NOTIFY_URL (R11): the hand-over's SignalWithStart (a start and a
// signal), the notify activity, the idle timer that closes the run; tasks:
// the first, the notify's result, the idle timer.
var onboardingFloor = floor(1, 1, 0, 1, 3, "hand-over start + signal, notify activity, idle timer; tasks: start, notify result, idle timer")

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
		var ids, userIDs []string
		for i := range n {
			id, user, err := p.send(ctx, o, i)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", p.name, err)
			}
			ids, userIDs = append(ids, id), append(userIDs, user)
		}
		cost := PathCost{Path: p.name, Sessions: n, Rows: map[string]float64{}, Floor: p.floor}
		for _, id := range ids {
			events, err := closedHistory(ctx, o, id)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", p.name, err)
			}
			cost.add(events, n)
		}
		if o.Onboarding {
			// The hand-over of each final decision starts the user's
			// onboarding run (R11): its cost is the session's too.
			onb := PathCost{Path: p.name + ": the user's onboarding run", Sessions: n, Floor: onboardingFloor}
			for _, u := range userIDs {
				events, err := closedHistory(ctx, o, onboarding.WorkflowID(u))
				if err != nil {
					return nil, fmt.Errorf("%s: onboarding: %w", p.name, err)
				}
				onb.add(events, n)
			}
			after, err := users.RowCounts(ctx)
			if err != nil {
				return nil, err
			}
			cost.rows(before, after, n)
			out = append(out, cost, onb)
			continue
		}
		after, err := users.RowCounts(ctx)
		if err != nil {
			return nil, err
		}
		cost.rows(before, after, n)
		out = append(out, cost)
	}
	return out, nil
}

// rows is the store's rows per session, from its counts before and after.
func (c *PathCost) rows(before, after map[string]int64, n int) {
	for t, v := range after {
		c.Rows[t] = float64(v-before[t]) / float64(n)
	}
}

// add counts one closed history of n into c.
func (c *PathCost) add(events []*historypb.HistoryEvent, n int) {
	k, f := cost.Of(events), float64(n)
	c.Events += float64(k.Events) / f
	c.Actions += float64(k.Actions) / f
	c.Bytes += float64(k.Bytes) / f
	c.Signals += float64(k.Signals) / f
	c.Activities += float64(k.Activities) / f
	c.Tasks += float64(k.Tasks) / f
}

// awaitWaiting returns once the session's workflow waits (no workflow
// task and no activity pending), or at once if it has not started: the
// next webhook of a path then arrives as providers send them, minutes
// apart, while the session waits, a workflow task of its own on any stack;
// the floors count one per webhook. Without it, how many webhooks share a
// task would depend on the stack's speed.
func awaitWaiting(ctx context.Context, o Options, workflowID string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		d, err := o.Temporal.DescribeWorkflowExecution(ctx, workflowID, "")
		if err == nil && d.GetPendingWorkflowTask() == nil && len(d.GetPendingActivities()) == 0 {
			return nil
		}
		var notFound *serviceerror.NotFound
		if errors.As(err, &notFound) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s still busy after 30s (%v)", workflowID, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func sizingPaths(run int64) []sizingPath {
	at := time.Now().UTC().Add(-time.Minute).Truncate(time.Millisecond)
	user := func(path string, i int) string { return fmt.Sprintf("size-%s-%d-%d", path, run%1e6, i) }
	sendVeriff := func(ctx context.Context, o Options, sessionID string, bodies ...[]byte) error {
		for i, b := range bodies {
			if i > 0 {
				if err := awaitWaiting(ctx, o, workflows.WorkflowID(veriff.Name, sessionID)); err != nil {
					return err
				}
			}
			if err := sendOK(ctx, o, veriff.Name, b); err != nil {
				return err
			}
		}
		return nil
	}
	return []sizingPath{
		{"one decision (Veriff decision webhook)",
			floor(1, 1, 1, 1, 3, "webhook start + signal, store write, status upsert, late-event timer; tasks: start, write result, late timer"),
			func(ctx context.Context, o Options, i int) (string, string, error) {
				id, att, u := sim.NewUUID(), sim.NewUUID(), user("one", i)
				return workflows.WorkflowID(veriff.Name, id), u, sendVeriff(ctx, o, id, veriff.DecisionBody(id, att, u, "approved", at))
			}},
		{"decision first, processed within the grace (Passbase)",
			floor(2, 3, 1, 2, 6, "2 webhooks (start + 2 signals), details fetch + 2 store writes (the decision and the processed event's status, R7), one upsert (status and user together), the grace timer (cancelled by the processed event) + the late-event timer; tasks: 2 webhooks, 3 activity results, late timer"),
			func(ctx context.Context, o Options, i int) (string, string, error) {
				key, u := sim.NewUUID(), user("grace", i)
				if err := o.Target.Put(ctx, passbase.Name, key, passbase.IdentityObject(key, u, "approved", at.Add(-time.Minute), at)); err != nil {
					return "", "", err
				}
				for _, b := range [][]byte{
					passbase.ReviewedBody(passbase.VocabularyNew, key, "", "approved", at.Add(-time.Minute), at),
					passbase.ProcessedBody(passbase.VocabularyNew, key, "", "pending", at.Add(-time.Minute), at.Add(-time.Second)),
				} {
					if err := awaitWaiting(ctx, o, workflows.WorkflowID(passbase.Name, key)); err != nil {
						return "", "", err
					}
					if err := sendOK(ctx, o, "passbase", b); err != nil {
						return "", "", err
					}
				}
				return workflows.WorkflowID(passbase.Name, key), u, nil
			}},
		{"decision webhook lost, found by polling (Veriff)",
			floor(2, 2, 1, 2, 6, "2 webhooks (start + 2 signals), poll + store write, status upsert, poll-delay timer (fired) + late-event timer; tasks: 2 webhooks, poll timer, poll result, write result, late timer"),
			func(ctx context.Context, o Options, i int) (string, string, error) {
				id, att, u := sim.NewUUID(), sim.NewUUID(), user("poll", i)
				v, _ := json.Marshal(veriff.Verification(id, att, u, "approved", at))
				if err := o.Target.Put(ctx, veriff.Name, id, v); err != nil {
					return "", "", err
				}
				return workflows.WorkflowID(veriff.Name, id), u, sendVeriff(ctx, o, id,
					veriff.EventBody(id, att, u, veriff.Started), veriff.EventBody(id, att, u, veriff.Submitted))
			}},
		{"re-review: resubmission requested, then approved (Veriff)",
			floor(4, 2, 2, 3, 7, "4 webhooks (start + 4 signals), 2 store writes, 2 status upserts, a poll-delay timer for each wait for a decision (after the events, after the resubmission request; each cancelled by the decision) + the late-event timer; tasks: 4 webhooks, 2 write results, late timer"),
			func(ctx context.Context, o Options, i int) (string, string, error) {
				id, att, u := sim.NewUUID(), sim.NewUUID(), user("rereview", i)
				return workflows.WorkflowID(veriff.Name, id), u, sendVeriff(ctx, o, id,
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

// SizingMarkdown is the per-path table of docs/operations.md: each
// measure beside its floor, and their ratio.
func SizingMarkdown(costs []PathCost) string {
	var b strings.Builder
	b.WriteString("| path | history events (floor, ratio) | actions (floor, ratio) | workflow tasks (floor, ratio) | history KiB | signals | activity attempts | rows: users / user_changes / sessions / change_log |\n|---|---|---|---|---|---|---|---|\n")
	vs := func(v, floor float64) string {
		if floor == 0 {
			return fmt.Sprintf("%.1f", v)
		}
		return fmt.Sprintf("%.1f (%.0f, %.2f×)", v, floor, v/floor)
	}
	for _, c := range costs {
		rows := "—"
		if c.Rows != nil {
			rows = fmt.Sprintf("%.1f / %.1f / %.1f / %.1f", c.Rows["users"], c.Rows["user_changes"], c.Rows["sessions"], c.Rows["change_log"])
		}
		fmt.Fprintf(&b, "| %s (%d) | %s | %s | %s | %.1f | %.1f | %.1f | %s |\n", c.Path, c.Sessions,
			vs(c.Events, c.Floor.Events), vs(c.Actions, c.Floor.Actions), vs(c.Tasks, c.Floor.Tasks),
			c.Bytes/1024, c.Signals, c.Activities, rows)
	}
	b.WriteString("\nFloors (the least each path can write and keep docs/semantics.md):\n\n")
	for _, c := range costs {
		if c.Floor.Why != "" {
			fmt.Fprintf(&b, "- %s: %s.\n", c.Path, c.Floor.Why)
		}
	}
	return b.String()
}
