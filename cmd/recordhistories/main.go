// Command recordhistories runs every workflow scenario on a real Temporal
// server in this process (through the real receiver, worker, emulator and
// user store) and writes each run's event history as JSON, for the replay
// tests in package workflows:
//
//	go run ./cmd/recordhistories -out testdata/histories/v1.0
//
// The 1.0 set is recorded once, from the 1.0 code: every later change to
// the workflows must replay it (behind workflow.GetVersion, or shipped as
// a new Worker Deployment version; docs/extending.md). A scenario added
// later is recorded into a folder of its own, beside v1.0.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"golang.org/x/sync/errgroup"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/idvflow/idvflow/internal/version"
	"github.com/idvflow/idvflow/onboarding"
	"github.com/idvflow/idvflow/operator"
	"github.com/idvflow/idvflow/providers/passbase"
	"github.com/idvflow/idvflow/providers/sim"
	"github.com/idvflow/idvflow/providers/veriff"
	"github.com/idvflow/idvflow/receiver"
	"github.com/idvflow/idvflow/testkit"
	"github.com/idvflow/idvflow/workflows"
)

func main() {
	version.ExitIfAsked("recordhistories")
	gin.SetMode(gin.ReleaseMode)
	out := flag.String("out", "", "directory for the history files (created)")
	only := flag.String("only", "", "record only these scenarios (comma-separated names): one added to a release's set")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "recordhistories: -out is required")
		os.Exit(2)
	}
	chosen := scenarios
	if *only != "" {
		names := strings.Split(*only, ",")
		chosen = slices.DeleteFunc(slices.Clone(scenarios), func(sc scenario) bool { return !slices.Contains(names, sc.name) })
		if len(chosen) != len(names) {
			fmt.Fprintln(os.Stderr, "recordhistories: -only names an unknown scenario")
			os.Exit(2)
		}
	}
	if err := record(context.Background(), *out, chosen); err != nil {
		fmt.Fprintln(os.Stderr, "recordhistories:", err)
		os.Exit(1)
	}
}

// Timings short enough for every scenario to end within seconds; each run
// records them in its history, so replay does not depend on them.
func timings() workflows.Config {
	return workflows.Config{
		ProcessedGrace:    time.Second,
		DecisionPollAfter: 2 * time.Second,
		PollInterval:      time.Second,
		PollMaxInterval:   2 * time.Second,
		SessionExpiry:     6 * time.Second,
		LateEventWindow:   2 * time.Second,
	}
}

func record(ctx context.Context, dir string, scenarios []scenario) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// Onboarding runs close five seconds after their last step; the review
	// gate holds declines, so one scenario records a person's answer.
	st, err := testkit.Start(ctx, testkit.Options{Workflow: timings(),
		Env: map[string]string{"IDV_ONBOARDING_IDLE": "5s", "IDV_REVIEW_STATUSES": "declined"}})
	if err != nil {
		return err
	}
	defer st.Close()

	var wg sync.WaitGroup
	errs := make(chan error, len(scenarios))
	for _, sc := range scenarios {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := recordOne(ctx, st, sc, dir); err != nil {
				errs <- fmt.Errorf("%s: %w", sc.name, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return err
	}
	return nil
}

func recordOne(ctx context.Context, st *testkit.Stack, sc scenario, dir string) error {
	wid, err := sc.run(ctx, st)
	if err != nil {
		return err
	}
	if err := st.WaitClosed(ctx, wid, time.Minute); err != nil {
		return err
	}
	// The run that closed, then each run it continued from: a run that
	// continued as new is a shape of its own to replay.
	runID, name := "", sc.name
	for n := 1; ; n++ {
		h, err := history(ctx, st, wid, runID)
		if err != nil {
			return err
		}
		if err := write(dir, name, h); err != nil {
			return err
		}
		runID = h.GetEvents()[0].GetWorkflowExecutionStartedEventAttributes().GetContinuedExecutionRunId()
		if runID == "" {
			return nil
		}
		name = fmt.Sprintf("%s.before-%d", sc.name, n)
	}
}

// history is the event history of run runID of workflow wid ("" for its
// newest run).
func history(ctx context.Context, st *testkit.Stack, wid, runID string) (*historypb.History, error) {
	it := st.Temporal.GetDefaultClient().GetWorkflowHistory(ctx, wid, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var h historypb.History
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return nil, err
		}
		h.Events = append(h.Events, e)
	}
	if len(h.Events) == 0 {
		return nil, fmt.Errorf("%s: empty history", wid)
	}
	return &h, nil
}

// write writes h as dir/name.json, indented so the files are stable to diff.
func write(dir, name string, h *historypb.History) error {
	b, err := protojson.MarshalOptions{Indent: "  "}.Marshal(h)
	if err != nil {
		return err
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	b, _ = json.MarshalIndent(v, "", "  ")
	path := filepath.Join(dir, name+".json")
	fmt.Printf("%-40s %4d events -> %s\n", name, len(h.Events), path)
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// scenario drives one session (or a user's onboarding) and returns the
// workflow ID whose history it records.
type scenario struct {
	name string
	run  func(context.Context, *testkit.Stack) (string, error)
}

func send(ctx context.Context, st *testkit.Stack, provider string, bodies ...[]byte) error {
	for _, b := range bodies {
		code, answer, err := st.Target.Send(ctx, provider, b)
		if err != nil {
			return err
		}
		if code != 200 {
			return fmt.Errorf("%s webhook: %d %s", provider, code, answer)
		}
	}
	return nil
}

func veriffSession(st *testkit.Stack, status string, at time.Time) (id, attempt string) {
	id, attempt = sim.NewUUID(), sim.NewUUID()
	v, _ := json.Marshal(veriff.Verification(id, attempt, "u-"+id[:8], status, at))
	st.Emulator.Put(veriff.Name, id, v)
	return id, attempt
}

func passbaseSession(st *testkit.Stack, status string, created, updated time.Time) string {
	key := sim.NewUUID()
	st.Emulator.Put(passbase.Name, key, passbase.IdentityObject(key, "u-"+key[:8], status, created, updated))
	return key
}

var t0 = time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)

var scenarios = []scenario{
	{"veriff-approved", func(ctx context.Context, st *testkit.Stack) (string, error) {
		id, att := veriffSession(st, "approved", t0)
		return workflows.WorkflowID(veriff.Name, id), send(ctx, st, veriff.Name, veriff.DecisionBody(id, att, "u-"+id[:8], "approved", t0))
	}},
	{"veriff-events-decision-screening", func(ctx context.Context, st *testkit.Stack) (string, error) {
		id, att := veriffSession(st, "declined", t0)
		u := "u-" + id[:8]
		return workflows.WorkflowID(veriff.Name, id), send(ctx, st, veriff.Name,
			veriff.EventBody(id, att, u, veriff.Started), veriff.EventBody(id, att, u, veriff.Submitted),
			veriff.DecisionBody(id, att, u, "declined", t0), veriff.ScreeningBody(id, att, u, "initial_result", "no_match", t0))
	}},
	{"veriff-resubmission-then-approved", func(ctx context.Context, st *testkit.Stack) (string, error) {
		id, att := veriffSession(st, "approved", t0.Add(time.Hour))
		u := "u-" + id[:8]
		if err := send(ctx, st, veriff.Name, veriff.DecisionBody(id, att, u, "resubmission_requested", t0)); err != nil {
			return "", err
		}
		time.Sleep(500 * time.Millisecond)
		return workflows.WorkflowID(veriff.Name, id), send(ctx, st, veriff.Name, veriff.DecisionBody(id, sim.NewUUID(), u, "approved", t0.Add(time.Hour)))
	}},
	{"veriff-older-decision-after-newer", func(ctx context.Context, st *testkit.Stack) (string, error) {
		id, att := veriffSession(st, "approved", t0.Add(time.Hour))
		u := "u-" + id[:8]
		return workflows.WorkflowID(veriff.Name, id), send(ctx, st, veriff.Name,
			veriff.DecisionBody(id, att, u, "approved", t0.Add(time.Hour)), veriff.DecisionBody(id, sim.NewUUID(), u, "review", t0))
	}},
	{"veriff-untimed-decision", func(ctx context.Context, st *testkit.Stack) (string, error) {
		id, att := veriffSession(st, "approved", t0)
		return workflows.WorkflowID(veriff.Name, id), send(ctx, st, veriff.Name, veriff.DecisionBody(id, att, "u-"+id[:8], "approved", time.Time{}))
	}},
	{"veriff-decision-found-by-polling", func(ctx context.Context, st *testkit.Stack) (string, error) {
		id, att := veriffSession(st, "approved", t0)
		return workflows.WorkflowID(veriff.Name, id), send(ctx, st, veriff.Name, veriff.EventBody(id, att, "u-"+id[:8], veriff.Started))
	}},
	{"veriff-late-event-after-decision", func(ctx context.Context, st *testkit.Stack) (string, error) {
		// The decided session's run closes; a late "started" event starts
		// a run (the one recorded) that asks the store first and closes.
		id, att := veriffSession(st, "approved", t0)
		u := "u-" + id[:8]
		wid := workflows.WorkflowID(veriff.Name, id)
		if err := send(ctx, st, veriff.Name, veriff.DecisionBody(id, att, u, "approved", t0)); err != nil {
			return "", err
		}
		if err := st.WaitClosed(ctx, wid, time.Minute); err != nil {
			return "", err
		}
		return wid, send(ctx, st, veriff.Name, veriff.EventBody(id, att, u, veriff.Started))
	}},
	{"veriff-reopened-after-terminated", func(ctx context.Context, st *testkit.Stack) (string, error) {
		// The session's first run is terminated while it waits; the next
		// webhook, an untimed decision, starts a run marked Reopened (the
		// one recorded), which reads when the terminated run received what
		// it held before it acts.
		id, att := veriffSession(st, "approved", t0)
		u := "u-" + id[:8]
		wid := workflows.WorkflowID(veriff.Name, id)
		if err := send(ctx, st, veriff.Name, veriff.EventBody(id, att, u, veriff.Started)); err != nil {
			return "", err
		}
		if err := st.Temporal.GetDefaultClient().TerminateWorkflow(ctx, wid, "", "recordhistories: a run that ended before its end"); err != nil {
			return "", err
		}
		return wid, send(ctx, st, veriff.Name, veriff.DecisionBody(id, att, u, "approved", time.Time{}))
	}},
	{"veriff-review-then-expired", func(ctx context.Context, st *testkit.Stack) (string, error) {
		id, att := veriffSession(st, "review", t0)
		return workflows.WorkflowID(veriff.Name, id), send(ctx, st, veriff.Name, veriff.DecisionBody(id, att, "u-"+id[:8], "review", t0))
	}},
	{"passbase-processed-then-approved-repeated", func(ctx context.Context, st *testkit.Stack) (string, error) {
		key := passbaseSession(st, "approved", t0, t0.Add(2*time.Minute))
		p := passbase.ProcessedBody(passbase.VocabularyNew, key, "", "pending", t0, t0.Add(time.Minute))
		r := passbase.ReviewedBody(passbase.VocabularyNew, key, "", "approved", t0, t0.Add(2*time.Minute))
		return workflows.WorkflowID(passbase.Name, key), send(ctx, st, passbase.Name, p, p, r, p, r, r)
	}},
	{"passbase-decision-without-processed", func(ctx context.Context, st *testkit.Stack) (string, error) {
		key := passbaseSession(st, "approved", t0, t0.Add(2*time.Minute))
		return workflows.WorkflowID(passbase.Name, key), send(ctx, st, passbase.Name,
			passbase.ReviewedBody(passbase.VocabularyLegacy, key, "u-"+key[:8], "approved", t0, t0.Add(2*time.Minute)))
	}},
	{"passbase-approved-then-rereviewed-declined", func(ctx context.Context, st *testkit.Stack) (string, error) {
		key := passbaseSession(st, "declined", t0, t0.Add(time.Hour))
		u := "u-" + key[:8]
		if err := send(ctx, st, passbase.Name,
			passbase.ProcessedBody(passbase.VocabularyLegacy, key, u, "", t0, t0.Add(time.Minute)),
			passbase.ReviewedBody(passbase.VocabularyLegacy, key, u, "approved", t0, t0.Add(2*time.Minute))); err != nil {
			return "", err
		}
		time.Sleep(700 * time.Millisecond)
		return workflows.WorkflowID(passbase.Name, key), send(ctx, st, passbase.Name,
			passbase.ReviewedBody(passbase.VocabularyLegacy, key, u, "declined", t0, t0.Add(time.Hour)))
	}},
	{"passbase-older-decision-after-newer", func(ctx context.Context, st *testkit.Stack) (string, error) {
		key := passbaseSession(st, "declined", t0, t0.Add(time.Hour))
		return workflows.WorkflowID(passbase.Name, key), send(ctx, st, passbase.Name,
			passbase.ProcessedBody(passbase.VocabularyNew, key, "", "pending", t0, t0.Add(time.Minute)),
			passbase.ReviewedBody(passbase.VocabularyNew, key, "", "declined", t0, t0.Add(time.Hour)),
			passbase.ReviewedBody(passbase.VocabularyNew, key, "", "approved", t0, t0.Add(30*time.Minute)))
	}},
	{"passbase-identity-not-found", func(ctx context.Context, st *testkit.Stack) (string, error) {
		key := sim.NewUUID() // never registered at the emulator: 404
		return workflows.WorkflowID(passbase.Name, key), send(ctx, st, passbase.Name,
			passbase.ProcessedBody(passbase.VocabularyNew, key, "", "pending", t0, t0.Add(time.Minute)),
			passbase.ReviewedBody(passbase.VocabularyNew, key, "", "approved", t0, t0.Add(2*time.Minute)))
	}},
	{"onboarding-approved-then-declined-reviewed", func(ctx context.Context, st *testkit.Stack) (string, error) {
		// The user's onboarding: the approval notified, the re-review's
		// decline held at the review gate until a person passes it.
		id, att := veriffSession(st, "declined", t0.Add(time.Hour))
		u := "u-" + id[:8]
		if err := send(ctx, st, veriff.Name, veriff.DecisionBody(id, att, u, "approved", t0)); err != nil {
			return "", err
		}
		// The decline comes once the approval's run idles: its idle timer
		// is cancelled by the change, as in a user's life.
		time.Sleep(2 * time.Second)
		if err := send(ctx, st, veriff.Name, veriff.DecisionBody(id, att, u, "declined", t0.Add(time.Hour))); err != nil {
			return "", err
		}
		wid := onboarding.WorkflowID(st.Activities.UserRef.Value(u))
		c := st.Temporal.GetDefaultClient()
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			var ob onboarding.State
			if v, err := c.QueryWorkflow(ctx, wid, "", onboarding.QueryState); err == nil && v.Get(&ob) == nil &&
				ob.Waiting == onboarding.StepReview && ob.Current.Status == "declined" {
				h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: wid, UpdateName: onboarding.UpdateReview,
					Args:         []any{onboarding.Review{ChangeID: ob.Current.ID, Outcome: onboarding.ReviewPassed, Reviewer: "officer-7"}},
					WaitForStage: client.WorkflowUpdateStageCompleted})
				if err == nil {
					err = h.Get(ctx, nil)
				}
				return wid, err
			}
			if time.Now().After(deadline) {
				return "", fmt.Errorf("onboarding %s never waited for review of the decline", wid)
			}
		}
	}},
	{"onboarding-terminated-then-next-change", func(ctx context.Context, st *testkit.Stack) (string, error) {
		// The user's onboarding is terminated while a decline waits at the
		// review gate; a later session's approval starts the run recorded,
		// whose first take reads what the store owes: the decline, which
		// orders first, waits at the gate again until the approval, a
		// newer verdict, supersedes it.
		id, att := veriffSession(st, "declined", t0)
		u := "u-" + id[:8]
		if err := send(ctx, st, veriff.Name, veriff.DecisionBody(id, att, u, "declined", t0)); err != nil {
			return "", err
		}
		wid := onboarding.WorkflowID(st.Activities.UserRef.Value(u))
		c := st.Temporal.GetDefaultClient()
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			var ob onboarding.State
			if v, err := c.QueryWorkflow(ctx, wid, "", onboarding.QueryState); err == nil && v.Get(&ob) == nil && ob.Waiting == onboarding.StepReview {
				break
			}
			if time.Now().After(deadline) {
				return "", fmt.Errorf("onboarding %s never waited for review of the decline", wid)
			}
		}
		d, err := c.DescribeWorkflowExecution(ctx, wid, "")
		if err != nil {
			return "", err
		}
		terminated := d.GetWorkflowExecutionInfo().GetExecution().GetRunId()
		if err := c.TerminateWorkflow(ctx, wid, terminated, "recordhistories: a run that ended before its end"); err != nil {
			return "", err
		}
		id2, att2 := veriffSession(st, "approved", t0.Add(time.Hour))
		if err := send(ctx, st, veriff.Name, veriff.DecisionBody(id2, att2, u, "approved", t0.Add(time.Hour))); err != nil {
			return "", err
		}
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			if d, err := c.DescribeWorkflowExecution(ctx, wid, ""); err == nil && d.GetWorkflowExecutionInfo().GetExecution().GetRunId() != terminated {
				return wid, nil
			}
			if time.Now().After(deadline) {
				return "", fmt.Errorf("onboarding %s: no run after the terminated one", wid)
			}
		}
	}},
	{"veriff-continued-as-new", func(ctx context.Context, st *testkit.Stack) (string, error) {
		// The provider repeats itself past the run's signal bound (R10):
		// the session continues as new, and the new run (the one
		// recorded) applies the decision with what the last one carried.
		id, att := sim.NewUUID(), sim.NewUUID()
		st.Emulator.Put(veriff.Name, id, nil) // the API has no decision: the run waits for the webhook
		u := "u-" + id[:8]
		// Signalled straight through the receiver's one Temporal call, by
		// sixteen senders at once, so all of them come well inside the
		// session's six seconds; each event of another attempt.
		c := st.Temporal.GetDefaultClient()
		var g errgroup.Group
		for range 16 {
			g.Go(func() error {
				for range 2100 / 16 {
					ev, err := veriff.Provider{}.Parse(veriff.EventBody(id, sim.NewUUID(), u, veriff.Started))
					if err != nil {
						return err
					}
					ev.ReceivedAt = time.Now().UTC()
					if err := receiver.SignalWithStart(ctx, c, testkit.TaskQueue, ev); err != nil {
						return err
					}
				}
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return "", err
		}
		return workflows.WorkflowID(veriff.Name, id), send(ctx, st, veriff.Name, veriff.DecisionBody(id, att, u, "approved", t0))
	}},
	{"operation-resync", func(ctx context.Context, st *testkit.Stack) (string, error) {
		// A bulk resync of a session whose decision webhook was lost: the
		// operation asks the provider's API and hands the decision over.
		id, att := veriffSession(st, "approved", t0)
		if err := send(ctx, st, veriff.Name, veriff.EventBody(id, att, "u-"+id[:8], veriff.Started)); err != nil {
			return "", err
		}
		req := operator.Request{ID: "record-" + id[:8], Action: operator.ActionResync,
			Targets: []operator.Target{{Provider: veriff.Name, SessionID: id}}, RatePerSecond: 10}
		wid := operator.WorkflowID(req.ID)
		run, err := st.Temporal.GetDefaultClient().ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: wid, TaskQueue: testkit.TaskQueue},
			operator.WorkflowName, req)
		if err != nil {
			return "", err
		}
		return wid, run.Get(ctx, nil)
	}},
	{"passbase-no-decision-expired", func(ctx context.Context, st *testkit.Stack) (string, error) {
		key := passbaseSession(st, "processing", t0, t0)
		return workflows.WorkflowID(passbase.Name, key), send(ctx, st, passbase.Name,
			passbase.ProcessedBody(passbase.VocabularyLegacy, key, "u-"+key[:8], "", t0, t0.Add(time.Minute)))
	}},
}
