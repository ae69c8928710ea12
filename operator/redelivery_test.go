package operator_test

import (
	"slices"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/idvflow/idvflow/operator"
	"github.com/idvflow/idvflow/workflows"
)

// Redelivery picks, of a session's runs, what a retry hands over: the
// events of runs that ended before their end that no later run received.
func TestRedelivery(t *testing.T) {
	t0 := time.Date(2026, 7, 1, 9, 0, 0, 0, time.UTC)
	ev := func(id string, at time.Duration) workflows.Event {
		return workflows.Event{ID: id, ReceivedAt: t0.Add(at)}
	}
	const (
		failed     = enumspb.WORKFLOW_EXECUTION_STATUS_FAILED
		terminated = enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED
		canceled   = enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED
		timedOut   = enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT
		completed  = enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED
		running    = enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
		continued  = enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW
	)
	type run struct {
		status enumspb.WorkflowExecutionStatus
		held   []workflows.Event
	}
	for _, tc := range []struct {
		name     string
		runs     []run // oldest first
		wantRuns []string
		want     []string
	}{
		{"a failed run alone", []run{{failed, []workflows.Event{ev("a", 0), ev("b", time.Minute)}}}, []string{"r0"}, []string{"a", "b"}},
		{"each way of ending before the end", []run{{terminated, []workflows.Event{ev("a", 0)}}, {canceled, []workflows.Event{ev("b", time.Minute)}}, {timedOut, []workflows.Event{ev("c", 2*time.Minute)}}},
			[]string{"r0", "r1", "r2"}, []string{"a", "b", "c"}},
		{"nothing ended before its end", []run{{continued, []workflows.Event{ev("a", 0)}}, {completed, []workflows.Event{ev("b", time.Minute)}}, {running, []workflows.Event{ev("c", 2*time.Minute)}}},
			nil, nil},
		{"a failed run, then a later webhook's run that completed without its events",
			[]run{{failed, []workflows.Event{ev("a", 0), ev("approved", time.Minute)}}, {completed, []workflows.Event{ev("declined", 3*time.Minute)}}},
			[]string{"r0"}, []string{"a", "approved"}},
		{"a failed run retried before: the retry's run received its events",
			[]run{{failed, []workflows.Event{ev("a", 0), ev("approved", time.Minute)}}, {completed, []workflows.Event{ev("a", 0), ev("approved", time.Minute)}}},
			nil, nil},
		{"a retry under way: the open run received them", []run{{failed, []workflows.Event{ev("a", 0)}}, {running, []workflows.Event{ev("a", 0)}}}, nil, nil},
		{"a later receipt of the same webhook is not the first",
			[]run{{terminated, []workflows.Event{ev("started", 0)}}, {completed, []workflows.Event{ev("started", 2*time.Second)}}},
			[]string{"r0"}, []string{"started"}},
		{"two failed runs, oldest first, each event once",
			[]run{{failed, []workflows.Event{ev("a", 0)}}, {completed, nil}, {failed, []workflows.Event{ev("b", time.Minute), ev("c", 2*time.Minute)}}, {running, []workflows.Event{ev("c", 2*time.Minute)}}},
			[]string{"r0", "r2"}, []string{"a", "b"}},
		{"an event two failed runs held is handed once, by the later",
			[]run{{failed, []workflows.Event{ev("a", 0)}}, {failed, []workflows.Event{ev("a", 0), ev("b", time.Minute)}}},
			[]string{"r1"}, []string{"a", "b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var runs []operator.Run
			byID := map[string][]workflows.Event{}
			for i, r := range slices.Backward(tc.runs) { // newest first, as listed
				id := "r" + string(rune('0'+i))
				runs = append(runs, operator.Run{ID: id, Status: r.status})
				byID[id] = r.held
			}
			ids, held, err := operator.Redelivery(runs, func(id string) ([]workflows.Event, error) { return byID[id], nil })
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range held {
				got = append(got, e.ID)
			}
			if !slices.Equal(ids, tc.wantRuns) || !slices.Equal(got, tc.want) {
				t.Fatalf("runs %v, events %v; want runs %v, events %v", ids, got, tc.wantRuns, tc.want)
			}
		})
	}
}
