// Package cost counts what a workflow history costs Temporal: its events,
// the actions Temporal Cloud bills for it, and its workflow tasks. The load
// tool's sizing (docs/operations.md) and the tests that hold a path to its
// budget count the same way.
package cost

import (
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/proto"
)

// changeVersion is the search attribute GetVersion upserts; Temporal Cloud
// does not bill its upsert (docs.temporal.io/cloud/actions, "Search
// Attribute upsert requested").
const changeVersion = "TemporalChangeVersion"

// Cost is one history's count.
type Cost struct {
	Events  int
	Actions int
	// Tasks are the completed workflow tasks: each is a round trip of the
	// worker, the main part of its CPU per session.
	Tasks      int
	Signals    int
	Activities int // activity attempts (local activities are markers)
	Upserts    int // search attribute updates
	Bytes      int // the events' size as protobuf
	// Markers counts the markers by name (SideEffect, Version,
	// LocalActivity).
	Markers map[string]int
}

// Of counts events. Actions are counted as Temporal Cloud lists billable
// actions: a workflow started (or continued as new), each signal, each
// activity attempt, each timer, each search attribute or memo update (but
// GetVersion's own TemporalChangeVersion upsert), each
// accepted Update (a review), and each marker (version, side effect, local
// activity). Queries and describe
// calls are not in a history and are not counted.
func Of(events []*historypb.HistoryEvent) Cost {
	c := Cost{Events: len(events), Markers: map[string]int{}}
	for _, e := range events {
		c.Bytes += proto.Size(e)
		switch e.GetEventType() {
		case enumspb.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
			c.Upserts++
			fields := e.GetUpsertWorkflowSearchAttributesEventAttributes().GetSearchAttributes().GetIndexedFields()
			if _, ok := fields[changeVersion]; !ok || len(fields) > 1 {
				c.Actions++
			}
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
			enumspb.EVENT_TYPE_TIMER_STARTED,
			enumspb.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED,
			enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
			c.Actions++
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
			c.Actions++
			c.Signals++
		case enumspb.EVENT_TYPE_MARKER_RECORDED:
			c.Actions++
			c.Markers[e.GetMarkerRecordedEventAttributes().GetMarkerName()]++
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
			n := int(max(1, e.GetActivityTaskStartedEventAttributes().GetAttempt()))
			c.Actions += n
			c.Activities += n
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
			c.Tasks++
		}
	}
	return c
}
