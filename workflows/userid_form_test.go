package workflows_test

import (
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/uber-go/tally/v4"
	sdktally "go.temporal.io/sdk/contrib/tally"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/idvflow/idvflow/internal/testlog"
	"github.com/idvflow/idvflow/internal/userref"
	"github.com/idvflow/idvflow/providers/veriff"
	"github.com/idvflow/idvflow/workflows"
)

// recordingForm is a worker's IDV_USER_ID_ATTRIBUTE that records what it
// was told of.
type recordingForm struct {
	userref.Ref
	told []string
}

func (f *recordingForm) FirstMismatch(from string) bool {
	f.told = append(f.told, from)
	return len(f.told) == 1
}

// A receiver and a worker set to different IDV_USER_ID_ATTRIBUTE modes:
// IdvUserId is written in the worker's form only, whatever
// form the receiver started the run and sent its events with; the
// mismatch is counted (idv_user_id_form_mismatch, by the form it came in
// and the worker's mode) and warned of, without the user id. Set alike,
// nothing is counted or said, and nothing more is recorded. (The same mode
// under another IDV_USER_ID_KEY is not told apart: the run has no key to
// compare with.)
func TestUserIDAttributeTakesTheWorkersForm(t *testing.T) {
	const user = "ann@example.com"
	plain := userref.Config{Mode: "plain"}.New()
	hmacA := userref.Config{Mode: "hmac", Key: "k9Jq2LmZ0xVb7RtYc4WnE1sPaHuD6fGo"}.New()
	hmacB := userref.Config{Mode: "hmac", Key: "Zq8wX2cV5bN7mL1kJ4hG6fD9sA3pO0iU"}.New()
	for _, c := range []struct {
		name             string
		receiver, worker userref.Ref
		from             string // "": no mismatch
	}{
		{"receiver plain, worker hmac", plain, hmacA, "plain"},
		{"receiver hmac, worker plain", hmacA, plain, "hmac"},
		{"both hmac, one key", hmacA, hmacA, ""},
		{"both plain", plain, plain, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			scope := tally.NewTestScope("", nil)
			var logs testlog.Buffer
			h := newHarness(t, func(s *testsuite.WorkflowTestSuite) {
				s.SetMetricsHandler(sdktally.NewMetricsHandler(scope))
				s.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			})
			form := &recordingForm{Ref: c.worker}
			h.cfg.UserIDs = form
			h.acts.UserRef = c.worker
			// What the receiver sends: its form of the user, on the start and
			// in each event.
			sent := func(ev workflows.Event) workflows.Event {
				ev.UserRef = c.receiver.Of(ev.UserID)
				return ev
			}
			started := sent(receive(veriff.Name, veriff.EventBody(session, "attempt", user, veriff.Started)))
			decision := sent(receive(veriff.Name, veriff.DecisionBody(session, "attempt", user, "approved", t0)))
			if err := h.env.SetTypedSearchAttributesOnStart(temporal.NewSearchAttributes(
				workflows.AttrProvider.ValueSet(veriff.Name), workflows.AttrStatus.ValueSet("waiting"),
				workflows.AttrUserID.ValueSet(c.receiver.Value(user)))); err != nil {
				t.Fatal(err)
			}
			h.at(0, started)
			h.at(time.Minute, decision)
			v := &workflows.Verification{Config: h.cfg}
			h.env.RegisterWorkflowWithOptions(v.VerificationWorkflow, workflow.RegisterOptions{Name: workflows.WorkflowName})
			shown := c.receiver.Value(user)
			var written []string
			h.env.OnUpsertTypedSearchAttributes(mock.Anything).Return(nil).Run(func(args mock.Arguments) {
				if v, ok := args.Get(0).(temporal.SearchAttributes).GetKeyword(workflows.AttrUserID); ok {
					written = append(written, v)
					shown = v
				}
			})
			h.env.ExecuteWorkflow(workflows.WorkflowName, workflows.Input{Provider: veriff.Name, SessionID: session})
			if !h.env.IsWorkflowCompleted() || h.env.GetWorkflowError() != nil {
				t.Fatalf("run: completed %v, %v", h.env.IsWorkflowCompleted(), h.env.GetWorkflowError())
			}

			want := c.worker.Value(user)
			if shown != want || slices.ContainsFunc(written, func(w string) bool { return w != want }) {
				t.Fatalf("IdvUserId ends as %q after writes %q; want only the worker's form %q", shown, written, want)
			}
			var counted int64
			for _, ctr := range scope.Snapshot().Counters() {
				if ctr.Name() == "idv_user_id_form_mismatch" {
					if tags := ctr.Tags(); tags["from"] != c.from || tags["worker"] != c.worker.Mode() {
						t.Errorf("counted with %v, want from=%s worker=%s", tags, c.from, c.worker.Mode())
					}
					counted += ctr.Value()
				}
			}
			warned := strings.Count(logs.String(), "IDV_USER_ID_ATTRIBUTE")
			if c.from == "" {
				if counted != 0 || len(form.told) != 0 || warned != 0 {
					t.Fatalf("set alike: counted %d, told %q, warned %d times; want nothing", counted, form.told, warned)
				}
				return
			}
			if counted != 1 || !slices.Equal(form.told, []string{c.from}) || warned != 1 {
				t.Fatalf("counted %d, told %q, warned %d times; want 1, [%s], 1", counted, form.told, warned, c.from)
			}
			if strings.Contains(logs.String(), user) || strings.Contains(logs.String(), hmacA.Of(user)) || strings.Contains(logs.String(), hmacB.Of(user)) {
				t.Fatalf("a log line names the user:\n%s", logs.String())
			}
		})
	}
}
