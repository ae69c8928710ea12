package operator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/idvflow/idvflow/activities"
	"github.com/idvflow/idvflow/activities/userstore"
	"github.com/idvflow/idvflow/internal/telemetry"
	"github.com/idvflow/idvflow/receiver"
	"github.com/idvflow/idvflow/workflows"
)

// Poller asks a provider's API for a session's decision
// (activities.Activities has it).
type Poller interface {
	PollDecision(ctx context.Context, ref activities.SessionRef) (activities.PollResult, error)
}

// Audit keeps the audit trail (userstore.Store has it).
type Audit interface {
	RecordAction(ctx context.Context, a userstore.Action) error
}

// Operator does the operators' actions; the admin API calls it for one
// session, the bulk operation's activities for each of theirs.
type Operator struct {
	Temporal  client.Client
	Namespace string
	// TaskQueue is where a resync starts a session's new run.
	TaskQueue string
	Poller    Poller
	Audit     Audit
	// Data decodes a session's start input (its integration); nil is the
	// SDK's default converter (no payload keys).
	Data converter.DataConverter
	Log  *slog.Logger
	Tel  *telemetry.Telemetry // nil: no metrics
	// Providers are the registered providers' names: only their sessions
	// are listed (nil: any).
	Providers map[string]bool
	// StuckAttempts is the attempt from which a failing activity or
	// workflow task makes its session "stuck" (default 3).
	StuckAttempts int32
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

func (o *Operator) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// Do runs action on t, records it in the audit trail (with operation, the
// bulk operation it belongs to, if any) and returns what it did. Failing
// to act is a Result with OutcomeFailed, not an error: the error is
// reserved for an audit record that could not be written.
func (o *Operator) Do(ctx context.Context, action Action, t Target, operation string) (Result, error) {
	var r Result
	switch action {
	case ActionResync:
		r = o.resync(ctx, t)
	case ActionRetry:
		r = o.retry(ctx, t, operation)
	case ActionRestart:
		r = o.restart(ctx, t)
	default:
		r = Result{Target: t, Outcome: OutcomeFailed, Detail: fmt.Sprintf("unknown action %q", action)}
	}
	r.Action = action
	if o.Tel != nil {
		o.Tel.OperatorActions.WithLabelValues(string(action), r.Outcome).Inc()
	}
	o.Log.Info("operator action", "action", action, "workflow_id", t.WorkflowID(), "outcome", r.Outcome, "operation", operation)
	err := o.Audit.RecordAction(ctx, userstore.Action{
		Action: string(action), Target: t.WorkflowID(), UserID: r.UserID,
		Outcome: r.Outcome, Detail: r.Detail, Operation: operation, At: o.now(),
	})
	return r, err
}

// resync asks the provider's API for t's decision and hands it to the
// session as the event its own poll would record: a repeat of what the
// session has is ignored there, and the store orders what is new (R2-R7).
func (o *Operator) resync(ctx context.Context, t Target) Result {
	r := Result{Target: t}
	ref := activities.SessionRef{Provider: t.Provider, SessionID: t.SessionID, Integration: o.integration(ctx, t)}
	found, err := o.Poller.PollDecision(ctx, ref)
	if err != nil {
		r.Outcome, r.Detail = OutcomeFailed, "provider API: "+err.Error()
		return r
	}
	if !found.Found {
		r.Outcome, r.Detail = OutcomeNoDecision, "the provider has no decision for this session yet"
		return r
	}
	if found.DecidedAt.IsZero() {
		// Ordered by its receipt (R5), an answer without a time would be
		// ordered at this resync, after whatever the user got since.
		r.Outcome, r.Detail = OutcomeFailed, "the provider's answer carries no decision time: not handed over (the session's own poll takes it while it waits)"
		return r
	}
	ev := workflows.PollEvent(t.Provider, t.SessionID, "resync", found, o.now().UTC())
	ev.Integration = ref.Integration
	if err := ev.Validate(); err != nil {
		r.Outcome, r.Detail = OutcomeFailed, "provider answer: "+err.Error()
		return r
	}
	if err := receiver.SignalWithStart(ctx, o.Temporal, o.TaskQueue, ev); err != nil {
		r.Outcome, r.Detail = OutcomeFailed, "signal: "+err.Error()
		return r
	}
	r.Outcome, r.Decision, r.UserID = OutcomeSignalled, string(ev.Decision), found.UserID
	r.Detail = "handed the provider's decision " + found.ProviderStatus + " to the session"
	return r
}

// integration is the provider account t's session belongs to, from its
// newest run's start; "" (the default account) when it has no run.
func (o *Operator) integration(ctx context.Context, t Target) string {
	it := o.Temporal.GetWorkflowHistory(ctx, t.WorkflowID(), "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	if !it.HasNext() {
		return ""
	}
	ev, err := it.Next()
	if err != nil {
		return ""
	}
	attrs := ev.GetWorkflowExecutionStartedEventAttributes()
	if attrs == nil {
		return ""
	}
	var in workflows.Input
	dc := o.Data
	if dc == nil {
		dc = converter.GetDefaultDataConverter()
	}
	if err := dc.FromPayloads(attrs.GetInput(), &in); err != nil {
		o.Log.Warn("resync: cannot read the session's integration; using the default", "workflow_id", t.WorkflowID(), "error", err)
		return ""
	}
	return in.Integration
}

// retry runs again a session whose runs ended in error (or were
// terminated, cancelled, timed out), whatever ran after them: it hands
// every event those runs held that no later run received (the webhooks
// they received, what an earlier run handed them; Redelivery) to the
// session again, through the
// path the receiver takes (SignalWithStart), so they land in the
// session's open run or start a new one on today's workers and code. The
// new run and the store drop what was applied before (R7).
//
// It never resets or terminates a run: a webhook that arrives at any
// moment of a retry lands in whichever run is open, as it would without
// the retry, and is kept. Two retries of one session at once (an operator
// and a bulk retry) hand the same events to the same run, which takes each
// once.
func (o *Operator) retry(ctx context.Context, t Target, operation string) Result {
	r := Result{Target: t}
	d, err := o.Temporal.DescribeWorkflowExecution(ctx, t.WorkflowID(), "")
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		r.Outcome, r.Detail = OutcomeNothing, "no such session"
		return r
	}
	if err != nil {
		r.Outcome, r.Detail = OutcomeFailed, "describe: "+err.Error()
		return r
	}
	info := d.GetWorkflowExecutionInfo()
	// The user the run is about, for the audit record and her history
	// (best effort: a run that cannot answer is retried all the same).
	if st, err := o.state(ctx, t.WorkflowID(), info.GetExecution().GetRunId()); err == nil {
		r.UserID = st.UserID
	}
	newest := info.GetExecution().GetRunId()
	runs, err := o.runs(ctx, t.WorkflowID(), newest, info.GetStatus())
	if err != nil {
		r.Outcome, r.Detail = OutcomeFailed, err.Error()
		return r
	}
	n, ids, user, err := o.handAgain(ctx, t, runs)
	if r.UserID == "" {
		// A closed run answers a query only once a worker has replayed
		// it, which a busy worker may not do in time: the webhooks the
		// runs received name the user as well, when they do.
		r.UserID = user
	}
	if err != nil {
		r.Outcome, r.Detail = OutcomeFailed, err.Error()
		return r
	}
	if len(ids) == 0 {
		r.Outcome = OutcomeNothing
		r.Detail = "the session's newest run is " + StatusWord(info.GetStatus()) + ": no run of it that ended before its end holds an event a later run did not receive"
		return r
	}
	r.Outcome = OutcomeRetried
	r.Detail = fmt.Sprintf("run %s ended before its end; %d events were handed to the session again", strings.Join(ids, ", "), n)
	return r
}

// restart closes t's open run and hands every event it held to the
// session again (a new run on today's workers and code takes them). The
// run is terminated first and its events read after, from its closed
// history: a webhook that reached it before it closed is among them, one
// that came after starts the new run itself. Two restarts at once each
// hand over the events of the run they closed.
func (o *Operator) restart(ctx context.Context, t Target) Result {
	r := Result{Target: t}
	d, err := o.Temporal.DescribeWorkflowExecution(ctx, t.WorkflowID(), "")
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		r.Outcome, r.Detail = OutcomeNothing, "no such session"
		return r
	}
	if err != nil {
		r.Outcome, r.Detail = OutcomeFailed, "describe: "+err.Error()
		return r
	}
	info := d.GetWorkflowExecutionInfo()
	runID := info.GetExecution().GetRunId()
	if st, err := o.state(ctx, t.WorkflowID(), runID); err == nil {
		r.UserID = st.UserID
	}
	if info.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		r.Outcome = OutcomeNothing
		r.Detail = "the session's newest run is " + StatusWord(info.GetStatus()) + " (retry a failed one)"
		return r
	}
	err = o.Temporal.TerminateWorkflow(ctx, t.WorkflowID(), runID, "idvflow restart by an operator: its events go to a new run")
	if err != nil && !errors.As(err, &notFound) {
		r.Outcome, r.Detail = OutcomeFailed, "terminate: "+err.Error()
		return r
	}
	// Closed by this restart, another one, or on its own meanwhile: its
	// history is whole now, and handing its events again is a repeat at
	// worst.
	runs, err := o.runs(ctx, t.WorkflowID(), runID, enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED)
	if err != nil {
		r.Outcome, r.Detail = OutcomeFailed, err.Error()
		return r
	}
	n, _, user, err := o.handAgain(ctx, t, runs)
	if r.UserID == "" {
		r.UserID = user
	}
	if err != nil {
		r.Outcome, r.Detail = OutcomeFailed, err.Error()
		return r
	}
	r.Outcome = OutcomeRestarted
	r.Detail = fmt.Sprintf("run %s closed; its %d events were handed to the session again", runID, n)
	return r
}

// handAgain hands every event the session's runs held (Redelivery) to
// the session again, through the receiver's SignalWithStart, and says how
// many and which runs held them, and the user the newest run's webhooks
// name ("" if none does).
func (o *Operator) handAgain(ctx context.Context, t Target, runs []Run) (int, []string, string, error) {
	var user string
	ids, held, err := Redelivery(runs, func(runID string) ([]workflows.Event, error) {
		evs, err := o.held(ctx, t.WorkflowID(), runID)
		if i := slices.IndexFunc(evs, func(e workflows.Event) bool { return e.UserID != "" }); user == "" && i >= 0 {
			user = evs[i].UserID
		}
		return evs, err
	})
	if err != nil || len(ids) == 0 {
		return 0, ids, user, err
	}
	for _, ev := range held {
		if err := receiver.SignalWithStart(ctx, o.Temporal, o.TaskQueue, ev); err != nil {
			// What was handed over stays handed over; doing it again hands
			// all of it, and the run takes each event once.
			return 0, ids, user, fmt.Errorf("signal: %w", err)
		}
	}
	return len(held), ids, user, nil
}

// Run is one run of a session: its id and how it stands.
type Run struct {
	ID     string
	Status enumspb.WorkflowExecutionStatus
}

// Redelivery is what a retry or a restart hands to a session again, given
// its runs newest first and held, which reads the events a run held
// (workflows.HeldEvents): of every run that ended before its end (in
// error, terminated, cancelled, timed out), the events no later run of the
// session received, each once, oldest run first (the order they were
// received; a later run's later receipt of the same webhook is not the
// event), and the ids of the runs they come from. A webhook that came
// after such a run started a run of its own, which carried nothing of it,
// so the run may hold what only it has, whatever ran after it (a later run
// that completed wrote only what it got). An event a later run received
// is that run's: it wrote it, carried it on, holds it now, or ended before
// its end and hands it over itself. So a session retried once has nothing
// left to retry, and one whose run failed before a later run completed
// still has. Handing an event again is a repeat at worst, which the run
// and the store drop (R7). The generated schedules run this on the runs
// they cut (workflows/session_ops_schedule_test.go).
func Redelivery(runs []Run, held func(runID string) ([]workflows.Event, error)) ([]string, []workflows.Event, error) {
	later := map[string]time.Time{} // events a run after the one at hand received, first receipt
	var ids []string
	var left [][]workflows.Event
	for _, r := range runs { // newest first
		evs, err := held(r.ID)
		if err != nil {
			return nil, nil, err
		}
		if endedBeforeEnd(r.Status) {
			var only []workflows.Event
			for _, e := range evs {
				// A later receipt of the same webhook is not this one: the
				// first receipt dates the session (R4) and an untimed
				// decision (R5).
				if at, ok := later[e.ID]; !ok || at.After(e.ReceivedAt) {
					only = append(only, e)
				}
			}
			if len(only) > 0 {
				ids, left = append(ids, r.ID), append(left, only)
			}
		}
		for _, e := range evs {
			if at, ok := later[e.ID]; !ok || e.ReceivedAt.Before(at) {
				later[e.ID] = e.ReceivedAt
			}
		}
	}
	slices.Reverse(ids)
	slices.Reverse(left)
	var out []workflows.Event
	seen := map[string]bool{}
	for _, evs := range left {
		for _, e := range evs {
			if !seen[e.ID] {
				seen[e.ID] = true
				out = append(out, e)
			}
		}
	}
	return ids, out, nil
}

// runs is the session's runs, newest first; newest is its newest run,
// with the status the caller knows it by (visibility may lag).
func (o *Operator) runs(ctx context.Context, workflowID, newest string, status enumspb.WorkflowExecutionStatus) ([]Run, error) {
	listed, err := o.listRuns(ctx, workflowID)
	if err != nil {
		return nil, err
	}
	runs := []Run{{newest, status}}
	for _, r := range listed {
		if r.ID != newest {
			runs = append(runs, r)
		}
	}
	return runs, nil
}

// listRuns is the session's runs as visibility lists them (at most
// scanLimit), newest first.
func (o *Operator) listRuns(ctx context.Context, workflowID string) ([]Run, error) {
	req := &workflowservice.ListWorkflowExecutionsRequest{
		Namespace: o.Namespace, PageSize: 100, Query: fmt.Sprintf("WorkflowId = %q", workflowID),
	}
	var execs []*workflowpb.WorkflowExecutionInfo
	for len(execs) < scanLimit {
		resp, err := o.Temporal.ListWorkflow(ctx, req)
		if err != nil {
			return nil, fmt.Errorf("list the session's runs: %w", err)
		}
		execs = append(execs, resp.GetExecutions()...)
		if req.NextPageToken = resp.GetNextPageToken(); len(req.NextPageToken) == 0 {
			break
		}
	}
	slices.SortFunc(execs, func(a, b *workflowpb.WorkflowExecutionInfo) int { // newest first
		return b.GetStartTime().AsTime().Compare(a.GetStartTime().AsTime())
	})
	runs := make([]Run, 0, len(execs))
	for _, e := range execs {
		runs = append(runs, Run{e.GetExecution().GetRunId(), e.GetStatus()})
	}
	return runs, nil
}

// maxTaken and maxTakenBytes bound what a reopened run takes from earlier
// runs (the newest events are kept); what it leaves is still in their
// histories, for a retry.
const (
	maxTaken      = 1000
	maxTakenBytes = 512 << 10
)

// encodedSize is the size of e as JSON, as the default converter records it
// (a payload codec adds a little).
func encodedSize(e workflows.Earlier) int {
	b, err := json.Marshal(e)
	if err != nil {
		return 0
	}
	return len(b)
}

// EarlierRuns is what the run runID, which reopens the session
// workflowID, takes from the session's other runs (workflows.Earlier):
// when the runs that ended before their end first received what they
// held (workflows.FirstReceipts), and what they held that no later run
// received (Redelivery, what a retry hands over). Visibility lists the
// runs; a run it still lists as open has closed (runID is the open one)
// and is described for its status. When no run ended before its end (a
// late webhook after a session that closed on its own), nothing but the
// listing is read. A run whose history the namespace's retention deleted
// has nothing left to give.
func (o *Operator) EarlierRuns(ctx context.Context, workflowID, runID string) (workflows.Earlier, error) {
	var out workflows.Earlier
	listed, err := o.listRuns(ctx, workflowID)
	if err != nil {
		return out, err
	}
	if !slices.ContainsFunc(listed, func(r Run) bool { return r.ID != runID }) {
		// The receiver saw a closed run of the session, so visibility
		// has yet to list it (it writes a run's record shortly after the
		// run starts): the activity tries again. (The reopened run itself
		// may not be listed yet either; that is no reason to wait.)
		return out, errors.New("visibility does not list the session's closed run yet")
	}
	var runs []Run
	ended := false
	for _, r := range listed {
		if r.ID == runID {
			continue
		}
		if r.Status == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			d, err := o.Temporal.DescribeWorkflowExecution(ctx, workflowID, r.ID)
			var notFound *serviceerror.NotFound
			if errors.As(err, &notFound) {
				continue
			}
			if err != nil {
				return out, fmt.Errorf("describe run %s: %w", r.ID, err)
			}
			r.Status = d.GetWorkflowExecutionInfo().GetStatus()
		}
		runs = append(runs, r)
		ended = ended || endedBeforeEnd(r.Status)
	}
	if !ended {
		return out, nil
	}
	type read struct {
		in      workflows.Input
		signals []workflows.Event
	}
	histories := map[string]read{}
	history := func(id string) (read, error) {
		if h, ok := histories[id]; ok {
			return h, nil
		}
		in, signals, err := o.history(ctx, workflowID, id, func(what string, err error) {
			o.Log.Warn("reading a session's earlier run: left out what cannot be decoded", "workflow_id", workflowID, "run_id", id, "what", what, "error", err)
		})
		var notFound *serviceerror.NotFound
		if err != nil && !errors.As(err, &notFound) {
			return read{}, err
		}
		histories[id] = read{in, signals}
		return histories[id], nil
	}
	_, out.Events, err = Redelivery(runs, func(id string) ([]workflows.Event, error) {
		h, err := history(id)
		return workflows.HeldEvents(h.in, h.signals), err
	})
	if err != nil {
		return out, err
	}
	for _, r := range runs {
		if endedBeforeEnd(r.Status) {
			h, err := history(r.ID)
			if err != nil {
				return out, err
			}
			out.Merge(workflows.FirstReceipts(h.in, h.signals))
		}
	}
	if len(out.Events) > maxTaken {
		out.Events = out.Events[len(out.Events)-maxTaken:]
	}
	out.Untimed = newestReceipts(out.Untimed, maxTaken)
	// The answer is recorded in the run's history as one marker, which
	// Temporal refuses past its payload limit (2 MB by default): keep it
	// well under, the newest events first.
	for len(out.Events) > 0 && encodedSize(out) > maxTakenBytes {
		out.Events = out.Events[max(1, len(out.Events)/10):]
	}
	for len(out.Untimed) > 0 && encodedSize(out) > maxTakenBytes {
		out.Untimed = newestReceipts(out.Untimed, len(out.Untimed)*9/10)
	}
	return out, nil
}

// newestReceipts keeps the n latest of receipts: it bounds what a run
// carries. An untimed decision or screening of the ended runs beyond that
// (a session with more than n of them) that comes again is ordered by its
// later receipt.
func newestReceipts(receipts map[string]time.Time, n int) map[string]time.Time {
	if len(receipts) <= n {
		return receipts
	}
	ids := slices.Collect(maps.Keys(receipts))
	slices.SortFunc(ids, func(a, b string) int { return receipts[b].Compare(receipts[a]) })
	for _, id := range ids[n:] {
		delete(receipts, id)
	}
	return receipts
}

// endedBeforeEnd reports whether a run with status s ended before its end:
// in error, terminated, cancelled or timed out, with what it held unwritten.
func endedBeforeEnd(s enumspb.WorkflowExecutionStatus) bool {
	switch s {
	case enumspb.WORKFLOW_EXECUTION_STATUS_FAILED, enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED,
		enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED, enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT:
		return true
	}
	return false
}

// held is every event the session's run runID held (workflows.HeldEvents):
// what its start input carried over and the webhooks it received, read
// from its history.
func (o *Operator) held(ctx context.Context, workflowID, runID string) ([]workflows.Event, error) {
	in, signals, err := o.history(ctx, workflowID, runID, nil)
	if err != nil {
		return nil, err
	}
	return workflows.HeldEvents(in, signals), nil
}

// history is the start input of the session's run runID and the webhooks
// it received, read from its history. A payload it cannot decode is an
// error, unless skip is set: then it is left out (an event sent by hand
// in the wrong shape, which the run could not read either) and skip
// reports it.
func (o *Operator) history(ctx context.Context, workflowID, runID string, skip func(what string, err error)) (workflows.Input, []workflows.Event, error) {
	dc := o.Data
	if dc == nil {
		dc = converter.GetDefaultDataConverter()
	}
	var in workflows.Input
	var signals []workflows.Event
	it := o.Temporal.GetWorkflowHistory(ctx, workflowID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return in, nil, fmt.Errorf("read history: %w", err)
		}
		if a := ev.GetWorkflowExecutionStartedEventAttributes(); a != nil {
			if err := dc.FromPayloads(a.GetInput(), &in); err != nil {
				if skip == nil {
					return in, nil, fmt.Errorf("read the run's input: %w", err)
				}
				in = workflows.Input{}
				skip("the run's input", err)
			}
		}
		if a := ev.GetWorkflowExecutionSignaledEventAttributes(); a != nil && a.GetSignalName() == workflows.SignalEvent {
			var e workflows.Event
			if err := dc.FromPayloads(a.GetInput(), &e); err != nil {
				if skip == nil {
					return in, nil, fmt.Errorf("read a webhook the run received: %w", err)
				}
				skip("a webhook the run received", err)
				continue
			}
			signals = append(signals, e)
		}
		if taken := takenEvents(dc, ev.GetMarkerRecordedEventAttributes()); len(taken) > 0 {
			signals = append(signals, taken...)
		}
	}
	return in, signals, nil
}

// takenEvents is what a reopened run took from the session's earlier runs
// (workflows.Earlier.Events), read from m when m is that local activity's
// marker: the run received them as surely as its signals, so a retry does
// not hand them again, nor a later reopened run take them again. The
// marker is the SDK's (a "data" payload naming the activity type, a
// "result" payload); one it cannot read gives nothing, and the events are
// handed again at worst, a repeat.
func takenEvents(dc converter.DataConverter, m *historypb.MarkerRecordedEventAttributes) []workflows.Event {
	if m.GetMarkerName() != "LocalActivity" || m.GetFailure() != nil {
		return nil
	}
	var data struct{ ActivityType string }
	details := m.GetDetails()
	if dc.FromPayloads(details["data"], &data) != nil || data.ActivityType != workflows.EarlierRunsActivity || details["result"] == nil {
		return nil
	}
	var e workflows.Earlier
	if dc.FromPayloads(details["result"], &e) != nil {
		return nil
	}
	return e.Events
}

// StatusWord is a run's status as a word: running, failed, completed, …
func StatusWord(s enumspb.WorkflowExecutionStatus) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "WORKFLOW_EXECUTION_STATUS_"))
}

// scanLimit bounds the runs one listing reads from visibility.
const scanLimit = 5000

// Sessions lists the sessions f selects, oldest first, each with why;
// truncated reports a listing cut at MaxTargets (or scanLimit runs read).
func (o *Operator) Sessions(ctx context.Context, f Filter) (out []Session, truncated bool, err error) {
	cutoff := time.Time{}
	if f.OlderThan > 0 {
		cutoff = o.now().Add(-f.OlderThan)
	}
	seen := map[string]bool{}
	candidates, truncated, err := o.scan(ctx, visibilityQuery(f, cutoff), seen)
	if err != nil {
		return nil, false, err
	}
	// began holds, for a session found by an older run, when that run
	// started: a reset run's own start (and its state's) is the reset.
	began := map[string]time.Time{}
	if (f.State == StateWaiting || f.State == StatePolling) && !cutoff.IsZero() && !truncated {
		// A session that continued as new, or was reset, since the cutoff
		// has an open run that started after it, though the session began
		// before: the run it closed across the cutoff names it, and its
		// open run is read instead.
		older, more, err := o.scan(ctx, handedOverQuery(f, cutoff), seen)
		if err != nil {
			return nil, false, err
		}
		truncated = more
		for _, e := range older {
			id := e.GetExecution().GetWorkflowId()
			d, err := o.Temporal.DescribeWorkflowExecution(ctx, id, "")
			if err == nil && d.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
				candidates = append(candidates, d.GetWorkflowExecutionInfo())
				began[id] = e.GetStartTime().AsTime()
			}
		}
	}
	// Each candidate is looked at closer (its state, its pending work),
	// eight at a time.
	results := make([]*Session, len(candidates))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i, e := range candidates {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			results[i] = o.inspect(ctx, f, e, began[e.GetExecution().GetWorkflowId()])
		}()
	}
	wg.Wait()
	for _, s := range results {
		if s != nil {
			out = append(out, *s)
		}
	}
	slices.SortFunc(out, func(a, b Session) int {
		if c := a.StartedAt.Compare(b.StartedAt); c != 0 {
			return c
		}
		return strings.Compare(a.WorkflowID, b.WorkflowID)
	})
	if len(out) > MaxTargets {
		out, truncated = out[:MaxTargets], true
	}
	return out, truncated, nil
}

// scan reads the runs q finds, the newest of each session not yet seen,
// up to scanLimit sessions in all.
func (o *Operator) scan(ctx context.Context, q string, seen map[string]bool) (found []*workflowpb.WorkflowExecutionInfo, truncated bool, err error) {
	var token []byte
	for {
		resp, err := o.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: o.Namespace, Query: q, PageSize: 500, NextPageToken: token,
		})
		if err != nil {
			return nil, false, fmt.Errorf("list sessions (%s): %w", q, err)
		}
		for _, e := range resp.GetExecutions() {
			// Visibility lists every run; the newest of each session
			// comes first (ORDER BY StartTime DESC is its default).
			if id := e.GetExecution().GetWorkflowId(); !seen[id] {
				seen[id] = true
				found = append(found, e)
			}
		}
		token = resp.GetNextPageToken()
		if len(token) == 0 {
			return found, false, nil
		}
		if len(seen) >= scanLimit {
			return found, true, nil
		}
	}
}

// visibilityQuery is the query that finds f's candidates; inspect decides.
// older_than is asked of visibility (the run's start), so a listing of old
// sessions reads old runs, however many new ones there are.
func visibilityQuery(f Filter, cutoff time.Time) string {
	switch f.State {
	case StateWaiting, StatePolling, StateStuck:
		// Waiting for a decision, or for the final one after a non-final
		// (review, resubmission_requested): the state query tells.
		return queryOf(f, cutoff, `ExecutionStatus = "Running"`)
	case StateFailed:
		return queryOf(f, cutoff, fmt.Sprintf("%s = %q", workflows.AttrStatus.GetName(), workflows.StatusError))
	}
	return queryOf(f, cutoff)
}

// handedOverQuery finds the runs that started before the cutoff and
// handed their session over to a newer run after it: continued as new, or
// terminated by a reset (or by hand: the session's newest run decides).
func handedOverQuery(f Filter, cutoff time.Time) string {
	return queryOf(f, cutoff, `(ExecutionStatus = "ContinuedAsNew" OR ExecutionStatus = "Terminated")`,
		fmt.Sprintf("CloseTime >= %q", visibilityTime(cutoff)))
}

// queryOf is a visibility query of session runs: of f's provider, with
// clauses, started before cutoff (if set), narrowed by f's own query.
func queryOf(f Filter, cutoff time.Time, clauses ...string) string {
	parts := []string{fmt.Sprintf("WorkflowType = %q", workflows.WorkflowName)}
	if f.Provider != "" {
		parts = append(parts, fmt.Sprintf("%s = %q", workflows.AttrProvider.GetName(), f.Provider))
	}
	parts = append(parts, clauses...)
	if !cutoff.IsZero() {
		parts = append(parts, fmt.Sprintf("StartTime < %q", visibilityTime(cutoff)))
	}
	if f.Query != "" {
		parts = append(parts, "("+f.Query+")")
	}
	return strings.Join(parts, " AND ")
}

// visibilityTime is t as a visibility query's time literal.
func visibilityTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// inspect returns e as a listed session if it is in f's state, or nil;
// began, if set, is when an older run of the session started.
func (o *Operator) inspect(ctx context.Context, f Filter, e *workflowpb.WorkflowExecutionInfo, began time.Time) *Session {
	id := e.GetExecution().GetWorkflowId()
	provider, sessionID, _ := strings.Cut(id, ":")
	// Whatever the caller's query says, only sessions are listed.
	if e.GetType().GetName() != workflows.WorkflowName || (o.Providers != nil && !o.Providers[provider]) {
		return nil
	}
	s := &Session{
		Provider: provider, SessionID: sessionID, WorkflowID: id, RunID: e.GetExecution().GetRunId(),
		State: f.State, StartedAt: e.GetStartTime().AsTime(),
	}
	switch f.State {
	case StateWaiting, StatePolling:
		st, err := o.state(ctx, id, "")
		if err != nil {
			// Visibility still tells a decided session from a waiting one.
			if v := visibleStatus(e); v.Final() || v == workflows.StatusError {
				return nil
			}
			s.Why = "no final decision in visibility; the session cannot answer its state query (" + err.Error() + ")"
			return s
		}
		// The session's own start, across continued runs (a reset run
		// starts its state's clock again: an older run's start is earlier).
		s.StartedAt, s.NextStep, s.NextStepAt = st.StartedAt, st.NextStep, st.NextStepAt
		if !began.IsZero() && began.Before(s.StartedAt) {
			s.StartedAt = began
		}
		// Visibility's cutoff is the run's start; the session's may be
		// later (its state) or earlier (an older run).
		age := o.now().Sub(s.StartedAt)
		if (f.OlderThan > 0 && age < f.OlderThan) || st.Decision.Final() || st.Status == workflows.StatusError || (f.State == StatePolling && st.Polls == 0) {
			return nil
		}
		since := fmt.Sprintf("since %s (%s)", s.StartedAt.Format(time.RFC3339), age.Round(time.Second))
		s.Why = "no decision " + since
		if st.Decision != "" {
			// R1: a non-final decision keeps the session waiting for its verdict.
			s.Why = "no final decision " + since + "; the provider said " + string(st.Decision)
		}
		if st.Polls > 0 {
			s.Why += fmt.Sprintf("; the provider's API asked %d times", st.Polls)
		}
		if st.NextStep != "" {
			s.Why += "; next: " + st.NextStep
		}
		return s
	case StateFailed:
		// older_than was asked of visibility (the run's start).
		if e.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_FAILED {
			return nil
		}
		// The session may have started again since (a later webhook):
		// only a session whose newest run failed is listed.
		d, err := o.Temporal.DescribeWorkflowExecution(ctx, id, "")
		if err != nil || d.GetWorkflowExecutionInfo().GetExecution().GetRunId() != s.RunID {
			return nil
		}
		s.Why = "ended in error: " + o.failure(ctx, id, s.RunID)
		return s
	case StateStuck:
		if why := o.stuck(ctx, e); why != "" {
			s.Why = why
			return s
		}
	}
	return nil
}

// visibleStatus is the session status visibility holds for e (IdvStatus).
func visibleStatus(e *workflowpb.WorkflowExecutionInfo) workflows.Status {
	var v string
	if p := e.GetSearchAttributes().GetIndexedFields()[workflows.AttrStatus.GetName()]; p != nil {
		_ = converter.GetDefaultDataConverter().FromPayload(p, &v)
	}
	return workflows.Status(v)
}

// state asks a session's run (its newest, runID "") for its state.
func (o *Operator) state(ctx context.Context, workflowID, runID string) (workflows.SessionState, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var st workflows.SessionState
	v, err := o.Temporal.QueryWorkflow(ctx, workflowID, runID, workflows.QueryState)
	if err == nil {
		err = v.Get(&st)
	}
	return st, err
}

// failure is the reason run ended in error, from its closing event.
func (o *Operator) failure(ctx context.Context, workflowID, runID string) string {
	it := o.Temporal.GetWorkflowHistory(ctx, workflowID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			break
		}
		if a := ev.GetWorkflowExecutionFailedEventAttributes(); a != nil {
			return a.GetFailure().GetMessage()
		}
	}
	return "(reason not readable)"
}

// stuck says why e's session is stuck, or "": Temporal reports its
// workflow task failing again and again, or one of its activities is
// retrying for the StuckAttempts-th time or more.
func (o *Operator) stuck(ctx context.Context, e *workflowpb.WorkflowExecutionInfo) string {
	min := o.StuckAttempts
	if min <= 0 {
		min = 3
	}
	var problems []string
	if p := e.GetSearchAttributes().GetIndexedFields()["TemporalReportedProblems"]; p != nil {
		var list []string
		if converter.GetDefaultDataConverter().FromPayload(p, &list) == nil && len(list) > 0 {
			problems = append(problems, "workflow task failing ("+strings.Join(list, "; ")+")")
		}
	}
	d, err := o.Temporal.DescribeWorkflowExecution(ctx, e.GetExecution().GetWorkflowId(), e.GetExecution().GetRunId())
	if err != nil {
		return strings.Join(problems, "; ")
	}
	if wt := d.GetPendingWorkflowTask(); wt != nil && wt.GetAttempt() >= min && len(problems) == 0 {
		problems = append(problems, fmt.Sprintf("workflow task on attempt %d", wt.GetAttempt()))
	}
	for _, a := range d.GetPendingActivities() {
		if a.GetAttempt() >= min {
			why := fmt.Sprintf("activity %s on attempt %d", a.GetActivityType().GetName(), a.GetAttempt())
			if msg := a.GetLastFailure().GetMessage(); msg != "" {
				why += ": " + msg
			}
			problems = append(problems, why)
		}
	}
	return strings.Join(problems, "; ")
}
